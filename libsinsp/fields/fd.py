"""fd.*: the file descriptor the event acts on (``SinspEvent.fdinfo``).

Only events flagged as creating, using or destroying an fd have fd fields
(upstream's extract_fd). Client/server follow the tuple (``sip``/``sport`` is
the client end, ``dip``/``dport`` the server end; a listening socket has only
its server address); local/remote depend on whether the client address is one
of this machine's interface addresses (the capture's interface list, or
loopback when none is known). When the fd is unknown (a failed open), fd.name
and fd.directory come from the event's path argument, as upstream does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from libscap.schema import EF, EVENTS, PPME

from libsinsp.fdinfo import FD_TYPE_NAMES
from libsinsp.fields import readers
from libsinsp.fields.args import UPSTREAM_CHAR, concatenate_paths, dirfd_base, param_text, typechar
from libsinsp.fields.container import container_id
from libsinsp.fields.registry import FieldClass, FieldError, SinspFieldRegistry, spec
from libsinsp.filter.fields import AnyOf, ArgRule, Constant

if TYPE_CHECKING:
    from libsinsp.event import SinspEvent
    from libsinsp.fdinfo import FdInfo

_FD_FLAGS = EF.CREATES_FD | EF.USES_FD | EF.DESTROYS_FD
_INET = ("4", "6")
_FILE = ("f",)
#: fd type letter of fd-creating events whose fd is unknown (upstream's extract_typechar)
_EVENT_TYPECHAR = {
    PPME.SYSCALL_OPEN_X: "f", PPME.SYSCALL_CREAT_X: "f", PPME.SYSCALL_OPENAT_2_X: "f",
    PPME.SYSCALL_OPENAT2_X: "f", PPME.SYSCALL_OPEN_BY_HANDLE_AT_X: "f",
    PPME.SYSCALL_PIPE_X: "p", PPME.SYSCALL_PIPE2_X: "p", PPME.SYSCALL_EVENTFD_X: "e",
    PPME.SYSCALL_EVENTFD2_X: "e", PPME.SYSCALL_SIGNALFD_X: "s", PPME.SYSCALL_SIGNALFD4_X: "s",
    PPME.SYSCALL_INOTIFY_INIT_X: "i", PPME.SYSCALL_INOTIFY_INIT1_X: "i",
    PPME.SYSCALL_TIMERFD_CREATE_X: "t", PPME.SYSCALL_EPOLL_CREATE_X: "l",
    PPME.SYSCALL_EPOLL_CREATE1_X: "l",
}  # fmt: skip


#: codes of the events flagged as creating, using or destroying an fd (a set: IntFlag
#: arithmetic per event is slow)
_FD_CODES = frozenset(e.id for e in EVENTS if e.flags & _FD_FLAGS)


# Every fd field is written for events of the fd codes (the extractor a rule compiled
# for one such code runs); on any other event the field is missing (_F).


def _fd(fn: Callable[["SinspEvent", "FdInfo"], Any]) -> Callable[["SinspEvent"], Any]:
    """An extractor over the event's fd (missing when the fd is unknown)."""

    def extract(sevt: "SinspEvent") -> Any:
        if sevt.tinfo is None:
            return None
        fi = sevt.fdinfo
        return None if fi is None else fn(sevt, fi)

    return extract


#: fd-creating exit events whose parameter 1 names what the fd would be
_NAME_AT_1 = frozenset(int(t) for t in (PPME.SYSCALL_OPEN_X, PPME.SOCKET_ACCEPT_5_X, PPME.SOCKET_ACCEPT4_6_X,
                                        PPME.SYSCALL_CREAT_X, PPME.SOCKET_CONNECT_X))
#: openat exits: a path (parameter 2) relative to a dirfd (parameter 1)
_NAME_AT_DIRFD = frozenset((int(PPME.SYSCALL_OPENAT_2_X), int(PPME.SYSCALL_OPENAT2_X)))
_BY_HANDLE_X = int(PPME.SYSCALL_OPEN_BY_HANDLE_AT_X)


