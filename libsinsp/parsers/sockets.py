"""Socket calls: socket, bind, connect, accept/accept4, socketpair, and the tuples
the send and receive families carry (upstream's parse_socket_exit, parse_bind_exit,
parse_connect_exit, parse_accept_exit, parse_socketpair_exit, and the socket part
of parse_read_exit / parse_write_exit with update_fd).

Addresses follow upstream's sockinfo: ``sip``/``sport`` is the client end and
``dip``/``dport`` the server end; an address never set is None, which means the
zero address of the socket's family wherever upstream compares with it (a fresh
socket is all zeros upstream). A bound socket with a port is upstream's SERVSOCK:
role "server" and no ``dip``. fd.name of a connected inet socket is
"sip:sport->dip:dport" ("sip->dip" for icmp/raw, "<unknown>" for an unknown
protocol, as upstream's sockinfo_to_str), of a bound one "ip:port", of a unix
socket "source->dest path"; a tuple whose two ends are IPv4-mapped IPv6 addresses
makes an IPv4 socket.

The send/receive parsers only run for the socket calls that carry a tuple (send,
sendto, sendmsg, sendmmsg, recv, recvfrom, recvmsg, recvmmsg): plain read/write
change no state here. Not modelled: connection status (fd.connected follows the
tuple), the TOCTOU choice between the connect enter and exit addresses (the exit
tuple's destination is used, which is what upstream picks unless the enter event
address differs from an equal exit address).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Callable

from libscap.params import AF_INET, AF_INET6, AF_UNIX
from libscap.schema import PPME

from libsinsp.fdinfo import FdInfo
from libsinsp.parsers._common import O_CLOEXEC, add_fd, on_new_fd, param, pos, tuple_name, unix_name

AF_NETLINK = 16
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = 1, 2, 3
IPPROTO_IP, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_RAW = 0, 1, 6, 17, 255
EINPROGRESS = 115

_ZERO4 = ipaddress.IPv4Address(0)
_ZERO6 = ipaddress.IPv6Address(0)
_LOOPBACK4 = ipaddress.IPv4Address("127.0.0.1")
_LOOPBACK6 = ipaddress.IPv6Address("::1")
#: the zero address by IP version or by fd type letter
_ZERO_ADDR = {4: _ZERO4, 6: _ZERO6, "4": _ZERO4, "6": _ZERO6}


@lru_cache(maxsize=4096)
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address from its text (cached: the same few addresses come back all the time)."""
    return ipaddress.ip_address(text)


#: str(ip), cached as _ip is (an IPv6 address takes ~10 us to format)
_ip_text: Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], str] = lru_cache(maxsize=4096)(str)


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


def _add_socket(sevt, fd: int, domain: int, stype: int, proto: int, flags: int) -> FdInfo:
    fdi = FdInfo(fd)
    fdi.openflags = flags
    if domain == AF_UNIX:
        fdi.type = "u"
    elif domain in (AF_INET, AF_INET6):
        fdi.type = "4" if domain == AF_INET else "6"
        fdi.l4proto = _l4proto(stype, proto)
    elif domain == AF_NETLINK:
        fdi.type = "n"
    return add_fd(sevt, fd, fdi)


@on_new_fd
def parse_socket_exit(insp, sevt, evt, t, fd) -> None:
    _add_socket(sevt, fd, param(evt, 1) or 0, param(evt, 2) or 0, param(evt, 3) or 0, param(evt, 4) or 0)


def _listening(fdi: FdInfo) -> bool:
    """upstream's SCAP_FD_IPV4_SERVSOCK / SCAP_FD_IPV6_SERVSOCK."""
    return fdi.role == "server" and fdi.dip is None and fdi.type in ("4", "6")


def sockinfo_name(fdi: FdInfo) -> str:
    """fd.name of a connected inet socket (upstream's sockinfo_to_str)."""
    l4 = fdi.l4proto
    zero = _ZERO_ADDR[fdi.type]
    sip = zero if fdi.sip is None else fdi.sip
    dip = zero if fdi.dip is None else fdi.dip
    if l4 in ("tcp", "udp"):
        return tuple_name(_ip_text(sip), fdi.sport, _ip_text(dip), fdi.dport)
    if l4 == "icmp" or (l4 == "raw" and fdi.type == "4"):
        return f"{sip}->{dip}"
    return "<unknown>"


def _zero(ip) -> bool:
    return ip is None or ip == _ZERO4 or ip == _ZERO6


