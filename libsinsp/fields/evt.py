"""evt.* and syscall.type: fields of the event itself (time, type, arguments, result).

Semantics follow upstream's sinsp_filtercheck_gen_event/event: times in local
time with nanoseconds, ``evt.res`` "SUCCESS" or the errno name, ``evt.arg.X``
the resolved text (``<f>/etc/passwd`` for an fd), ``evt.rawarg.X`` the decoded
number/string with the parameter's own type. Events carry a result when they are
syscall exit events with at least one parameter (the first one), generic
events excepted.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from libscap.render import event_name
from libscap.schema import EC, EF, EVENTS, FLAG_TABLES, PPM_SC_NAMES, PPME, PT

from libsinsp.fields import readers
from libsinsp.fields.args import args_text, concatenate_paths, dirfd_base, has_split_text, param_text, split_text
from libsinsp.fields.registry import CodeFactory, FieldClass, FieldError, SinspFieldRegistry, simple, spec
from libsinsp.filter.fields import ArgRule, Constant

if TYPE_CHECKING:
    from libsinsp.event import SinspEvent

_NS = 1_000_000_000
_OPENS = frozenset((PPME.SYSCALL_OPEN_X, PPME.SYSCALL_OPENAT_2_X, PPME.SYSCALL_OPENAT2_X,
                    PPME.SYSCALL_OPEN_BY_HANDLE_AT_X))  # fmt: skip
_NEW_OPENS = frozenset((PPME.SYSCALL_OPENAT_2_X, PPME.SYSCALL_OPENAT2_X))
_OFLAGS = dict(FLAG_TABLES["file_flags"])
PPM_O_RDONLY, PPM_O_WRONLY, PPM_O_CREAT = _OFLAGS["O_RDONLY"], _OFLAGS["O_WRONLY"], _OFLAGS["O_CREAT"]
PPM_O_TMPFILE, PPM_O_F_CREATED = _OFLAGS["O_TMPFILE"], _OFLAGS["O_F_CREATED"]
_EXEC_BITS = 0o111
_CATEGORIES = {
    EC.UNKNOWN: "unknown", EC.OTHER: "other", EC.FILE: "file", EC.NET: "net", EC.IPC: "IPC",
    EC.MEMORY: "memory", EC.PROCESS: "process", EC.SLEEP: "sleep", EC.SYSTEM: "system",
    EC.SIGNAL: "signal", EC.USER: "user", EC.TIME: "time", EC.PROCESSING: "processing",
    EC.WAIT: "wait", EC.SCHEDULER: "scheduler", EC.INTERNAL: "internal",
}  # fmt: skip
_IO_SUB = {"f": "file", "d": "file", "4": "net", "6": "net", "p": "ipc", "u": "ipc",
           "e": "ipc", "s": "ipc", "i": "ipc", "r": "ipc"}  # fmt: skip


# Sets of event codes, computed once: an enum member or IntFlag operation per event
# costs ~0.1-1 us in Python.
_SYSCALL_CODES = frozenset(e.id for e in EVENTS if e.category & EC.SYSCALL)
#: upstream's has_return_value by code: syscall exit events, generic ones excepted
_RESULT_CODES = frozenset(c for c in _SYSCALL_CODES if c & 1 == 1 and c != PPME.GENERIC_X)


def is_syscall(sevt: "SinspEvent") -> bool:
    return sevt.evt[5] in _SYSCALL_CODES


def has_result(sevt: "SinspEvent") -> bool:
    """Upstream's has_return_value: a syscall exit event with parameters, not generic."""
    evt = sevt.evt
    return evt[5] in _RESULT_CODES and evt[6] > 0


def result(sevt: "SinspEvent") -> int | None:
    return _raw_result(sevt) if has_result(sevt) else None


def _raw_result(sevt: "SinspEvent") -> int | None:
    """The result of an event of a code that has one (see _result_for_code)."""
    evt = sevt.evt
    v = evt.param(0) if evt[6] > 0 else None
    return v if isinstance(v, int) else None


