"""clone, clone3, fork, vfork exit events: both the caller (res = child tid) and the
child (res = 0) side, as upstream's parse_clone_exit_caller/child.

The caller side creates the child row when the child is in the caller's pid
namespace (the child's own event may come later or be dropped); the child side
creates or refreshes it from the child's view (vtid/vpid, pidns start). A
thread (CLONE_THREAD) shares the process fd table and cwd; a process created
with CLONE_FILES shares the caller's fd table; otherwise the fd table is copied.
"""

from __future__ import annotations

from libscap.schema import PPME

from libsinsp.parsers._common import (
    CL_CHILD_IN_PIDNS, CL_CLONE_FILES, CL_CLONE_INVERTED, CL_CLONE_NEWPID, CL_CLONE_PARENT,
    CL_CLONE_THREAD, CL_CLONE_VFORK, param, pos, set_memory_stats, split_cgroups, split_strings,
)
from libsinsp.threadinfo import ThreadInfo

_P = {n: pos("SYSCALL_CLONE_20_X", n) for n in (
    "res", "exe", "args", "pid", "ptid", "fdlimit", "pgft_maj", "pgft_min", "vm_size", "vm_rss",
    "vm_swap", "comm", "cgroups", "flags", "uid", "gid", "vtid", "vpid", "pidns_init_start_ts")}
#: upstream's CLONE_STALE_TIME_NS: a child event this soon after the row was made is a duplicate
CLONE_STALE_TIME_NS = 2 * 10**9


def _copy_image(child: ThreadInfo, src: ThreadInfo) -> None:
    """What a new thread inherits from the thread it was cloned from."""
    child.exepath = src.exepath
    child.exe_writable = src.exe_writable
    child.exe_upper_layer = src.exe_upper_layer
    child.exe_lower_layer = src.exe_lower_layer
    child.exe_from_memfd = src.exe_from_memfd
    child.root = src.root
    child.sid = src.sid
    child.vpgid = src.vpgid
    child.pgid = src.pgid
    child.tty = src.tty
    child.loginuid = src.loginuid
    child.cap_permitted = src.cap_permitted
    child.cap_inheritable = src.cap_inheritable
    child.cap_effective = src.cap_effective
    child.exe_ino = src.exe_ino
    child.exe_ino_ctime = src.exe_ino_ctime
    child.exe_ino_mtime = src.exe_ino_mtime
    if not child.cgroups:
        child.cgroups = src.cgroups
        child.container_id = src.container_id


def _share_or_copy_fds(child: ThreadInfo, src: ThreadInfo, flags: int) -> None:
    """A new process gets a copy of the fd table (shared with CLONE_FILES) and the cwd."""
    if flags & CL_CLONE_FILES:
        child.fdtable = src.fdtable
    else:
        child.fdtable = {fd: fdi.copy() for fd, fdi in src.fdtable.items()}
    child.set_cwd(src.get_cwd())
    child.env = src.env


def _fill_from_event(child: ThreadInfo, evt, ts: int) -> None:
    """The values every clone exit event carries about the child."""
    child.exe = param(evt, _P["exe"]) or ""
    comm = param(evt, _P["comm"])
    child.comm = comm if comm else child.exe
    child.args = split_strings(param(evt, _P["args"]))
    child.fdlimit = param(evt, _P["fdlimit"]) or 0
    set_memory_stats(child, evt, _P)
    uid = param(evt, _P["uid"])
    gid = param(evt, _P["gid"])
    if uid is not None:
        child.uid = child.euid = uid  # the driver sends the effective ids
    if gid is not None:
        child.gid = child.egid = gid
    cgroups = split_cgroups(param(evt, _P["cgroups"]))
    if cgroups is not None:
        from libsinsp.containers import container_id

        child.cgroups = cgroups
        child.container_id = container_id(cgroups)
    child.clone_ts = ts


def parse_clone_exit(insp, sevt) -> None:
    evt = sevt.evt
    res = param(evt, _P["res"])
    if res is None or res < 0:
        return
    if res == 0:
        _child_side(insp, sevt)
    else:
        _caller_side(insp, sevt, res)


