"""What the parser modules share: flag values from the schema, parameter positions
by name, path concatenation as upstream normalizes it, and fd-name text."""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from libscap._events import EventBase
from libscap.schema import EVENTS, FLAG_TABLES, PPME

from libsinsp.event import SinspEvent
from libsinsp.fdinfo import FdInfo

#: A parser: updates state from one event (the inspector is its first argument).
Parser = Callable[["object", SinspEvent], None]


def _flag(table: str, name: str) -> int:
    return dict(FLAG_TABLES[table])[name]


O_DIRECTORY = _flag("file_flags", "O_DIRECTORY")
O_CLOEXEC = _flag("file_flags", "O_CLOEXEC")
FD_UPPER_LAYER = _flag("file_flags", "FD_UPPER_LAYER")
FD_LOWER_LAYER = _flag("file_flags", "FD_LOWER_LAYER")
CL_CLONE_FILES = _flag("clone_flags", "CLONE_FILES")
CL_CLONE_THREAD = _flag("clone_flags", "CLONE_THREAD")
CL_CLONE_NEWPID = _flag("clone_flags", "CLONE_NEWPID")
CL_CLONE_PARENT = _flag("clone_flags", "CLONE_PARENT")
CL_CLONE_VFORK = _flag("clone_flags", "CLONE_VFORK")
CL_CLONE_INVERTED = _flag("clone_flags", "CLONE_INVERTED")
CL_CHILD_IN_PIDNS = _flag("clone_flags", "CLONE_CHILD_IN_PIDNS")
CL_NAME_CHANGED = _flag("clone_flags", "NAME_CHANGED")
AT_FDCWD = -100  # PPM_AT_FDCWD
SCAP_MAX_PATH_SIZE = 4096
PATH_TOO_LONG = "/DIR_TOO_LONG/FILENAME_TOO_LONG"
UNKNOWN_DIR = "<UNKNOWN>"


def pos(code: str, name: str) -> int:
    """Index of parameter ``name`` of event ``PPME_<code>`` (fails at import if the schema changed)."""
    return EVENTS[PPME[code]].param_positions[name]


#: ``param(evt, i)``: parameter ``i`` decoded, or None if the event (an old layout)
#: has fewer -- libscap's Event.opt_param (C) called without a Python frame.
param = EventBase.opt_param


def set_memory_stats(t, evt, positions: dict[str, int]) -> None:
    """The page faults and memory sizes a clone or execve exit carries (when it has
    vm_swap, i.e. a layout with them), at their `positions` by name, into thread `t`."""
    if param(evt, positions["vm_swap"]) is not None:
        t.pfmajor = param(evt, positions["pgft_maj"]) or 0
        t.pfminor = param(evt, positions["pgft_min"]) or 0
        t.vmsize_kb = param(evt, positions["vm_size"]) or 0
        t.vmrss_kb = param(evt, positions["vm_rss"]) or 0
        t.vmswap_kb = param(evt, positions["vm_swap"])


def on_new_fd(body: Callable[..., None]) -> Parser:
    """The parser of the exit of a call that returns a new fd: ``body(insp, sevt,
    evt, t, fd)`` runs only when the event has a thread and fd (param 0) is >= 0."""
    def parse(insp, sevt) -> None:
        evt, t = sevt.evt, sevt.tinfo
        fd = evt.param(0)
        if t is None or fd is None or fd < 0:
            return
        body(insp, sevt, evt, t, fd)
    parse.__name__ = parse.__qualname__ = body.__name__
    parse.__doc__ = body.__doc__
    return parse