def _localtime(ns: int, fmt: str) -> str:
    return time.strftime(fmt, time.localtime(ns // _NS))


def _flags(sevt: "SinspEvent") -> int:
    info = sevt.evt.info
    return int(info.flags) if info is not None else 0


def _category(sevt: "SinspEvent") -> str:
    info = sevt.evt.info
    if info is None:
        return "unknown"
    cat = info.category & ~(EC.SYSCALL | EC.TRACEPOINT | EC.PLUGIN | EC.METAEVENT | EC.ITER)
    if cat & EC.IO_BASE:
        fi = sevt.fdinfo
        return "unknown" if fi is None else _IO_SUB.get(fi.type, "unknown")
    try:
        return _CATEGORIES.get(EC(cat), "unknown")
    except ValueError:
        return "unknown"


#: open-family event type -> the position of its flags parameter
_OPEN_FLAGS_AT = {t: 3 if t in _NEW_OPENS else 2 for t in _OPENS}


def _open_flag_at(field: str, code: int, idx: int) -> Callable[["SinspEvent"], bool]:
    """evt.is_open_<field> of the events of open-family ``code``, flags at ``idx``."""
    if field in ("read", "write"):
        bit = PPM_O_RDONLY if field == "read" else PPM_O_WRONLY

        def extract_bit(sevt: "SinspEvent") -> bool:
            evt = sevt.evt
            return idx < evt[6] and bool((evt.param(idx) or 0) & bit)

        return readers.open_bit(extract_bit, idx, bit)

    by_handle = code == PPME.SYSCALL_OPEN_BY_HANDLE_AT_X

    def extract(sevt: "SinspEvent") -> bool:
        evt = sevt.evt
        flags = (evt.param(idx) if idx < evt[6] else None) or 0
        if field == "create":
            if flags & PPM_O_F_CREATED:
                return True
            res = result(sevt)
            return bool(flags & PPM_O_TMPFILE) and res is not None and res >= 0
        if flags & (PPM_O_TMPFILE | PPM_O_CREAT) and not by_handle:
            mode = evt.param(idx + 1) if idx + 1 < evt[6] else None
            return bool((mode or 0) & _EXEC_BITS)
        return False

    return extract


def _open_flag(field: str) -> tuple[Callable[["SinspEvent"], bool], CodeFactory]:
    """evt.is_open_<field>: (the extractor, the one per event code: False on others)."""
    per_code = {code: _open_flag_at(field, code, idx) for code, idx in _OPEN_FLAGS_AT.items()}

    def extract(sevt: "SinspEvent") -> bool:
        fn = per_code.get(sevt.evt[5])
        return fn is not None and fn(sevt)

    return extract, lambda arg, code: per_code.get(code, Constant(False))


#: evt.is_open_<field>: (the extractor, the one per event code)
_OPEN_FLAG = {field: _open_flag(field) for field in ("read", "write", "exec", "create")}


def _result_text(res_of: Callable[["SinspEvent"], int | None]) -> Callable[["SinspEvent"], str | None]:
    """evt.res, ``res_of`` the result: SUCCESS, or parameter 0's name for the error."""

    def extract(sevt: "SinspEvent") -> str | None:
        res = res_of(sevt)
        if res is None:
            return None
        if res >= 0:
            return "SUCCESS"
        value, resolved = param_text(sevt, 0)
        return resolved or value

    return extract


def _failed(res_of: Callable[["SinspEvent"], int | None]) -> Callable[["SinspEvent"], bool]:
    """evt.failed, ``res_of`` the result."""
    return lambda sevt: (res := res_of(sevt)) is not None and res < 0


def _arg_index(arg: str) -> int | None:
    return int(arg) if arg.isdigit() else None


def _make_arg(arg: str | None) -> Callable[["SinspEvent"], Any]:
    """evt.arg[N] / evt.arg.NAME: the resolved text when there is one, else the value."""
    if not arg:
        raise FieldError("field 'evt.arg' requires an argument")
    idx = _arg_index(arg)

    def extract(sevt: "SinspEvent") -> str | None:
        evt = sevt.evt
        i = idx if idx is not None else evt.param_index(arg)
        if i is None or i >= evt.nparams:
            return None
        value, resolved = param_text(sevt, i)
        return resolved or value

    return extract


def _arg_for_code(arg: str | None, code: int) -> Callable[["SinspEvent"], Any] | Constant | None:
    """evt.arg of the events of ``code``: the parameter's position is the code's."""
    if code >= len(EVENTS) or not arg:
        return None
    idx = _arg_index(arg)
    i = idx if idx is not None else EVENTS[code].param_positions.get(arg)
    if i is None:
        return Constant(None)

    def extract(sevt: "SinspEvent") -> str | None:
        if i >= sevt.evt[6]:
            return None
        value, resolved = param_text(sevt, i)
        return resolved or value

    return readers.split_arg(extract, code, i, split_text) if has_split_text(code, i) else extract


def _result_for_code(make: Callable[[int], Callable[["SinspEvent"], Any]], without: Any = None) -> CodeFactory:
    """A result field (evt.res, evt.rawres, evt.failed...) of the events of one code:
    ``without`` (missing, or evt.failed's False) on codes without a result
    (upstream's has_return_value), ``make(code)``'s on the others (where only an
    empty event has none)."""

    def for_code(arg: str | None, code: int) -> Callable[["SinspEvent"], Any] | Constant | None:
        if code >= len(EVENTS):
            return None
        return make(code) if code in _RESULT_CODES else Constant(without)

    return for_code


def rawarg_type(arg: str) -> tuple[str, str] | None:
    """(PT name, print format) of the first event parameter called ``arg`` (evt.rawarg)."""
    for info in EVENTS:
        for p in info.params:
            if p.name == arg:
                return _RAW_PTYPES.get(p.type, ("CHARBUF", "NA"))[0], _RAW_FMT.get(p.fmt.name, "DEC")
    return None


_RAW_PTYPES: dict[PT, tuple[str]] = {
    PT.INT8: ("INT8",), PT.INT16: ("INT16",), PT.INT32: ("INT32",), PT.INT64: ("INT64",),
    PT.UINT8: ("UINT8",), PT.UINT16: ("UINT16",), PT.UINT32: ("UINT32",), PT.UINT64: ("UINT64",),
    PT.ERRNO: ("INT64",), PT.FD: ("INT64",), PT.PID: ("INT64",), PT.FD32: ("INT32",),
    PT.PID32: ("INT32",), PT.UID: ("UINT32",), PT.GID: ("UINT32",), PT.MODE: ("UINT32",),
    PT.FLAGS8: ("UINT8",), PT.FLAGS16: ("UINT16",), PT.FLAGS32: ("UINT32",),
    PT.ENUMFLAGS8: ("UINT8",), PT.ENUMFLAGS16: ("UINT16",), PT.ENUMFLAGS32: ("UINT32",),
    PT.SYSCALLID: ("UINT16",), PT.SIGTYPE: ("UINT8",), PT.PORT: ("PORT",),
    PT.L4PROTO: ("L4PROTO",), PT.SOCKFAMILY: ("UINT8",), PT.BOOL: ("BOOL",),
    PT.RELTIME: ("RELTIME",), PT.ABSTIME: ("ABSTIME",), PT.DOUBLE: ("DOUBLE",),
    PT.BYTEBUF: ("BYTEBUF",), PT.FSPATH: ("FSPATH",), PT.FSRELPATH: ("FSPATH",),
    PT.IPV4ADDR: ("IPADDR",), PT.IPV6ADDR: ("IPADDR",), PT.IPADDR: ("IPADDR",),
}  # fmt: skip
_RAW_FMT = {"DEC": "DEC", "HEX": "HEX", "OCT": "OCT", "ID": "ID", "10_PADDED_DEC": "PADDED"}


def _make_rawarg(arg: str | None) -> Callable[["SinspEvent"], Any]:
    if not arg or rawarg_type(arg) is None:
        raise FieldError(f"field 'evt.rawarg': no event parameter called '{arg}'")
    import ipaddress

    def extract(sevt: "SinspEvent") -> Any:
        evt = sevt.evt
        i = evt.param_index(arg)
        if i is None:
            return None
        v = evt.param(i)
        info = evt.param_info(i)
        if info is not None and info.type in (PT.IPV4ADDR, PT.IPV6ADDR, PT.IPADDR) and v is not None:
            return ipaddress.ip_address(v)
        if info is not None and info.type == PT.UID and v == 0xFFFFFFFF:
            return v
        return v if isinstance(v, (int, str, bytes, float)) else None

    return extract


def _buffer(sevt: "SinspEvent") -> bytes | None:
    evt = sevt.evt
    i = evt.param_index("data")
    if i is None:
        return None
    if i >= evt.nparams:
        return None
    v = evt.param(i)
    if v is None:  # an empty buffer is still a buffer (upstream's extract_argraw: length 0)
        return b""
    return v if isinstance(v, bytes) else None


def _buflen(sevt: "SinspEvent") -> int | None:
    """The result of I/O-category exit events on a known fd (upstream's extract_buflen)."""
    info = sevt.evt.info
    if info is None or not info.category & EC.IO_BASE or sevt.fdinfo is None:
        return None
    res = result(sevt)
    return res if res is not None and res >= 0 else None


def _make_type_is(arg: str | None) -> Callable[["SinspEvent"], int]:
    if not arg:
        raise FieldError("field 'evt.type.is' requires an event type argument")
    return lambda sevt: int(event_name(sevt.evt) == arg)


def _make_abspath(arg: str | None) -> Callable[["SinspEvent"], str | None]:
    """evt.abspath[.src|.dst]: a path argument joined to its dirfd argument."""
    pairs = {None: (("dirfd", "name"), ("newdirfd", "linkpath"), ("dirfd", "path")),
             "src": (("olddirfd", "oldpath"),), "dst": (("newdirfd", "newpath"),)}  # fmt: skip
    key = arg if arg in ("src", "dst") else None
    if arg not in (None, "src", "dst"):
        raise FieldError(f"field 'evt.abspath': argument must be src or dst, not '{arg}'")

    def extract(sevt: "SinspEvent") -> str | None:
        evt = sevt.evt
        for dname, pname in pairs[key]:
            di, pi = evt.param_index(dname), evt.param_index(pname)
            if pi is None:
                continue
            path = evt.param(pi)
            if not path:
                return None
            dirfd = evt.param(di) if di is not None else None
            base = dirfd_base(sevt, dirfd)
            return concatenate_paths(base, path) if (base or path.startswith("/")) else None
        return None

    return extract


def _first_ts(sevt: "SinspEvent") -> int | None:
    return getattr(sevt.inspector, "first_ts", None) if sevt.inspector is not None else None


def _reltime(sevt: "SinspEvent") -> int | None:
    first = _first_ts(sevt)
    return None if first is None else sevt.evt.ts - first


def _make_deltatime(part: str | None) -> Callable[[str | None], Callable[["SinspEvent"], int]]:
    """evt.deltatime[.s|.ns]: time since the previous event this field (this instance, as
    upstream's per-filtercheck state) was extracted on; 0 the first time."""

    def make(arg: str | None) -> Callable[["SinspEvent"], int]:
        prev = [0]

        def extract(sevt: "SinspEvent") -> int:
            ts = sevt.evt.ts
            last, prev[0] = prev[0], ts
            if not last:
                return 0
            delta = ts - last
            return delta if part is None else (delta // _NS if part == "s" else delta % _NS)

        return extract

    return make


def _error_count(sevt: "SinspEvent") -> int | None:
    """upstream's extract_error_count: 1 for a failed event, 0 for a successful one,
    missing for events without a return value."""
    res = result(sevt)
    return None if res is None else int(res < 0)


_FILE_TYPES = ("f", "d")
_NET_TYPES = ("4", "6", "u")
_OPEN_X = frozenset([PPME.SYSCALL_OPEN_X, PPME.SYSCALL_CREAT_X, PPME.SYSCALL_OPENAT_2_X, PPME.SYSCALL_OPENAT2_X,
                     PPME.SYSCALL_OPEN_BY_HANDLE_AT_X])
_NET_X = frozenset([PPME.SOCKET_ACCEPT_5_X, PPME.SOCKET_ACCEPT4_6_X, PPME.SOCKET_CONNECT_X])


def _is_memory(sevt: "SinspEvent") -> bool:
    info = sevt.evt.info
    return info is not None and info.category & ~(EC.SYSCALL | EC.TRACEPOINT | EC.PLUGIN | EC.METAEVENT
                                                  | EC.ITER) == EC.MEMORY


def _error_count_of(kind: str) -> Callable[["SinspEvent"], int | None]:
    """evt.count.error.file/net/memory/other: the error count of events on that kind of
    fd (or, without a known fd, of the calls that create one), as upstream."""

    def extract(sevt: "SinspEvent") -> int | None:
        if kind == "memory":
            return _error_count(sevt) if _is_memory(sevt) else None
        fi = sevt.fdinfo if sevt.tinfo is not None else None
        if fi is not None:
            is_file, is_net = fi.type in _FILE_TYPES, fi.type in _NET_TYPES
        else:
            t = sevt.evt.type
            is_file, is_net = t in _OPEN_X, t in _NET_X
            if kind == "other" and _is_memory(sevt):
                return None
        match = is_file if kind == "file" else is_net if kind == "net" else not (is_file or is_net)
        return _error_count(sevt) if match else None

    return extract


def _hostname(sevt: "SinspEvent") -> str:
    return os.environ.get("FALCO_HOSTNAME") or socket.gethostname()


#: event names by code, None for the generic events (named by their syscall)
_TYPE_NAMES: tuple[str | None, ...] = tuple(
    None if e.id in (PPME.GENERIC_E, PPME.GENERIC_X) else e.name for e in EVENTS)  # fmt: skip


def _evt_type(sevt: "SinspEvent") -> str:
    """event_name from a table: that one reads the type through three properties
    and two enum members (~600 ns a call, the hottest field of rules)."""
    evt = sevt.evt
    code = evt.type
    name = _TYPE_NAMES[code] if code < len(_TYPE_NAMES) else "NA"
    return name if name is not None else event_name(evt)


def _syscall_type(sevt: "SinspEvent") -> str | None:
    if not is_syscall(sevt):
        return None
    return event_name(sevt.evt)


def _C(name: str, ptype: str, desc: str, fn: Callable[["SinspEvent"], Any], **kw: Any):  # noqa: N802
    return spec("evt", name, ptype, desc, simple(fn), **kw)


def _rel(fn: Callable[["SinspEvent"], int | None], part: str) -> Callable[["SinspEvent"], int | None]:
    def extract(sevt: "SinspEvent") -> int | None:
        v = fn(sevt)
        if v is None:
            return None
        return v // _NS if part == "s" else v % _NS

    return extract


EVT = FieldClass("evt", "Generic event fields and fields of system call events.", (
    _C("evt.num", "UINT64", "event number (counts the events libsinsp returns)", lambda e: e.num, fmt="ID"),
    _C("evt.time", "CHARBUF", "event time as HH:MM:SS.nanoseconds (local time)",
       lambda e: _localtime(e.evt.ts, "%H:%M:%S") + ".%09d" % (e.evt.ts % _NS)),
    _C("evt.outputtime", "CHARBUF", "event time as the output is configured (evt.time by default)",
       lambda e: _localtime(e.evt.ts, "%H:%M:%S") + ".%09d" % (e.evt.ts % _NS), flags=("print_only",)),
    _C("evt.time.s", "CHARBUF", "event time as HH:MM:SS (local time)",
       lambda e: _localtime(e.evt.ts, "%H:%M:%S")),
    _C("evt.time.iso8601", "CHARBUF", "event time in ISO 8601 with nanoseconds, UTC",
       lambda e: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(e.evt.ts // _NS)) + ".%09dZ" % (e.evt.ts % _NS)),
    _C("evt.datetime", "CHARBUF", "event date and time with nanoseconds (local time)",
       lambda e: _localtime(e.evt.ts, "%Y-%m-%d %H:%M:%S") + ".%09d" % (e.evt.ts % _NS)),
    _C("evt.datetime.s", "CHARBUF", "event date and time without nanoseconds (local time)",
       lambda e: _localtime(e.evt.ts, "%Y-%m-%d %H:%M:%S")),
    _C("evt.rawtime", "ABSTIME", "event time in nanoseconds since the epoch", lambda e: e.evt.ts, fmt="DEC"),
    _C("evt.rawtime.s", "ABSTIME", "whole seconds of evt.rawtime", lambda e: e.evt.ts // _NS, fmt="DEC"),
    _C("evt.rawtime.ns", "ABSTIME", "nanosecond part of evt.rawtime", lambda e: e.evt.ts % _NS, fmt="PADDED"),
    _C("evt.reltime", "RELTIME", "nanoseconds since the first event of the capture", _reltime, fmt="PADDED"),
    _C("evt.reltime.s", "RELTIME", "whole seconds of evt.reltime", _rel(_reltime, "s"), fmt="DEC"),
    _C("evt.reltime.ns", "RELTIME", "nanosecond part of evt.reltime", _rel(_reltime, "ns"), fmt="PADDED"),
    _C("evt.source", "CHARBUF", "name of the event source that produced the event", lambda e: e.source),
    _C("evt.is_async", "BOOL", "true for events libsinsp generated asynchronously (metaevents)",
       lambda e: bool(e.evt.info is not None and e.evt.info.category & EC.METAEVENT)),
    _C("evt.hostname", "CHARBUF", "host name (FALCO_HOSTNAME overrides)", _hostname),
    _C("evt.dir", "CHARBUF", "'>' for enter events, '<' for exit events", lambda e: e.evt.direction,
       fmt="DIR", flags=("deprecated",)),
    _C("evt.type", "CHARBUF", "event name, e.g. 'open' (generic events by their syscall name)", _evt_type),
    spec("evt", "evt.type.is", "UINT32", "1 when the event type is the argument (evt.type.is.open)",
         _make_type_is, arg=ArgRule.REQUIRED_KEY, fmt="DEC"),
    _C("syscall.type", "CHARBUF", "for system call events, the syscall name; unset otherwise", _syscall_type),
    _C("evt.category", "CHARBUF", "event category: file, net, IPC, memory, process, ...", _category),
    _C("evt.cpu", "INT16", "CPU the event happened on", lambda e: e.evt.cpu if e.evt.cpu >= 0 else None, fmt="ID"),
    _C("evt.args", "CHARBUF", "every argument as name=value, resolved values in parentheses", args_text),
    spec("evt", "evt.arg", "CHARBUF", "one argument by name (evt.arg.fd) or position (evt.arg[0]), "
         "resolved when possible", _make_arg, arg=ArgRule.REQUIRED_INDEX_OR_KEY),
    spec("evt", "evt.rawarg", "DYN", "one argument by name, as a number or string of its own type "
         "(evt.rawarg.res < 0)", _make_rawarg, arg=ArgRule.REQUIRED_KEY, flags=("no_transformer",)),
    _C("evt.info", "CHARBUF", "same as evt.args", args_text),
    _C("evt.buffer", "BYTEBUF", "the data buffer of I/O events (read, write, sendto...)", _buffer),
    _C("evt.buflen", "UINT64", "length of the data buffer of I/O events", _buflen, fmt="DEC"),
    _C("evt.res", "CHARBUF", "result: SUCCESS, or the error name (ENOENT)", _result_text(result)),
    _C("evt.rawres", "INT64", "result as a number (-2)", result, fmt="DEC"),
    _C("evt.failed", "BOOL", "true when the event returned an error", _failed(result)),
    _C("evt.is_io", "BOOL", "true for events that read or write fds",
       lambda e: bool(_flags(e) & (EF.READS_FROM_FD | EF.WRITES_TO_FD))),
    _C("evt.is_io_read", "BOOL", "true for events that read from fds",
       lambda e: bool(_flags(e) & EF.READS_FROM_FD)),
    _C("evt.is_io_write", "BOOL", "true for events that write to fds",
       lambda e: bool(_flags(e) & EF.WRITES_TO_FD)),
    _C("evt.io_dir", "CHARBUF", "'read' or 'write' for I/O events",
       lambda e: "write" if _flags(e) & EF.WRITES_TO_FD else ("read" if _flags(e) & EF.READS_FROM_FD else None)),
    _C("evt.is_wait", "BOOL", "true for events that make the thread wait (sleep, poll...)",
       lambda e: bool(_flags(e) & EF.WAITS)),
    _C("evt.is_syslog", "BOOL", "true for writes to /dev/log",
       lambda e: bool(_flags(e) & EF.WRITES_TO_FD) and e.fdinfo is not None and e.fdinfo.name == "/dev/log"),
    _C("evt.count", "UINT32", "always 1 (for counting)", lambda e: 1, fmt="DEC"),
    _C("evt.count.error", "UINT32", "1 for events that returned an error, 0 for those that succeeded",
       _error_count, fmt="DEC"),
    _C("evt.count.error.file", "UINT32", "evt.count.error of events on files and directories",
       _error_count_of("file"), fmt="DEC"),
    _C("evt.count.error.net", "UINT32", "evt.count.error of events on network sockets",
       _error_count_of("net"), fmt="DEC"),
    _C("evt.count.error.memory", "UINT32", "evt.count.error of memory events", _error_count_of("memory"),
       fmt="DEC"),
    _C("evt.count.error.other", "UINT32", "evt.count.error of events that are not file, network or memory "
       "ones", _error_count_of("other"), fmt="DEC"),
    spec("evt", "evt.deltatime", "RELTIME", "nanoseconds since the previous event", _make_deltatime(None),
         fmt="DEC"),
    spec("evt", "evt.deltatime.s", "RELTIME", "whole seconds of evt.deltatime", _make_deltatime("s"), fmt="DEC"),
    spec("evt", "evt.deltatime.ns", "RELTIME", "nanosecond part of evt.deltatime", _make_deltatime("ns"),
         fmt="PADDED"),
    _C("evt.latency", "RELTIME", "exit minus enter time; always 0 in current libs (exit-only events)",
       lambda e: 0, fmt="DEC", flags=("deprecated",)),
    _C("evt.latency.s", "RELTIME", "whole seconds of evt.latency (0)", lambda e: 0, fmt="DEC",
       flags=("deprecated",)),
    _C("evt.latency.ns", "RELTIME", "nanosecond part of evt.latency (0)", lambda e: 0, fmt="PADDED",
       flags=("deprecated",)),
    _C("evt.latency.human", "CHARBUF", "evt.latency as text ('0ns')", lambda e: "0ns", flags=("deprecated",)),
    _C("evt.wait_latency", "RELTIME", "time waited by a waiting call; always 0 in current libs", lambda e: 0,
       fmt="DEC", flags=("deprecated",)),
    _C("evt.count.exit", "UINT32", "1 for exit events", lambda e: 1 if e.evt.type & 1 else None, fmt="DEC"),
    spec("evt", "evt.abspath", "CHARBUF", "absolute path from a dirfd and a path argument "
         "(evt.abspath.src, evt.abspath.dst for renames and links)", _make_abspath, arg=ArgRule.OPTIONAL_KEY),
    _C("evt.is_open_read", "BOOL", "true for opens of a path for reading", _OPEN_FLAG["read"][0]),
    _C("evt.is_open_write", "BOOL", "true for opens of a path for writing", _OPEN_FLAG["write"][0]),
    _C("evt.is_open_exec", "BOOL", "true for opens that create a file with an execute bit", _OPEN_FLAG["exec"][0]),
    _C("evt.is_open_create", "BOOL", "true for opens that created a file", _OPEN_FLAG["create"][0]),
))  # fmt: skip

CLASSES = (EVT,)


def install(reg: SinspFieldRegistry) -> None:
    """Hooks that need the registry itself: evt.rawarg's type depends on its argument;
    an evt.type value must name an event, a syscall or a loaded plugin's async event
    (upstream's validate_filter_value, for every operator)."""
    reg.set_dynamic_type("evt.rawarg", rawarg_type)
    for field, (_, for_code) in _OPEN_FLAG.items():
        reg.set_code_extractor(f"evt.is_open_{field}", for_code)
    reg.set_code_extractor("evt.arg", _arg_for_code)
    reg.set_code_extractor("evt.rawres", _result_for_code(lambda code: _raw_result))
    reg.set_code_extractor("evt.failed", _result_for_code(lambda code: _failed(_raw_result), without=False))
    reg.set_code_extractor("evt.res", _result_for_code(lambda code: _result_text(_raw_result)))
    names = frozenset(e.name for e in EVENTS) | frozenset(PPM_SC_NAMES.values())
    reg.set_value_validator("evt.type", lambda v: None if v in names or v in reg.async_event_names
                            else f"unknown event type {v}")  # fmt: skip
