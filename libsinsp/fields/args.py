"""Event parameters as text with state: what ``evt.arg.X`` and ``evt.args`` show.

libscap.render prints a parameter from its bytes alone. libsinsp adds what its
tables know, as a separate "resolved" string (upstream's get_param_as_str):

* fds: ``<f>/etc/passwd`` (type letter, plus ``t``/``u``/``i``/``r`` for the
  l4 protocol of inet sockets, then the fd name);
* pids: the thread's comm; uids/gids: the user/group name (``<NA>`` unknown);
* relative paths: joined to the dirfd's path or the cwd and normalized;
* numbers with symbolic names (errno, flags, modes, signals): the names.

``evt.args`` shows ``name=value(resolved)``; ``evt.arg.NAME`` shows only the
resolved string when there is one.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from libscap.render import DEFAULT_MAX_LEN, render
from libscap.schema import EVENTS, PPME, PT

if TYPE_CHECKING:
    from libsinsp.event import SinspEvent
    from libsinsp.threadinfo import ThreadInfo

AT_FDCWD = -100

_GENERIC_X = int(PPME.GENERIC_X)
# parameter types param_text tells apart, bound once: reading an enum member off its
# class costs ~0.1 us, a dozen of them per call did
_FD_TYPES = frozenset((PT.FD, PT.FD32))
_UNRESOLVED = frozenset((PT.DYN, PT.FD, PT.FD32))
_PID_TYPES = frozenset((PT.PID, PT.PID32))
_ID_TYPES = frozenset((PT.UID, PT.GID))
_PATH_TYPES = frozenset((PT.FSPATH, PT.FSRELPATH))
_FDLIST, _UID, _FSRELPATH = PT.FDLIST, PT.UID, PT.FSRELPATH
#: types render() prints as "value(names)"; the names are the resolved part
_SPLIT = frozenset((PT.ERRNO, PT.FLAGS8, PT.FLAGS16, PT.FLAGS32, PT.ENUMFLAGS8,
                    PT.ENUMFLAGS16, PT.ENUMFLAGS32, PT.MODE, PT.SYSCALLID, PT.SIGTYPE))  # fmt: skip
_L4CHAR = {"tcp": "t", "udp": "u", "icmp": "i", "raw": "r"}
#: FdInfo.type keys whose upstream type letter differs (libsinsp's fdinfo.h CHAR_FD_*)
UPSTREAM_CHAR = {"?": "o", "r": "u", "o": "r", "c": "P"}


def typechar(fdtype: str) -> str:
    """The fd type letter as upstream prints it (fd.typechar, ``<f>`` prefixes, fd lists)."""
    return UPSTREAM_CHAR.get(fdtype, fdtype)


def normalize_path(path: str) -> str:
    """Collapse ``//``, ``.`` and ``..`` of an absolute path (never above ``/``),
    keeping a trailing ``/``, as upstream's copy_and_normalize_path."""
    parts: list[str] = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts:
                parts.pop()
        else:
            parts.append(comp)
    out = "/" + "/".join(parts)
    if path.endswith("/") and out != "/":
        out += "/"
    return out


def concatenate_paths(base: str, path: str) -> str:
    """``path`` resolved against directory ``base`` (absolute paths stand alone)."""
    if path.startswith("/"):
        return normalize_path(path)
    return normalize_path(base + path)


def _thread(sevt: "SinspEvent", tid: int) -> "ThreadInfo | None":
    insp = sevt.inspector
    return None if insp is None else insp.threads.get(tid)


def fd_resolved(sevt: "SinspEvent", fd: int) -> str:
    """``<f>/path`` of an fd of the event's thread ('' unknown)."""
    tinfo = sevt.tinfo
    if tinfo is None or fd < 0:
        return ""
    fi = tinfo.fdtable.get(fd)
    if fi is None:
        return ""
    proto = ""
    if fi.type in ("4", "6") and (fi.role or fi.l4proto == "raw"):  # upstream's get_l4proto
        proto = _L4CHAR.get(fi.l4proto, "")
    return f"<{typechar(fi.type)}{proto}>{fi.name}"


