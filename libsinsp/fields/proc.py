"""proc.* and thread.*: the process and thread that produced the event.

Ancestors follow upstream: ``proc.aname[N]`` is the main thread N process
levels up (each step goes to the parent's process leader); without an index,
the ancestor fields join the whole parent chain with spaces (loops and
missing parents end the walk). ``proc.sname``/``proc.vpgid.name`` name the
oldest ancestor that still has the same session / process group id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from libsinsp.fdinfo import FD_TYPE_NAMES
from libsinsp.fields import readers
from libsinsp.fields.registry import FieldClass, FieldError, spec
from libsinsp.filter.fields import AnyOf, ArgRule

if TYPE_CHECKING:
    from libsinsp.event import SinspEvent
    from libsinsp.fields.registry import SinspFieldRegistry
    from libsinsp.threadinfo import ThreadInfo

_U32 = 0xFFFFFFFF
PPM_CL_CHILD_IN_PIDNS = 1 << 29

#: capability bit -> name, as upstream's caps_to_string prints them
CAP_NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip


@lru_cache(maxsize=256)
def caps_text(mask: int) -> str:
    """Names of the capability bits set in ``mask``, space separated (a few masks
    recur: cached, a walk of the 41 bits cost ~1.5 us)."""
    return " ".join(name for bit, name in enumerate(CAP_NAMES) if mask >> bit & 1)


# -- thread table walks ---------------------------------------------------------------


def _get(sevt: "SinspEvent", tid: int) -> "ThreadInfo | None":
    insp = sevt.inspector
    return None if insp is None else insp.threads.get(tid)


def main_thread(sevt: "SinspEvent", t: "ThreadInfo") -> "ThreadInfo | None":
    return t if t.tid == t.pid else _get(sevt, t.pid)


def ancestor(sevt: "SinspEvent", t: "ThreadInfo", n: int) -> "ThreadInfo | None":
    """The process leader ``n`` levels above ``t`` (0: its own leader)."""
    mt = main_thread(sevt, t)
    for _ in range(n):
        if mt is None:
            return None
        mt = _get(sevt, mt.ptid)
        if mt is None:
            return None
        mt = main_thread(sevt, mt)
    return mt


def parent_chain(sevt: "SinspEvent", t: "ThreadInfo") -> Iterator["ThreadInfo"]:
    """Parent, its parent... by ptid (upstream's traverse_parent_state), loop-safe."""
    seen = {t.tid}
    cur = _get(sevt, t.ptid)
    while cur is not None and cur.tid != -1 and cur.tid not in seen:
        yield cur
        seen.add(cur.tid)
        cur = _get(sevt, cur.ptid)


def _oldest_with(sevt: "SinspEvent", t: "ThreadInfo", key: Callable[["ThreadInfo"], int]) -> "ThreadInfo | None":
    """The leader named by ``key(t)`` (sid, vpgid, pgid): looked up directly outside a pid
    namespace, else the oldest ancestor still sharing the id."""
    ident = key(t)
    if ident == -1:
        return None
    if not (t.flags & PPM_CL_CHILD_IN_PIDNS or t.tid != t.vtid):
        leader = _get(sevt, ident)
        if leader is not None:
            return leader
    found = None
    for p in parent_chain(sevt, t):
        if key(p) != ident:
            break
        found = p
    return found


# -- values ---------------------------------------------------------------------------


def cmdline(t: "ThreadInfo") -> str:
    return " ".join((t.comm, *t.args)) if t.args else t.comm


def _env_get(t: "ThreadInfo", name: str) -> str:
    prefix = name + "="
    for kv in t.env:
        if kv.startswith(prefix):
            return kv[len(prefix) :]
    return ""


def _xid(v: int) -> int | None:
    return v if -1 <= v <= _U32 else None


def _t(fn: Callable[["ThreadInfo"], Any]) -> Callable[["SinspEvent"], Any]:
    """An extractor over the event's thread (missing when the thread is unknown)."""

    def extract(sevt: "SinspEvent") -> Any:
        t = sevt.tinfo
        return None if t is None else fn(t)

    return extract


def _slot(name: str) -> Callable[["SinspEvent"], Any]:
    """The event's thread's slot ``name`` (missing when the thread is unknown), read
    in C (libsinsp.fields.readers)."""
    return readers.thread_attr(_t(attrgetter(name)), name)


def _te(fn: Callable[["SinspEvent", "ThreadInfo"], Any]) -> Callable[["SinspEvent"], Any]:
    def extract(sevt: "SinspEvent") -> Any:
        t = sevt.tinfo
        return None if t is None else fn(sevt, t)

    return extract


def _ancestor_field(value: Callable[["ThreadInfo"], Any], joined: bool = True) -> Callable[[str | None], Any]:
    """proc.aname-style factory: [N] the Nth ancestor, no index the joined chain."""

    def make(arg: str | None) -> Callable[["SinspEvent"], Any]:
        if arg is None:
            if not joined:
                return _te(lambda e, t: _nz(ancestor(e, t, 0), value))

            def chain(sevt: "SinspEvent", t: "ThreadInfo") -> Any:
                mt = main_thread(sevt, t)
                if mt is None:
                    return None
                text = " ".join(str(value(p)) for p in parent_chain(sevt, mt))
                return text or None

            return _te(chain)
        if not arg.isdigit():
            raise FieldError(f"ancestor fields take a numeric index, not '{arg}'")
        n = int(arg)
        return _te(lambda e, t: _nz(ancestor(e, t, n), value))

    return make


def _ancestor_values(value: Callable[["ThreadInfo"], Any]) -> Callable[[str | None], Any]:
    """Candidates of an ancestor field without index: every ancestor's value (the
    filter matches if any does, upstream's compare_full_aname and siblings)."""

    def make(arg: str | None) -> AnyOf | None:
        if arg is not None:
            return None

        def values(sevt: "SinspEvent", t: "ThreadInfo") -> Any:
            mt = main_thread(sevt, t)
            return None if mt is None else tuple(value(p) for p in parent_chain(sevt, mt))

        return AnyOf(_te(values))

    return make


def _nz(t: "ThreadInfo | None", value: Callable[["ThreadInfo"], Any]) -> Any:
    return None if t is None else value(t)


def _parent(value: Callable[["ThreadInfo"], Any]) -> Callable[["SinspEvent"], Any]:
    return _te(lambda e, t: _nz(ancestor(e, t, 1), value))


def _leader(key: Callable[["ThreadInfo"], int], value: Callable[["ThreadInfo"], str]) -> Callable[["SinspEvent"], Any]:
    return _te(lambda e, t: _nz(_oldest_with(e, t, key), value) or "")


def _make_args(arg: str | None) -> Callable[["SinspEvent"], Any]:
    if arg is None:
        return _t(lambda t: " ".join(t.args))
    if not arg.isdigit():
        raise FieldError(f"field 'proc.args' takes a numeric index, not '{arg}'")
    n = int(arg)
    return _t(lambda t: t.args[n] if n < len(t.args) else "")


def _env_of(sevt: "SinspEvent", t: "ThreadInfo") -> "ThreadInfo":
    """The thread whose environment counts: a thread without one uses its process's."""
    if t.env or t.tid == t.pid:
        return t
    return main_thread(sevt, t) or t


def _make_env(arg: str | None) -> Callable[["SinspEvent"], Any]:
    if arg is None:
        return _te(lambda e, t: " ".join(_env_of(e, t).env))
    return _te(lambda e, t: _env_get(_env_of(e, t), arg))


def _make_aenv(arg: str | None) -> Callable[["SinspEvent"], Any]:
    if arg is None or arg == "0":
        return _t(lambda t: " ".join(t.env))
    if arg.isdigit():
        n = int(arg)

        def nth(sevt: "SinspEvent", t: "ThreadInfo") -> Any:
            mt = main_thread(sevt, t)
            for _ in range(n):
                mt = None if mt is None else _get(sevt, mt.ptid)
            return None if mt is None else " ".join(mt.env)

        return _te(nth)

    def named(sevt: "SinspEvent", t: "ThreadInfo") -> Any:
        mt = main_thread(sevt, t)
        if mt is None:
            return ""
        for i, p in enumerate(parent_chain(sevt, mt)):
            if i >= 20:
                break
            v = _env_get(p, arg)
            if v:
                return v
        return ""

    return _te(named)


def _make_cgroup(arg: str | None) -> Callable[["SinspEvent"], Any]:
    if not arg:
        raise FieldError("field 'thread.cgroup' requires a subsystem argument")
    return _t(lambda t: next((path for sub, path in t.cgroups if sub == arg), None))


def _duration(sevt: "SinspEvent", t: "ThreadInfo") -> int | None:
    return sevt.evt.ts - t.clone_ts if t.clone_ts else None


def _fd_std(fd: int, name: bool) -> Callable[["SinspEvent"], Any]:
    def value(t: "ThreadInfo") -> Any:
        fi = t.fdtable.get(fd)
        if fi is None:
            return None
        return fi.name if name else FD_TYPE_NAMES.get(fi.type, "unknown")

    return _t(value)


def _loginshell(sevt: "SinspEvent", t: "ThreadInfo") -> int | None:
    mt = main_thread(sevt, t)
    if mt is None:
        return None
    found = None
    for p in (mt, *parent_chain(sevt, mt)):
        if p.comm.endswith("sh") and len(p.comm) >= 2:
            found = p.pid
    return found


def _nthreads(sevt: "SinspEvent", t: "ThreadInfo") -> int:
    """Live threads of the process. A thread whose ids are unknown (a fake row) belongs
    to no thread group upstream (create_thread_dependencies skips invalid threads): 0."""
    if t.is_invalid:
        return 0
    threads = sevt.inspector.threads if sevt.inspector is not None else None
    count = getattr(threads, "thread_count", None)
    return count(t.pid) if count is not None else 1


def _nchilds(sevt: "SinspEvent", t: "ThreadInfo") -> int:
    """Live threads of the process but its main thread (all of them when the main thread
    is dead or unknown), as upstream's get_num_not_leader_threads."""
    n = _nthreads(sevt, t)
    if n == 0:
        return 0
    threads = sevt.inspector.threads
    main = threads.get(t.pid)
    return n - 1 if main is not None and not main.dead else n


def _nonzero(v: int) -> int | None:
    return v or None


def _P(name: str, ptype: str, desc: str, fn: Callable[["SinspEvent"], Any], **kw: Any):  # noqa: N802
    return spec("process", name, ptype, desc, lambda arg: fn, **kw)


def _A(name: str, ptype: str, desc: str, make: Callable[[str | None], Any], **kw: Any):  # noqa: N802
    return spec("process", name, ptype, desc, make, **kw)


_ANC = dict(arg=ArgRule.OPTIONAL_INDEX, flags=("no_rhs", "no_transformer"))

PROCESS = FieldClass("process", "The process and thread that generated the event.", (
    _P("proc.exe", "CHARBUF", "argv[0] of the process (executable name or what the caller set)", _slot("exe")),
    _P("proc.pexe", "CHARBUF", "proc.exe of the parent process", _parent(lambda t: t.exe)),
    _A("proc.aexe", "CHARBUF", "proc.exe of an ancestor: proc.aexe[1] is the parent; "
       "without index, every ancestor", _ancestor_field(lambda t: t.exe), **_ANC),
    _P("proc.exepath", "CHARBUF", "full path of the executable (symlinks resolved)", _slot("exepath")),
    _P("proc.pexepath", "CHARBUF", "proc.exepath of the parent process", _parent(lambda t: t.exepath)),
    _A("proc.aexepath", "CHARBUF", "proc.exepath of an ancestor (proc.aexepath[2])",
       _ancestor_field(lambda t: t.exepath), **_ANC),
    _P("proc.name", "CHARBUF", "process name (the task comm, at most 16 characters)",
       _slot("comm")),
    _P("proc.pname", "CHARBUF", "proc.name of the parent process", _parent(lambda t: t.comm)),
    _A("proc.aname", "CHARBUF", "proc.name of an ancestor: proc.aname[1] is the parent; "
       "without index, every ancestor", _ancestor_field(lambda t: t.comm), **_ANC),
    _A("proc.args", "CHARBUF", "command-line arguments (without argv[0]); proc.args[N] the Nth",
       _make_args, arg=ArgRule.OPTIONAL_INDEX),
    _A("proc.aargs", "CHARBUF", "proc.args of an ancestor (proc.aargs[1] the parent's)",
       _ancestor_field(lambda t: " ".join(t.args)), arg=ArgRule.OPTIONAL_INDEX),
    _P("proc.cmdline", "CHARBUF", "proc.name followed by the arguments", _t(cmdline)),
    _P("proc.pcmdline", "CHARBUF", "proc.cmdline of the parent process", _parent(cmdline)),
    _A("proc.acmdline", "CHARBUF", "proc.cmdline of an ancestor (proc.acmdline[2])",
       _ancestor_field(cmdline), **_ANC),
    _P("proc.cmdnargs", "UINT64", "number of command-line arguments", _t(lambda t: len(t.args)), fmt="DEC"),
    _P("proc.cmdlenargs", "UINT64", "total length of the command-line arguments",
       _t(lambda t: sum(len(a) for a in t.args)), fmt="DEC"),
    _P("proc.exeline", "CHARBUF", "proc.exe followed by the arguments",
       _t(lambda t: t.exe + " " + " ".join(t.args))),
    _A("proc.env", "CHARBUF", "environment as space-separated NAME=value; proc.env[NAME] one value",
       _make_env, arg=ArgRule.OPTIONAL_KEY),
    _A("proc.aenv", "CHARBUF", "environment of an ancestor (proc.aenv[1]) or a variable "
       "looked up through the ancestors (proc.aenv[NAME])", _make_aenv, arg=ArgRule.OPTIONAL_KEY,
       flags=("no_rhs", "no_transformer")),
    _P("proc.cwd", "CHARBUF", "current working directory", _t(lambda t: t.get_cwd())),
    _P("proc.loginshellid", "INT64", "pid of the oldest shell among the ancestors", _te(_loginshell), fmt="ID"),
    _P("proc.tty", "UINT32", "controlling terminal (0 for none)", _slot("tty"), fmt="ID"),
    _P("proc.pid", "INT64", "process id", _t(lambda t: _xid(t.pid)), fmt="ID"),
    _P("proc.ppid", "INT64", "parent process id", _te(lambda e, t: _nz(ancestor(e, t, 1), lambda p: _xid(p.pid))),
       fmt="ID"),
    _A("proc.apid", "INT64", "pid of an ancestor (proc.apid[1] the parent)",
       _ancestor_field(lambda t: _xid(t.pid), joined=False), fmt="ID", **_ANC),
    _P("proc.vpid", "INT64", "process id in its pid namespace", _t(lambda t: None if t.vpid == -1 else t.vpid),
       fmt="ID"),
    _P("proc.pvpid", "INT64", "proc.vpid of the parent", _te(lambda e, t: _nz(_get(e, t.ptid), lambda p: p.vpid)),
       fmt="ID"),
    _P("proc.sid", "INT64", "session id", _slot("sid"), fmt="ID"),
    _P("proc.sname", "CHARBUF", "proc.name of the session leader", _leader(lambda t: t.sid, lambda t: t.comm)),
    _P("proc.sid.exe", "CHARBUF", "proc.exe of the session leader", _leader(lambda t: t.sid, lambda t: t.exe)),
    _P("proc.sid.exepath", "CHARBUF", "proc.exepath of the session leader",
       _leader(lambda t: t.sid, lambda t: t.exepath)),
    _P("proc.vpgid", "INT64", "process group id in the pid namespace", _slot("vpgid"), fmt="ID"),
    _P("proc.vpgid.name", "CHARBUF", "proc.name of the process group leader",
       _leader(lambda t: t.vpgid, lambda t: t.comm)),
    _P("proc.vpgid.exe", "CHARBUF", "proc.exe of the process group leader",
       _leader(lambda t: t.vpgid, lambda t: t.exe)),
    _P("proc.vpgid.exepath", "CHARBUF", "proc.exepath of the process group leader",
       _leader(lambda t: t.vpgid, lambda t: t.exepath)),
    _P("proc.pgid", "INT64", "process group id (host namespace)", _slot("pgid"), fmt="ID"),
    _P("proc.pgid.name", "CHARBUF", "proc.name of the process group leader (host ids)",
       _leader(lambda t: t.pgid, lambda t: t.comm)),
    _P("proc.pgid.exe", "CHARBUF", "proc.exe of the process group leader (host ids)",
       _leader(lambda t: t.pgid, lambda t: t.exe)),
    _P("proc.pgid.exepath", "CHARBUF", "proc.exepath of the process group leader (host ids)",
       _leader(lambda t: t.pgid, lambda t: t.exepath)),
    _P("proc.duration", "RELTIME", "nanoseconds since the process started", _te(_duration), fmt="DEC"),
    _P("proc.ppid.duration", "RELTIME", "nanoseconds since the parent process started",
       _te(lambda e, t: _nz(ancestor(e, t, 1), lambda p: e.evt.ts - p.clone_ts if p.clone_ts else None)),
       fmt="DEC"),
    _P("proc.pid.ts", "RELTIME", "process start time, ns since the epoch", _t(lambda t: _nonzero(t.clone_ts)),
       fmt="DEC"),
    _P("proc.ppid.ts", "RELTIME", "parent process start time, ns since the epoch",
       _te(lambda e, t: _nz(_get(e, t.ptid), lambda p: p.clone_ts)), fmt="DEC"),
    _P("proc.is_exe_writable", "BOOL", "true when the executable is writable by the process's user",
       _t(lambda t: bool(t.exe_writable))),
    _P("proc.is_exe_upper_layer", "BOOL", "true when the executable is in an overlayfs upper layer",
       _t(lambda t: bool(t.exe_upper_layer))),
    _P("proc.is_exe_lower_layer", "BOOL", "true when the executable is in an overlayfs lower layer",
       _t(lambda t: bool(t.exe_lower_layer))),
    _P("proc.is_exe_from_memfd", "BOOL", "true when the executable is a memfd_create file",
       _t(lambda t: bool(t.exe_from_memfd))),
    _P("proc.is_sid_leader", "BOOL", "true for the session leader (proc.sid == proc.vpid)",
       _t(lambda t: t.sid == t.vpid)),
    _P("proc.is_vpgid_leader", "BOOL", "true for the process group leader (proc.vpgid == proc.vpid)",
       _t(lambda t: t.vpgid == t.vpid)),
    _P("proc.is_pgid_leader", "BOOL", "true for the process group leader (proc.pgid == proc.pid)",
       _t(lambda t: t.pgid == t.pid)),
    _P("proc.exe_ino", "INT64", "inode of the executable", _t(lambda t: _nonzero(t.exe_ino)), fmt="DEC"),
    _P("proc.exe_ino.ctime", "ABSTIME", "executable inode change time (ns since the epoch)",
       _t(lambda t: _nonzero(t.exe_ino_ctime)), fmt="DEC"),
    _P("proc.exe_ino.mtime", "ABSTIME", "executable modification time (ns since the epoch)",
       _t(lambda t: _nonzero(t.exe_ino_mtime)), fmt="DEC"),
    _P("proc.exe_ino.ctime_duration_proc_start", "ABSTIME",
       "ns between the executable's inode change and the process start",
       _t(lambda t: _nonzero(t.clone_ts - t.exe_ino_ctime if t.exe_ino_ctime and t.clone_ts > t.exe_ino_ctime else 0)),
       fmt="DEC"),
    _P("proc.exe_ino.ctime_duration_pidns_start", "ABSTIME",
       "ns between the pid namespace start and the executable's inode change",
       _t(lambda t: _nonzero(t.exe_ino_ctime - t.pidns_init_start_ts
                             if t.pidns_init_start_ts and t.exe_ino_ctime > t.pidns_init_start_ts else 0)),
       fmt="DEC"),
    _P("proc.pidns_init_start_ts", "UINT64", "start of the pid namespace (ns since the epoch)",
       _t(lambda t: _nonzero(t.pidns_init_start_ts)), fmt="DEC"),
    _P("thread.cap_permitted", "CHARBUF", "permitted capabilities", _t(lambda t: caps_text(t.cap_permitted))),
    _P("thread.cap_inheritable", "CHARBUF", "inheritable capabilities",
       _t(lambda t: caps_text(t.cap_inheritable))),
    _P("thread.cap_effective", "CHARBUF", "effective capabilities", _t(lambda t: caps_text(t.cap_effective))),
    _P("proc.fdopencount", "UINT64", "number of open fds of the process", _t(lambda t: len(t.fdtable)), fmt="DEC"),
    _P("proc.fdlimit", "INT64", "maximum number of fds the process may open", _slot("fdlimit"), fmt="DEC"),
    _P("proc.fdusage", "DOUBLE", "open fds as a percentage of proc.fdlimit",
       _t(lambda t: 100.0 * len(t.fdtable) / t.fdlimit if t.fdlimit > 0 else 0.0)),
    _P("proc.vmsize", "UINT64", "virtual memory of the process (kB)", _slot("vmsize_kb"), fmt="DEC"),
    _P("proc.vmrss", "UINT64", "resident memory of the process (kB)", _slot("vmrss_kb"), fmt="DEC"),
    _P("proc.vmswap", "UINT64", "swapped memory of the process (kB)", _slot("vmswap_kb"), fmt="DEC"),
    _P("thread.pfmajor", "UINT64", "major page faults since the thread started", _slot("pfmajor"),
       fmt="DEC"),
    _P("thread.pfminor", "UINT64", "minor page faults since the thread started", _slot("pfminor"),
       fmt="DEC"),
    _P("thread.tid", "INT64", "thread id", lambda e: _xid(e.evt.tid), fmt="ID"),
    _P("thread.ismain", "BOOL", "true for the process's main thread", _t(lambda t: t.tid == t.pid)),
    _P("thread.vtid", "INT64", "thread id in its pid namespace", _t(lambda t: None if t.vtid == -1 else t.vtid),
       fmt="ID"),
    _P("thread.nametid", "CHARBUF", "proc.name followed by the thread id",
       _te(lambda e, t: f"{t.comm}{e.evt.tid}"), flags=("table_only",)),
    _P("thread.cgroups", "CHARBUF", "every cgroup of the thread as subsystem=path",
       _t(lambda t: " ".join(f"{s}={p}" for s, p in t.cgroups) or None)),
    _A("thread.cgroup", "CHARBUF", "the cgroup of one subsystem (thread.cgroup.cpuacct)", _make_cgroup,
       arg=ArgRule.REQUIRED_KEY),
    _P("proc.nthreads", "UINT64", "live threads of the process (main thread included)", _te(_nthreads),
       fmt="DEC"),
    _P("proc.nchilds", "UINT64", "live threads of the process other than the main one",
       _te(_nchilds), fmt="DEC"),
    _P("thread.vmsize", "UINT64", "proc.vmsize for the main thread, 0 for others",
       _t(lambda t: t.vmsize_kb if t.tid == t.pid else 0), fmt="DEC"),
    _P("thread.vmrss", "UINT64", "proc.vmrss for the main thread, 0 for others",
       _t(lambda t: t.vmrss_kb if t.tid == t.pid else 0), fmt="DEC"),
    _P("proc.stdin.type", "CHARBUF", "fd.type of fd 0", _fd_std(0, False)),
    _P("proc.stdout.type", "CHARBUF", "fd.type of fd 1", _fd_std(1, False)),
    _P("proc.stderr.type", "CHARBUF", "fd.type of fd 2", _fd_std(2, False)),
    _P("proc.stdin.name", "CHARBUF", "fd.name of fd 0", _fd_std(0, True)),
    _P("proc.stdout.name", "CHARBUF", "fd.name of fd 1", _fd_std(1, True)),
    _P("proc.stderr.name", "CHARBUF", "fd.name of fd 2", _fd_std(2, True)),
))  # fmt: skip

CLASSES = (PROCESS,)


def install(reg: "SinspFieldRegistry") -> None:
    """Ancestor fields whose checks match any ancestor when given no index."""
    for name, value in (("proc.aname", lambda t: t.comm), ("proc.aexe", lambda t: t.exe),
                        ("proc.aexepath", lambda t: t.exepath), ("proc.acmdline", cmdline),
                        ("proc.apid", lambda t: _xid(t.pid)), ("proc.aenv", lambda t: " ".join(t.env))):
        reg.set_any_of(name, _ancestor_values(value))