def concatenate_paths(base: str, path: str) -> str:
    """``path`` appended to ``base`` (a directory ending with "/", as cwds are) and
    normalized as upstream's concatenate_paths: "." and empty components dropped,
    ".." removes the previous component (never above "/"), no trailing "/"; an
    absolute ``path`` ignores ``base``."""
    if len(base) + len(path) + 1 > SCAP_MAX_PATH_SIZE:
        return PATH_TOO_LONG
    if not path:
        return ""
    full = path if path[0] == "/" else base + path
    absolute = full[0] == "/"
    if absolute and "//" not in full and "/." not in full and full[-1] != "/":
        return full  # already normal (most paths): no split and join
    parts: list[str] = []
    for comp in full.split("/"):
        if comp == "" or comp == ".":
            continue
        if comp == "..":
            if parts:
                parts.pop()
            continue
        parts.append(comp)
    text = "/".join(parts)
    return "/" + text if absolute else text


def dir_of_fd(tinfo, name: str, dirfd: int) -> str:
    """The directory a *at() call resolves ``name`` against (upstream's parse_dirfd):
    "." for an absolute name, the cwd for AT_FDCWD, the dirfd's path, or UNKNOWN_DIR."""
    if name[:1] == "/":
        return "."
    if tinfo is None:
        return UNKNOWN_DIR
    if dirfd == AT_FDCWD:
        return tinfo.get_cwd()
    fdi = tinfo.fdtable.get(dirfd)
    if fdi is None:
        return UNKNOWN_DIR
    return fdi.name if not fdi.name or fdi.name.endswith("/") else fdi.name + "/"


def tuple_name(sip: str, sport: int, dip: str, dport: int) -> str:
    """fd.name of a connected inet socket: "sip:sport->dip:dport"."""
    return f"{sip}:{sport}->{dip}:{dport}"


def unix_name(source: int, dest: int, path: str) -> str:
    """fd.name of a unix socket: "source->dest path" with the kernel pointers in hex."""
    return f"{source:x}->{dest:x} {path}"


def add_fd(sevt: SinspEvent, fd: int, fdi: FdInfo) -> FdInfo:
    """Put ``fdi`` in the event thread's fd table at ``fd`` and make it the event's fd."""
    fdi.fd = fd
    sevt.tinfo.fdtable[fd] = fdi
    sevt.fdinfo = fdi
    return fdi


#: subsystem names libsinsp rewrites (set_cgroups): short forms and the cgroup v2 "io"
_CGROUP_SUBSYS = {"perf": "perf_event", "mem": "memory", "io": "blkio"}


def cgroup_pairs(items) -> tuple[tuple[str, str], ...] | None:
    """"subsys=path" strings as (subsys, path) pairs, subsystem names as upstream's
    set_cgroups keeps them (a "_cgroup" suffix dropped, perf/mem/io renamed
    perf_event/memory/blkio); None (keep the old value) if one has no "=", as upstream."""
    out = []
    for item in items:
        subsys, eq, path = item.partition("=")
        if not eq:
            return None
        subsys = subsys.replace("_cgroup", "", 1)
        out.append((_CGROUP_SUBSYS.get(subsys, subsys), path))
    return tuple(out)


def split_cgroups(raw: bytes | None) -> tuple[tuple[str, str], ...] | None:
    """The cgroups parameter ("subsys=path" NUL-separated) as ``cgroup_pairs``."""
    return _cgroups_of(bytes(raw)) if raw else None


def split_strings(raw: bytes | None) -> tuple[str, ...]:
    """A NUL-separated BYTEBUF (args, env) as a tuple of str."""
    return _strings_of(bytes(raw)) if raw else ()


# Cached (bounded): every process of a container or service has the same cgroups,
# and the same programs run with the same arguments and environment over and over.
@lru_cache(maxsize=1024)
def _cgroups_of(b: bytes) -> tuple[tuple[str, str], ...] | None:
    return cgroup_pairs(_strings_of(b))


@lru_cache(maxsize=1024)
def _strings_of(b: bytes) -> tuple[str, ...]:
    if b.endswith(b"\0"):
        b = b[:-1]
    return tuple(s.decode("utf-8", "surrogateescape") for s in b.split(b"\0"))