def dirfd_base(sevt: "SinspEvent", dirfd: int | None) -> str:
    """The directory a relative path of the event is relative to (with trailing '/')."""
    tinfo = sevt.tinfo
    if tinfo is None:
        return ""
    if dirfd is None or dirfd == AT_FDCWD:
        return tinfo.get_cwd()
    fi = tinfo.fdtable.get(dirfd)
    if fi is None or not fi.name:
        return ""
    return fi.name if fi.name.endswith("/") else fi.name + "/"


def param_text(sevt: "SinspEvent", i: int, max_len: int | None = DEFAULT_MAX_LEN) -> tuple[str, str]:
    """(value, resolved) text of parameter ``i`` of the event (resolved may be '')."""
    evt = sevt.evt
    assert evt is not None
    info = evt.param_info(i)
    raw = evt.raw_param(i)
    if info is None:
        from libscap.render import printable

        return printable(raw, max_len), ""
    ptype = info.type
    if raw and ptype in _SPLIT:
        return split_text(evt[5], i, raw)
    if ptype in _FD_TYPES and raw:
        value = evt.param(i)
        if value is not None:
            # an error code: its name in the cached split text
            return (str(value), fd_resolved(sevt, value)) if value >= 0 else split_text(evt[5], i, raw)
    text = render(info, raw, max_len)
    if not raw or ptype in _UNRESOLVED:
        return text, ""
    if ptype == _FDLIST:
        table = sevt.tinfo.fdtable if sevt.tinfo is not None else {}
        fds = evt.param(i) or ()
        return " ".join("%d:%s%x" % (fd, typechar(table[fd].type) if fd in table else "?", flags)
                        for fd, flags in fds), ""
    if ptype in _PID_TYPES:
        t = _thread(sevt, evt.param(i))
        return text, (t.comm if t is not None else "")
    if ptype in _ID_TYPES:
        value = evt.param(i)
        if value == 0xFFFFFFFF:
            return "-1", "<NONE>"
        insp = sevt.inspector
        table = None if insp is None else (insp.users if ptype == _UID else insp.groups)
        entry = None if table is None or sevt.tinfo is None else table.get(value)
        return text, (entry.name if entry is not None and entry.name else "<NA>")
    if ptype in _PATH_TYPES:
        path = evt.param(i) or ""
        if sevt.tinfo is None or not path or path.startswith("/") or path == "<NA>":
            return text, ""
        dirfd = None
        if ptype == _FSRELPATH and isinstance(info.info, int):
            dirfd = evt.param(info.info) if info.info < evt.nparams else None
        return text, concatenate_paths(dirfd_base(sevt, dirfd), path)
    return text, ""


def has_split_text(code: int, i: int) -> bool:
    """Is parameter ``i`` of events of ``code`` a number printed with symbolic names
    (flags, errno...), whose text ``split_text`` gives?"""
    params = EVENTS[code].params if code < len(EVENTS) else ()
    return i < len(params) and params[i].type in _SPLIT


@lru_cache(maxsize=4096)
def split_text(etype: int, i: int, raw: bytes) -> tuple[str, str]:
    """(value, names) of parameter ``i`` of an event of type ``etype``, a number printed
    with symbolic names (flags, errno, mode...): it depends on the bytes alone, and
    rendering flags walks a whole flag table, so the texts are cached (evt.arg.flags
    of every open cost ~7 us uncached), keyed by ints and bytes (hashing the
    ParamInfo dataclass cost ~0.5 us a call)."""
    num, sep, rest = render(EVENTS[etype].params[i], raw, None).partition("(")
    return (num, rest[:-1]) if sep else (num, "")


def args_text(sevt: "SinspEvent", max_len: int | None = DEFAULT_MAX_LEN) -> str:
    """``evt.args``: every parameter as ``name=value`` or ``name=value(resolved)``."""
    evt = sevt.evt
    assert evt is not None
    if evt[5] == _GENERIC_X:
        return ""
    out = []
    for i in range(evt.nparams):
        info = evt.param_info(i)
        name = info.name if info is not None else f"arg{i}"
        value, resolved = param_text(sevt, i, max_len)
        out.append(f"{name}={value}({resolved})" if resolved else f"{name}={value}")
    return " ".join(out)
