"""Socket calls: socket, bind, connect, accept/accept4, socketpair (upstream's
parse_socket_exit, parse_bind_exit, parse_connect_exit, parse_accept_exit,
parse_socketpair_exit). fd.name of a connected inet socket is
"sip:sport->dip:dport", of a bound one "ip:port", of a unix socket
"source->dest path"; a tuple whose two ends are IPv4-mapped IPv6 addresses
makes an IPv4 socket, as upstream."""

from __future__ import annotations

import ipaddress

from libscap.params import AF_INET, AF_INET6, AF_UNIX
from libscap.schema import PPME

from libsinsp.fdinfo import FdInfo
from libsinsp.parsers._common import O_CLOEXEC, add_fd, param, tuple_name, unix_name

AF_NETLINK = 16
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = 1, 2, 3
IPPROTO_IP, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_RAW = 0, 1, 6, 17, 255
EINPROGRESS = 115


def _l4proto(stype: int, proto: int) -> str:
    """upstream's add_socket protocol choice."""
    if proto == IPPROTO_TCP:
        return "raw" if stype == SOCK_RAW else "tcp"
    if proto == IPPROTO_UDP:
        return "raw" if stype == SOCK_RAW else "udp"
    if proto == IPPROTO_IP:
        kind = stype & 0xFF
        return "tcp" if kind == SOCK_STREAM else "udp" if kind == SOCK_DGRAM else ""
    if proto == IPPROTO_ICMP:
        return "raw" if stype == SOCK_RAW else "icmp"
    return "raw" if proto == IPPROTO_RAW else ""


def parse_socket_exit(insp, sevt) -> None:
    evt, t = sevt.evt, sevt.tinfo
    fd = evt.param(0)
    if t is None or fd is None or fd < 0:
        return
    domain, stype, proto = param(evt, 1) or 0, param(evt, 2) or 0, param(evt, 3) or 0
    fdi = FdInfo(fd)
    fdi.openflags = param(evt, 4) or 0
    if domain == AF_UNIX:
        fdi.type = "u"
    elif domain in (AF_INET, AF_INET6):
        fdi.type = "4" if domain == AF_INET else "6"
        fdi.l4proto = _l4proto(stype, proto)
    elif domain == AF_NETLINK:
        fdi.type = "n"
    add_fd(sevt, fd, fdi)


def _set_tuple(fdi: FdInfo, tup) -> None:
    """Fill an inet socket from a decoded SockTuple (both ends known)."""
    sip, dip = ipaddress.ip_address(tup.sip), ipaddress.ip_address(tup.dip)
    fdi.type = "4" if sip.version == 4 else "6"
    fdi.sip, fdi.sport, fdi.dip, fdi.dport = sip, tup.sport, dip, tup.dport
    fdi.name = tuple_name(tup.sip, tup.sport, tup.dip, tup.dport)


def parse_bind_exit(insp, sevt) -> None:
    evt = sevt.evt
    fdi = sevt.fdinfo
    res = param(evt, 0)
    if fdi is None or res is None or res < 0:
        return
    addr = param(evt, 1)
    if addr is None:
        return
    if addr.family in (AF_INET, AF_INET6) and addr.addr is not None:
        ip = ipaddress.ip_address(addr.addr)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if addr.port:
            fdi.type = "4" if ip.version == 4 else "6"
            fdi.sip, fdi.sport = ip, addr.port
            fdi.role = "server"
        fdi.name = f"{addr.addr}:{addr.port}"
    elif addr.family == AF_UNIX and addr.path is not None:
        fdi.name = addr.path


def parse_connect_exit(insp, sevt) -> None:
    evt = sevt.evt
    fdi = sevt.fdinfo
    res = param(evt, 0)
    if sevt.tinfo is None or fdi is None or res is None or (res < 0 and res != -EINPROGRESS):
        return
    tup = param(evt, 1)
    if tup is None:
        addr = param(evt, 3)
        if addr is not None and addr.family in (AF_INET, AF_INET6) and addr.addr is not None:
            ip = ipaddress.ip_address(addr.addr)
            fdi.type = "4" if ip.version == 4 else "6"
            fdi.dip, fdi.dport = ip, addr.port
        elif addr is not None and addr.path is not None:
            fdi.name = addr.path
        return
    if tup.family in (AF_INET, AF_INET6) and tup.sip is not None:
        _set_tuple(fdi, tup)
    elif tup.family == AF_UNIX and tup.src_ptr is not None:
        if fdi.type != "u":
            return
        fdi.source, fdi.dest = tup.src_ptr, tup.dst_ptr
        fdi.name = unix_name(tup.src_ptr, tup.dst_ptr, tup.path or "")
    else:
        return
    if not fdi.role:
        fdi.role = "client"


def parse_accept_exit(insp, sevt) -> None:
    evt, t = sevt.evt, sevt.tinfo
    fd = evt.param(0)
    if t is None or fd is None or fd < 0:
        return
    tup = param(evt, 1)
    if tup is None:
        return
    fdi = FdInfo(fd)
    if tup.family in (AF_INET, AF_INET6) and tup.sip is not None:
        _set_tuple(fdi, tup)
        fdi.l4proto = "tcp"
    elif tup.family == AF_UNIX and tup.src_ptr is not None:
        fdi.type = "u"
        fdi.source, fdi.dest = tup.src_ptr, tup.dst_ptr
        fdi.name = unix_name(tup.src_ptr, tup.dst_ptr, tup.path or "")
    else:
        return
    if evt[5] == PPME.SOCKET_ACCEPT4_6_X and (param(evt, 5) or 0) & O_CLOEXEC:
        fdi.openflags = O_CLOEXEC
        fdi.cloexec = True
    fdi.role = "server"
    add_fd(sevt, fd, fdi)


def parse_socketpair_exit(insp, sevt) -> None:
    evt, t = sevt.evt, sevt.tinfo
    res = param(evt, 0)
    if t is None or res is None or res < 0:
        return
    fd1, fd2 = param(evt, 1), param(evt, 2)
    if fd1 is None or fd2 is None or fd1 == fd2:
        sevt.fdinfo = None
        return
    first = FdInfo(fd1, "u")
    first.source, first.dest = param(evt, 3) or 0, param(evt, 4) or 0
    second = first.copy()
    add_fd(sevt, fd2, second)
    add_fd(sevt, fd1, first)


PARSERS = {
    PPME.SOCKET_SOCKET_X: parse_socket_exit,
    PPME.SOCKET_BIND_X: parse_bind_exit,
    PPME.SOCKET_CONNECT_X: parse_connect_exit,
    PPME.SOCKET_ACCEPT_5_X: parse_accept_exit,
    PPME.SOCKET_ACCEPT4_6_X: parse_accept_exit,
    PPME.SOCKET_SOCKETPAIR_X: parse_socketpair_exit,
}