def _set_addresses(fdi: FdInfo, sip, sport: int, dip, dport: int, overwrite_dest: bool) -> bool:
    """upstream's set_ipv4/ipv6_addresses_and_ports: the source end always, the
    destination only if unset (or ``overwrite_dest``); False if nothing changed
    (the same tuple, in either direction, as the socket already has)."""
    if fdi.type == ("4" if sip.version == 4 else "6") and not _listening(fdi):
        zero = _ZERO_ADDR[sip.version]
        osip = zero if fdi.sip is None else fdi.sip
        odip = zero if fdi.dip is None else fdi.dip
        if (sip == osip and sport == fdi.sport and dip == odip and dport == fdi.dport) or (
                dip == osip and dport == fdi.sport and sip == odip and sport == fdi.dport):
            return False
    changed = False
    if fdi.sip != sip:
        fdi.sip = sip
        changed = True
    if fdi.sport != sport:
        fdi.sport = sport
        changed = True
    if _zero(fdi.dip) or (overwrite_dest and fdi.dip != dip):
        fdi.dip = dip
        changed = True
    if fdi.dport == 0 or (overwrite_dest and fdi.dport != dport):
        fdi.dport = dport
        changed = True
    return changed


def _unmapped(ip):
    """An IPv4-mapped IPv6 address as the IPv4 address it maps, any other as it is."""
    return ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped is not None else ip


def _tuple_ips(tup):
    """(sip, dip) of an inet tuple as addresses, both IPv4 when both ends are IPv4-mapped."""
    sip, dip = _ip(tup.sip), _ip(tup.dip)
    if sip.version == 6 and sip.ipv4_mapped is not None and dip.ipv4_mapped is not None:
        return sip.ipv4_mapped, dip.ipv4_mapped
    return sip, dip


def _infer_address(insp, dest):
    """upstream's infer_ipv4_address / infer_ipv6_address: the interface address
    equal to ``dest``, else one in its subnet (IPv6: the same /64), else the
    first non-loopback one, else the zero address."""
    addrs = getattr(insp, "interface_addresses", None)
    if dest.version == 4:
        v4 = addrs.ipv4 if addrs is not None else ()
        ifaces = [ip for ip, _ in v4]
        subnet = next((ip for ip, mask in v4 if mask is not None and int(ip) & int(mask) == int(dest) & int(mask)),
                      None)
    else:
        ifaces = list(addrs.ipv6) if addrs is not None else []
        subnet = next((ip for ip in ifaces if ip.packed[:8] == dest.packed[:8]), None)
    if dest in ifaces:
        return dest
    if subnet is not None:
        return subnet
    loopback = _LOOPBACK4 if dest.version == 4 else _LOOPBACK6
    return next((ip for ip in ifaces if ip != loopback), _ZERO_ADDR[dest.version])


def _patch_from_interfaces(insp, fdi: FdInfo) -> None:
    """upstream's sinsp_network_interfaces::update_fd: an incomplete tuple (a zero end)
    gets the address of the local interface that would be used."""
    if fdi.type not in ("4", "6") or _listening(fdi):
        return
    zero = _ZERO_ADDR[fdi.type]
    sip = zero if fdi.sip is None else fdi.sip
    dip = zero if fdi.dip is None else fdi.dip
    if sip != zero and dip != zero:
        return
    if sip == zero:
        new = _infer_address(insp, dip)
        if new == dip and fdi.sport == fdi.dport:
            return
        fdi.sip = new
    else:
        new = _infer_address(insp, sip)
        if new == sip and fdi.sport == fdi.dport:
            return
        fdi.dip = new


def _update_fd(insp, fdi: FdInfo, tup) -> bool:
    """upstream's update_fd: the socket takes the tuple an I/O call reported; False when
    the tuple is missing or invalid or changed nothing."""
    if tup is None:
        return False
    family = tup.family
    if family in (AF_INET, AF_INET6):
        if tup.sip is None or tup.dip is None:
            return False
        sip, dip = _tuple_ips(tup)
        if sip.version == 4:
            if _listening(fdi):
                fdi.dip = _ZERO4  # no longer a server socket (its protocol is kept)
            fdi.type = "4"
        elif _listening(fdi):
            # upstream leaves an IPv6 server socket's type alone (its address union is
            # overwritten); it stays a server socket named after the tuple
            return True
        if not _set_addresses(fdi, sip, tup.sport or 0, dip, tup.dport or 0, False):
            return False
    elif family == AF_UNIX:
        if tup.src_ptr is None:
            return False
        fdi.type = "u"
        fdi.source, fdi.dest = tup.src_ptr, tup.dst_ptr
        fdi.name = tup.path or ""
        return True
    else:
        return True  # upstream: a tuple of another family is "valid" and updates nothing
    if fdi.type in ("4", "6") and not fdi.l4proto:
        fdi.l4proto = "udp"  # TCP would fail if the address changed mid-connection
    _patch_from_interfaces(insp, fdi)
    return True