def _name_from_event(sevt: "SinspEvent", raw: bool) -> str | None:
    """fd.name of an fd-creating event whose fd is unknown (its path/address argument)."""
    evt = sevt.evt
    t = evt[5]
    if t & 1 == 0:
        return None
    if t in _NAME_AT_1:
        if evt.nparams < 2:
            return None
        value, resolved = param_text(sevt, 1, None)
        return resolved or value
    if t in _NAME_AT_DIRFD:
        name = evt.param(2) if evt.nparams > 2 else None
        if not name:
            return None
        if raw:
            return name
        dirfd = evt.param(1)
        if dirfd is None:
            return None
        return concatenate_paths(dirfd_base(sevt, dirfd), name)
    if t == _BY_HANDLE_X:
        return evt.param(3) if evt.nparams > 3 else None
    return ""


def _fd_name(sevt: "SinspEvent") -> str | None:
    if sevt.tinfo is None:
        return None
    fi = sevt.fdinfo
    return _name_from_event(sevt, False) if fi is None else fi.name


def _fd_nameraw(sevt: "SinspEvent") -> str | None:
    if sevt.tinfo is None:
        return None
    fi = sevt.fdinfo
    name = _name_from_event(sevt, True) if fi is None else fi.nameraw
    if name is None:
        return None
    while "//" in name:
        name = name.replace("//", "/")
    return name


def _directory(sevt: "SinspEvent") -> str | None:
    if sevt.tinfo is None:
        return None
    fi = sevt.fdinfo
    if fi is None:
        name = _name_from_event(sevt, False)
        if name is None:
            return None
    elif fi.type not in ("f", "d"):
        return None
    else:
        name = fi.name
    if fi is None or fi.type == "f":
        pos = name.rfind("/")
        if pos > 0:
            if pos < len(name) - 1:
                name = name[:pos]
        else:
            name = "/"
    return name


def _filename(sevt: "SinspEvent", fi: "FdInfo") -> str | None:
    if fi.type != "f":
        return None
    pos = fi.name.rfind("/")
    if pos < 0:
        return "/"
    return fi.name[pos + 1 :] if pos < len(fi.name) - 1 else fi.name


def _typechar(sevt: "SinspEvent") -> str | None:
    if sevt.tinfo is None:
        return None
    fi = sevt.fdinfo
    return _EVENT_TYPECHAR.get(sevt.evt.type, "o") if fi is None else typechar(fi.type)


_ZERO = {"4": ipaddress.IPv4Address(0), "6": ipaddress.IPv6Address(0)}


def _is_local(sevt: "SinspEvent", ip: Any) -> bool:
    """Is ``ip`` an address of this machine? As upstream's sinsp_network_interfaces:
    an IPv4 address equal to an interface's, an IPv6 one in an interface's /64."""
    addrs = getattr(sevt.inspector, "interface_addresses", None)
    if ip is None:
        return False
    if addrs is not None:
        if ip.version == 4:
            return any(a == ip for a, _ in addrs.ipv4)
        return any(a.packed[:8] == ip.packed[:8] for a in addrs.ipv6)
    return ip.is_loopback


def _listening(fi: "FdInfo") -> bool:
    """upstream's SCAP_FD_IPV4_SERVSOCK / SCAP_FD_IPV6_SERVSOCK (bound with a port)."""
    return fi.role == "server" and fi.dip is None


def _addr(fi: "FdInfo", ip: Any) -> Any:
    """An address of an inet socket; never set means the zero address, as upstream's."""
    return _ZERO[fi.type] if ip is None else ip


def _connected(fi: "FdInfo") -> bool:
    return fi.type in _INET and fi.dip is not None and fi.role != ""


def _client(attr: str) -> Callable[["SinspEvent", "FdInfo"], Any]:
    """Client end (fd.cip, fd.cport): connected sockets with a role only."""
    port = attr == "sport"

    def value(sevt: "SinspEvent", fi: "FdInfo") -> Any:
        if fi.type not in _INET or not fi.role or _listening(fi):
            return None
        return fi.sport if port else _addr(fi, fi.sip)

    return value


def _server(attr: str) -> Callable[["SinspEvent", "FdInfo"], Any]:
    """Server end: the tuple's destination, or a listening socket's own address."""
    port = attr == "dport"

    def value(sevt: "SinspEvent", fi: "FdInfo") -> Any:
        if fi.type not in _INET or not fi.role:
            return None
        if _listening(fi):
            return fi.sport if port else _addr(fi, fi.sip)
        return fi.dport if port else _addr(fi, fi.dip)

    return value