def _caller_side(insp, sevt, child_tid: int) -> None:
    evt = sevt.evt
    threads = insp.threads
    caller = sevt.tinfo
    if caller is None:  # upstream's get_thread: the caller gets a row even if unknown
        caller = sevt.tinfo = threads.placeholder(evt[3], evt[2])
        if caller is None:
            insp.failed_thread_adds += 1
            return
    valid_caller = not caller.is_invalid
    if not valid_caller:
        threads.set_pid(caller, param(evt, _P["pid"]) if param(evt, _P["pid"]) is not None else caller.tid)
        ptid = param(evt, _P["ptid"])
        threads.set_parent(caller, ptid if ptid is not None else 0)
        vtid, vpid = param(evt, _P["vtid"]), param(evt, _P["vpid"])
        caller.vtid, caller.vpid = (vtid, vpid) if vpid is not None else (caller.tid, -1)
    flags = param(evt, _P["flags"]) or 0
    if (flags & (CL_CHILD_IN_PIDNS | CL_CLONE_NEWPID | CL_CLONE_PARENT)
            or (caller.vtid not in (-1, caller.tid))):
        return  # the child's own event creates it (its tid is not visible from here)
    if flags & CL_CLONE_VFORK or evt[5] == PPME.SYSCALL_VFORK_20_X:
        return  # the vfork child runs first; its own event creates it
    existing = threads.get(child_tid)
    if existing is not None:
        if existing.flags & CL_CLONE_INVERTED:
            return  # the child's event came first and made the row
        threads.remove(child_tid)  # a stale row with a reused tid
    child = ThreadInfo(child_tid)
    child.flags = flags
    if flags & CL_CLONE_THREAD:
        child.pid = caller.pid
        child.ptid = caller.ptid
        child.flags |= CL_CLONE_FILES
        child.lastexec_ts = caller.lastexec_ts
    else:
        if valid_caller:
            _share_or_copy_fds(child, caller, flags)
        child.pid = child_tid
        child.ptid = caller.tid
    child.vtid, child.vpid = child.tid, child.pid
    _fill_from_event(child, evt, evt[2])
    child.pidns_init_start_ts = insp.boot_ts
    if valid_caller:
        _copy_image(child, caller)
    else:
        caller.exe, caller.comm, caller.args = child.exe, child.comm, child.args
    if not threads.add(child, evt[2]):
        insp.failed_thread_adds += 1


def _child_side(insp, sevt) -> None:
    evt = sevt.evt
    threads = insp.threads
    tid, ts = evt[3], evt[2]
    old = sevt.tinfo
    if old is not None and old.clone_ts != 0:
        if ts - old.clone_ts < CLONE_STALE_TIME_NS:
            return  # the caller's event already made this row
        threads.remove(tid)  # a reused tid
    child = ThreadInfo(tid)
    pid, ptid = param(evt, _P["pid"]), param(evt, _P["ptid"])
    child.pid = pid if pid is not None else tid
    child.ptid = ptid if ptid is not None else -1
    vtid, vpid = param(evt, _P["vtid"]), param(evt, _P["vpid"])
    child.vtid, child.vpid = (vtid, vpid) if vpid is not None else (tid, -1)
    child.flags = (param(evt, _P["flags"]) or 0) | CL_CLONE_INVERTED
    leader = not child.flags & CL_CLONE_THREAD
    if not leader:
        child.flags |= CL_CLONE_FILES
    lookup_tid = child.ptid if leader else child.pid
    src = threads.get(lookup_tid)
    if src is None:
        src = threads.placeholder(lookup_tid, ts)
        if src is None:
            sevt.tinfo = None
            return
    _fill_from_event(child, evt, ts)
    if not src.is_invalid:
        _copy_image(child, src)
        if leader:
            _share_or_copy_fds(child, src, child.flags)
        else:
            child.lastexec_ts = src.lastexec_ts
    elif not leader:
        threads.set_pid(src, child.pid)
        threads.set_parent(src, child.ptid)
        src.vpid = src.vtid = child.vpid
        src.exe, src.comm, src.args = child.exe, child.comm, child.args
    if child.flags & (CL_CHILD_IN_PIDNS | CL_CLONE_NEWPID) or child.tid != child.vtid:
        start = param(evt, _P["pidns_init_start_ts"])
        if start is not None:
            child.pidns_init_start_ts = start + insp.boot_ts
    else:
        child.pidns_init_start_ts = insp.boot_ts
    if not threads.add(child, ts):
        insp.failed_thread_adds += 1
        sevt.tinfo = None
        return
    sevt.tinfo = child


PARSERS = {
    PPME.SYSCALL_CLONE_20_X: parse_clone_exit,
    PPME.SYSCALL_FORK_20_X: parse_clone_exit,
    PPME.SYSCALL_VFORK_20_X: parse_clone_exit,
    PPME.SYSCALL_CLONE3_X: parse_clone_exit,
}