def _alias_ports(fdi: FdInfo) -> tuple[int, int]:
    """(sport, dport) as upstream's set_net_role_by_guessing reads them: through the
    IPv4 view of the socket's address union, so for an IPv6 socket they are bytes
    8-9 and 10-11 of the client address (little-endian)."""
    if fdi.type == "4":
        return fdi.sport, fdi.dport
    packed = fdi.sip.packed if fdi.sip is not None else bytes(16)
    return packed[8] | packed[9] << 8, packed[10] | packed[11] << 8


def _guess_role(t, fdi: FdInfo, incoming: bool) -> None:
    """upstream's set_net_role_by_guessing: server if this process owns the port (an
    IPv4 socket or server socket of its fd table on it) and the client port is not one
    of its IPv4 client sockets'; otherwise the first data direction decides."""
    sport, dport = _alias_ports(fdi)
    bound = False
    uses_client_port = False
    for other in t.fdtable.values():
        if other.type != "4":
            continue
        if _listening(other):
            if other.sport == dport:
                bound = True
        else:
            if other.dport == dport:
                bound = True
            if other.sport == sport:
                uses_client_port = True
    if not bound:
        fdi.role = "client"
    elif not uses_client_port:
        fdi.role = "server"
    elif not fdi.role:
        fdi.role = "server" if incoming else "client"


def _swap(fdi: FdInfo) -> None:
    fdi.sip, fdi.dip = fdi.dip, fdi.sip
    fdi.sport, fdi.dport = fdi.dport, fdi.sport


def _io_tuple(insp, sevt, fdi: FdInfo, tup, incoming: bool) -> None:
    """The tuple part of parse_read_exit / parse_write_exit."""
    if fdi.name and fdi.type == "4" and fdi.l4proto == "tcp" and not _listening(fdi):
        return  # a named TCP socket keeps its tuple
    if not _update_fd(insp, fdi, tup):
        return
    if fdi.type in ("4", "6") and not _listening(fdi):
        if not fdi.role:
            _guess_role(sevt.tinfo, fdi, incoming)
        if fdi.role == ("client" if incoming else "server"):
            _swap(fdi)
        fdi.name = sockinfo_name(fdi)
    elif tup.family in (AF_INET, AF_INET6):
        fdi.name = tuple_name(tup.sip, tup.sport, tup.dip, tup.dport)
    elif tup.family == AF_UNIX:
        fdi.name = unix_name(tup.src_ptr, tup.dst_ptr, tup.path or "")


def _make_send_parser(tuple_pos: int, infer: bool):
    def parse_send_exit(insp, sevt) -> None:
        evt, t = sevt.evt, sevt.tinfo
        if t is None:
            return
        res = evt.param(0)
        if res is None or res < 0:
            return
        fdi = sevt.fdinfo
        if fdi is None:
            if not infer or sevt.fd < 0:
                return
            # socket() was missed: guess a UDP socket of the tuple's family (upstream's
            # infer_send_sendto_sendmsg_fdinfo)
            tup = param(evt, tuple_pos)
            if tup is None or tup.family not in (AF_INET, AF_INET6):
                return
            fdi = _add_socket(sevt, sevt.fd, tup.family, SOCK_DGRAM, IPPROTO_UDP, 0)
        _io_tuple(insp, sevt, fdi, param(evt, tuple_pos), False)

    return parse_send_exit


def _make_recv_parser(tuple_pos: int):
    def parse_recv_exit(insp, sevt) -> None:
        evt, t = sevt.evt, sevt.tinfo
        fdi = sevt.fdinfo
        if t is None or fdi is None:
            return
        res = evt.param(0)
        if res is None or res < 0:
            return
        _io_tuple(insp, sevt, fdi, param(evt, tuple_pos), True)

    return parse_recv_exit