def _local_remote(local: bool, port: bool) -> Callable[["SinspEvent", "FdInfo"], Any]:
    def value(sevt: "SinspEvent", fi: "FdInfo") -> Any:
        if fi.type not in _INET or not fi.role or _listening(fi):
            return None
        sip = _addr(fi, fi.sip)
        take_client = _is_local(sevt, sip) == local
        if port:
            return fi.sport if take_client else fi.dport
        return sip if take_client else _addr(fi, fi.dip)

    return value


def _is_server(sevt: "SinspEvent", fi: "FdInfo") -> bool:
    if fi.type not in _INET:
        return False
    if _listening(fi):
        return True
    return _is_local(sevt, _addr(fi, fi.dip))


def _proto(which: str) -> Callable[["SinspEvent", "FdInfo"], Any]:
    """fd.cproto/sproto/lproto/rproto: the port as text (upstream's port_to_string with
    name resolution off, its default). A bound server socket answers "" for the client and
    server ones (upstream fills the text only for connected sockets)."""
    port = _client("sport") if which == "c" else _local_remote(which == "l", True)

    def value(sevt: "SinspEvent", fi: "FdInfo") -> Any:
        if fi.type not in _INET or not fi.role:
            return None
        if _listening(fi):
            return "" if which in ("c", "s") else None
        v = fi.dport if which == "s" else port(sevt, fi)
        return None if v is None else str(v)

    return value


def l4proto(fi: "FdInfo") -> str:
    """upstream's get_l4proto: a socket with no role yet has none ("" here), except raw."""
    if fi.type in _INET and not fi.role and fi.l4proto != "raw":
        return ""
    return fi.l4proto


def _sockfamily(sevt: "SinspEvent", fi: "FdInfo") -> str | None:
    return "ip" if fi.type in _INET else ("unix" if fi.type == "u" else None)


def _fd_num(sevt: "SinspEvent") -> int | None:
    if sevt.tinfo is None:
        return None
    sevt.fdinfo  # noqa: B018 - the lookup sets sevt.fd
    return sevt.fd


def _make_types(arg: str | None) -> Callable[["SinspEvent"], Any]:
    if arg is not None and not arg.lstrip("-").isdigit():
        raise FieldError(f"field 'fd.types' takes an fd number, not '{arg}'")
    n = None if arg is None else int(arg)

    def extract(sevt: "SinspEvent") -> Any:
        t = sevt.tinfo
        if t is None:
            return None
        if n is not None:
            fi = t.fdtable.get(n)
            return None if fi is None else (FD_TYPE_NAMES.get(fi.type, "unknown"),)
        seen: dict[str, None] = {}
        for fi in t.fdtable.values():
            seen.setdefault(FD_TYPE_NAMES.get(fi.type, "unknown"))
        return tuple(seen)

    return extract


def _net(which: str) -> Callable[["SinspEvent", "FdInfo"], Any]:
    """fd.net/fd.ip-style filter-only fields: the address a network/IP must match."""
    table = {"c": _client("sip"), "s": _server("dip"), "l": _local_remote(True, False),
             "r": _local_remote(False, False)}  # fmt: skip
    return table[which]


def _both_ends(port: bool) -> Callable[["SinspEvent"], Any]:
    """fd.ip/fd.port/fd.net candidates: both ends of an inet tuple, or a listening
    socket's own address (upstream's compare_ip/compare_port/compare_net). One
    function (rules test them on every connect)."""

    def values(sevt: "SinspEvent") -> Any:
        if sevt.evt[5] not in _FD_CODES or sevt.tinfo is None:
            return None
        fi = sevt.fdinfo
        if fi is None or fi.type not in _INET:
            return None
        if _listening(fi):
            return (fi.sport,) if port else (_addr(fi, fi.sip),)
        return (fi.sport, fi.dport) if port else (_addr(fi, fi.sip), _addr(fi, fi.dip))

    return values


def _on_fd_events(extract: Callable[["SinspEvent"], Any]) -> Callable[["SinspEvent"], Any]:
    """``extract`` on events of the fd codes; missing on others."""
    return lambda sevt: extract(sevt) if sevt.evt[5] in _FD_CODES else None


#: field name -> its extractor factory as written (for the events of fd codes)
_WRITTEN: dict[str, Callable[[str | None], Callable[["SinspEvent"], Any]]] = {}


