"""execve/execveat exit events (upstream's parse_execve_exit).

A failed exec changes nothing. A successful one replaces the process image:
exe, comm, args, env, exepath (``trusted_exepath`` when the driver sent it,
else the filename resolved against the cwd), credentials and capabilities,
exe inode and flags, cgroups (and so the container id); fds marked
close-on-exec are closed and the other threads of the process go away, as
the kernel does.
"""

from __future__ import annotations

from libscap.schema import FLAG_TABLES, PPME

from libsinsp.containers import container_id
from libsinsp.parsers._common import (
    concatenate_paths, param, pos, set_memory_stats, split_cgroups, split_strings,
)

_P = {n: pos("SYSCALL_EXECVE_19_X", n) for n in (
    "res", "exe", "args", "pid", "ptid", "cwd", "fdlimit", "pgft_maj", "pgft_min", "vm_size",
    "vm_rss", "vm_swap", "comm", "cgroups", "env", "tty", "vpgid", "loginuid", "flags",
    "cap_inheritable", "cap_permitted", "cap_effective", "exe_ino", "exe_ino_ctime",
    "exe_ino_mtime", "uid", "trusted_exepath", "pgid", "gid", "filename")}
_EXE = dict(FLAG_TABLES["execve_flags"])


def parse_execve_exit(insp, sevt) -> None:
    evt = sevt.evt
    t = sevt.tinfo
    res = param(evt, _P["res"])
    if t is None or res is None or res < 0:
        return
    threads = insp.threads
    if t.dead:
        t.dead = False
        threads.set_pid(t, t.pid)
    t.exe = param(evt, _P["exe"]) or ""
    t.lastexec_ts = evt[2]
    comm = param(evt, _P["comm"])
    t.comm = comm if comm else t.exe
    t.args = split_strings(param(evt, _P["args"]))
    pid = param(evt, _P["pid"])
    if pid is not None:
        was_invalid = t.is_invalid
        threads.set_pid(t, pid)
        if was_invalid:
            ptid = param(evt, _P["ptid"])
            if ptid is not None:
                threads.set_parent(t, ptid)
            t.vtid, t.vpid = t.tid, t.pid
    cwd = param(evt, _P["cwd"])
    if cwd:
        t.set_cwd(cwd)
    t.fdlimit = param(evt, _P["fdlimit"]) or t.fdlimit
    set_memory_stats(t, evt, _P)
    env = param(evt, _P["env"])
    if env is not None:
        t.env = split_strings(env)
    cgroups = split_cgroups(param(evt, _P["cgroups"]))
    if cgroups is not None:
        t.cgroups = cgroups
        t.container_id = container_id(cgroups)
    tty = param(evt, _P["tty"])
    if tty is not None:
        t.tty = tty
    trusted = param(evt, _P["trusted_exepath"])
    if trusted:
        t.exepath = trusted
    else:
        filename = param(evt, _P["filename"])
        if filename:
            t.exepath = filename if filename == "<NA>" else concatenate_paths(t.get_cwd(), filename)
    vpgid = param(evt, _P["vpgid"])
    if vpgid is not None:
        t.vpgid = vpgid
    loginuid = param(evt, _P["loginuid"])
    if loginuid is not None:
        t.loginuid = loginuid
    flags = param(evt, _P["flags"])
    if flags is not None:
        t.exe_writable = bool(flags & _EXE["EXE_WRITABLE"])
        t.exe_upper_layer = bool(flags & _EXE["EXE_UPPER_LAYER"])
        t.exe_from_memfd = bool(flags & _EXE["EXE_FROM_MEMFD"])
        t.exe_lower_layer = bool(flags & _EXE["EXE_LOWER_LAYER"])
    if param(evt, _P["cap_effective"]) is not None:
        t.cap_inheritable = param(evt, _P["cap_inheritable"]) or 0
        t.cap_permitted = param(evt, _P["cap_permitted"]) or 0
        t.cap_effective = param(evt, _P["cap_effective"])
    if param(evt, _P["exe_ino_mtime"]) is not None:
        t.exe_ino = param(evt, _P["exe_ino"]) or 0
        t.exe_ino_ctime = param(evt, _P["exe_ino_ctime"]) or 0
        t.exe_ino_mtime = param(evt, _P["exe_ino_mtime"])
    uid = param(evt, _P["uid"])
    if uid is not None:
        t.uid = t.euid = uid
    pgid = param(evt, _P["pgid"])
    t.pgid = pgid if pgid is not None else -1
    gid = param(evt, _P["gid"])
    if gid is not None:
        t.gid = t.egid = gid
    fds = t.fdtable
    for fd in [fd for fd, fdi in fds.items() if fdi.cloexec]:
        del fds[fd]
    for tid in threads.group(t.pid):
        if tid != t.tid and tid != t.pid:
            threads.remove(tid)


PARSERS = {
    PPME.SYSCALL_EXECVE_19_X: parse_execve_exit,
    PPME.SYSCALL_EXECVEAT_X: parse_execve_exit,
}