def parse_bind_exit(insp, sevt) -> None:
    evt = sevt.evt
    fdi = sevt.fdinfo
    res = param(evt, 0)
    if fdi is None or res is None or res < 0:
        return
    addr = param(evt, 1)
    if addr is None:
        return
    if addr.family in (AF_INET, AF_INET6):
        if addr.addr is None:
            return
        if addr.port:
            ip = _ip(addr.addr)
            ip = _unmapped(ip)
            fdi.type = "4" if ip.version == 4 else "6"
            fdi.sip, fdi.sport = ip, addr.port
            fdi.dip, fdi.dport = None, 0
            fdi.role = "server"
        fdi.name = f"{addr.addr}:{addr.port}"
    elif addr.family == AF_UNIX:
        if addr.path is None:
            return
        fdi.name = addr.path
    else:
        fdi.name = f"family {addr.family}"


def parse_connect_exit(insp, sevt) -> None:
    evt = sevt.evt
    fdi = sevt.fdinfo
    res = param(evt, 0)
    if sevt.tinfo is None or fdi is None or res is None or (res < 0 and res != -EINPROGRESS):
        return
    tup = param(evt, 1)
    if tup is None:
        # no tuple (TCP fastopen): the address the program passed
        addr = param(evt, 3)
        if addr is None:
            return
        if addr.family in (AF_INET, AF_INET6) and addr.addr is not None:
            ip = _ip(addr.addr)
            ip = _unmapped(ip)
            fdi.type = "4" if ip.version == 4 else "6"
            fdi.dip, fdi.dport = ip, addr.port or 0
        elif addr.family == AF_UNIX and addr.path is not None:
            fdi.name = addr.path
        return
    if tup.family in (AF_INET, AF_INET6):
        if tup.sip is None or tup.dip is None:
            return
        sip, dip = _tuple_ips(tup)
        was_listening = _listening(fdi)
        fdi.type = "4" if sip.version == 4 else "6"
        if was_listening:
            fdi.dip = _ZERO_ADDR[sip.version]
        changed = _set_addresses(fdi, sip, tup.sport or 0, dip, tup.dport or 0, True)
        if changed and fdi.role == "server" and fdi.type == "4" and fdi.l4proto == "udp":
            _swap(fdi)  # connect done by a UDP server
        fdi.name = sockinfo_name(fdi)
    elif tup.family == AF_UNIX:
        if tup.src_ptr is None or fdi.type != "u":
            return
        fdi.source, fdi.dest = tup.src_ptr, tup.dst_ptr
        fdi.name = unix_name(tup.src_ptr, tup.dst_ptr, tup.path or "")
    else:
        return
    if not fdi.role:
        fdi.role = "client"


@on_new_fd
def parse_accept_exit(insp, sevt, evt, t, fd) -> None:
    sevt.fd = fd
    tup = param(evt, 1)
    if tup is None:
        return
    fdi = FdInfo(fd)
    if tup.family in (AF_INET, AF_INET6) and tup.sip is not None and tup.dip is not None:
        sip, dip = _tuple_ips(tup)
        fdi.type = "4" if sip.version == 4 else "6"
        fdi.sip, fdi.sport, fdi.dip, fdi.dport = sip, tup.sport, dip, tup.dport
        fdi.l4proto = "tcp"
        fdi.name = tuple_name(tup.sip, tup.sport, tup.dip, tup.dport)
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
    second.fd = fd2
    add_fd(sevt, fd1, first)
    t.fdtable[fd2] = second
    sevt.fd = fd2  # upstream: the event's fdinfo is fd1's, its fd number (the last added) fd2


PARSERS = {
    PPME.SOCKET_SOCKET_X: parse_socket_exit,
    PPME.SOCKET_BIND_X: parse_bind_exit,
    PPME.SOCKET_CONNECT_X: parse_connect_exit,
    PPME.SOCKET_ACCEPT_5_X: parse_accept_exit,
    PPME.SOCKET_ACCEPT4_6_X: parse_accept_exit,
    PPME.SOCKET_SOCKETPAIR_X: parse_socketpair_exit,
    # the I/O calls at their "tuple" parameter (sendmmsg: no socket inferred)
    **{PPME[code]: _make_send_parser(pos(code, "tuple"), infer)
       for code, infer in (("SOCKET_SEND_X", True), ("SOCKET_SENDTO_X", True), ("SOCKET_SENDMSG_X", True),
                           ("SOCKET_SENDMMSG_X", False))},
    **{PPME[code]: _make_recv_parser(pos(code, "tuple"))
       for code in ("SOCKET_RECV_X", "SOCKET_RECVFROM_X", "SOCKET_RECVMSG_X", "SOCKET_RECVMMSG_X")},
}