def _F(name: str, ptype: str, desc: str, fn: Callable[["SinspEvent"], Any] | None = None, *,  # noqa: N802
       make: Callable[[str | None], Callable[["SinspEvent"], Any]] | None = None, **kw: Any):  # fmt: skip
    """An fd field: ``fn`` (or ``make(arg)``) as written, missing on events of other codes."""
    written = make or (lambda arg: fn)
    _WRITTEN[name] = written
    return spec("fd", name, ptype, desc, lambda arg: _on_fd_events(written(arg)), **kw)


_FILTER_ONLY = ("filter_only", "no_rhs", "no_transformer")

FD = FieldClass("fd", "The file descriptor the event acts on (for events that use one).", (
    _F("fd.num", "INT64", "fd number", _fd_num, fmt="ID"),
    _F("fd.type", "CHARBUF", "fd type: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, "
       "inotify, timerfd, netlink, bpf, userfaultfd, io_uring, memfd, pidfd",
       _fd(lambda e, fi: FD_TYPE_NAMES.get(fi.type, "unknown"))),
    _F("fd.typechar", "CHARBUF", "fd type as one letter (f, 4, 6, u, p, e, s, l, i, b, ...; o unknown)",
       _typechar),
    _F("fd.name", "CHARBUF", "full name: the path of files, the connection tuple of sockets", _fd_name),
    _F("fd.directory", "CHARBUF", "directory of a file fd", _directory),
    _F("fd.filename", "CHARBUF", "file name of a file fd, without the directory", _fd(_filename)),
    _F("fd.ip", "IPADDR", "client or server address (filter only)", _fd(_client("sip")), flags=_FILTER_ONLY),
    _F("fd.cip", "IPADDR", "client address", _fd(_client("sip"))),
    _F("fd.sip", "IPADDR", "server address", _fd(_server("dip"))),
    _F("fd.lip", "IPADDR", "local address", _fd(_local_remote(True, False))),
    _F("fd.rip", "IPADDR", "remote address", _fd(_local_remote(False, False))),
    _F("fd.port", "PORT", "client or server port (filter only)", _fd(_client("sport")), fmt="DEC",
       flags=_FILTER_ONLY),
    _F("fd.cport", "PORT", "client port", _fd(_client("sport")), fmt="DEC"),
    _F("fd.sport", "PORT", "server port", _fd(_server("dport")), fmt="DEC"),
    _F("fd.lport", "PORT", "local port", _fd(_local_remote(True, True)), fmt="DEC"),
    _F("fd.rport", "PORT", "remote port", _fd(_local_remote(False, True)), fmt="DEC"),
    _F("fd.cproto", "CHARBUF", "client port of a TCP/UDP socket, as text", _fd(_proto("c"))),
    _F("fd.sproto", "CHARBUF", "server port of a TCP/UDP socket, as text", _fd(_proto("s"))),
    _F("fd.lproto", "CHARBUF", "local port of a TCP/UDP socket, as text", _fd(_proto("l"))),
    _F("fd.rproto", "CHARBUF", "remote port of a TCP/UDP socket, as text", _fd(_proto("r"))),
    _F("fd.l4proto", "CHARBUF", "IP protocol of a socket: tcp, udp, icmp or raw",
       _fd(lambda e, fi: l4proto(fi) or "<NA>")),
    _F("fd.sockfamily", "CHARBUF", "socket family: ip or unix", _fd(_sockfamily)),
    _F("fd.is_server", "BOOL", "true when this process is the server end of the connection", _fd(_is_server)),
    _F("fd.uid", "CHARBUF", "thread id followed by fd number (unique fd id)",
       lambda e: None if e.tinfo is None else f"{e.tinfo.tid}{_fd_num(e)}"),
    _F("fd.containername", "CHARBUF", "container.id:fd.name",
       lambda e: None if (n := _fd_name(e)) is None else f"{container_id(e)}:{n}"),
    _F("fd.containerdirectory", "CHARBUF", "container.id:fd.directory",
       lambda e: None if (d := _directory(e)) is None else f"{container_id(e)}:{d}"),
    _F("fd.net", "IPNET", "client or server address, matched against networks (filter only)",
       _fd(_net("c")), flags=_FILTER_ONLY),
    _F("fd.cnet", "IPNET", "client address, matched against networks (filter only)", _fd(_net("c")),
       flags=_FILTER_ONLY),
    _F("fd.snet", "IPNET", "server address, matched against networks (filter only)", _fd(_net("s")),
       flags=_FILTER_ONLY),
    _F("fd.lnet", "IPNET", "local address, matched against networks (filter only)", _fd(_net("l")),
       flags=_FILTER_ONLY),
    _F("fd.rnet", "IPNET", "remote address, matched against networks (filter only)", _fd(_net("r")),
       flags=_FILTER_ONLY),
    _F("fd.connected", "BOOL", "true for connected sockets", _fd(lambda e, fi: _connected(fi))),
    _F("fd.name_changed", "BOOL", "true when the event changed the fd's name (e.g. a connect)",
       _fd(lambda e, fi: bool(getattr(e, "fd_name_changed", False)))),
    _F("fd.cip.name", "CHARBUF", "domain name of the client address (needs DNS tracking)", _fd(lambda e, fi: None),
       flags=("no_rhs", "no_transformer")),
    _F("fd.sip.name", "CHARBUF", "domain name of the server address (needs DNS tracking)", _fd(lambda e, fi: None),
       flags=("no_rhs", "no_transformer")),
    _F("fd.lip.name", "CHARBUF", "domain name of the local address (needs DNS tracking)", _fd(lambda e, fi: None),
       flags=("no_rhs", "no_transformer")),
    _F("fd.rip.name", "CHARBUF", "domain name of the remote address (needs DNS tracking)", _fd(lambda e, fi: None),
       flags=("no_rhs", "no_transformer")),
    _F("fd.dev", "INT32", "device number of the file", _fd(lambda e, fi: fi.dev), fmt="HEX"),
    _F("fd.dev.major", "INT32", "major device number of the file", _fd(lambda e, fi: fi.dev >> 20), fmt="DEC"),
    _F("fd.dev.minor", "INT32", "minor device number of the file", _fd(lambda e, fi: fi.dev & 0xFFFFF), fmt="DEC"),
    _F("fd.ino", "INT64", "inode of the file", _fd(lambda e, fi: fi.ino), fmt="DEC"),
    _F("fd.nameraw", "CHARBUF", "the path as the program passed it (not resolved)", _fd_nameraw),
    _F("fd.types", "CHARBUF", "types of the fds of the process; fd.types[N] the type of fd N",
       make=_make_types, arg=ArgRule.OPTIONAL_INDEX, is_list=True, flags=("no_rhs",)),
    _F("fd.is_upper_layer", "BOOL", "true for a file in an overlayfs upper layer",
       _fd(lambda e, fi: bool(getattr(fi, "upper_layer", False)))),
    _F("fd.is_lower_layer", "BOOL", "true for a file in an overlayfs lower layer",
       _fd(lambda e, fi: bool(getattr(fi, "lower_layer", False)))),
))  # fmt: skip

CLASSES = (FD,)


#: the fd fields rules read most: their C readers (over the extractor as written)
_READERS: dict[str, Callable[[Callable[["SinspEvent"], Any]], Callable[["SinspEvent"], Any]]] = {
    "fd.num": readers.fd_num, "fd.name": readers.fd_name, "fd.directory": readers.fd_directory,
    "fd.typechar": lambda written: readers.fd_typechar(written, UPSTREAM_CHAR),
}  # fmt: skip


def _for_code(name: str) -> Any:
    """Field ``name``'s extractor for the events of one code: as written (no code
    test; in C for the fields of _READERS) for an fd code, missing on every event
    of another."""
    make, reader = _WRITTEN[name], _READERS.get(name)

    def for_code(arg: str | None, code: int) -> Any:
        if code not in _FD_CODES:
            return Constant(None)
        written = make(arg)
        return written if reader is None else reader(written)

    return for_code


def install(reg: "SinspFieldRegistry") -> None:
    """fd.ip, fd.port and fd.net match if either end does; "!=" only if both differ.
    Extractors per event code: the fd fields without their code test."""
    ends = {port: AnyOf(_both_ends(port), ne_all=True) for port in (False, True)}
    for name, port in (("fd.ip", False), ("fd.port", True), ("fd.net", False)):
        reg.set_any_of(name, lambda arg, any_of=ends[port]: any_of)
    for f in FD.fields:
        reg.set_code_extractor(f.name, _for_code(f.name))
