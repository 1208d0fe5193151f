"""Socket state from crafted events: tuples from connect and the send/receive family
(upstream's update_fd), roles, interface-based completion of half tuples, the socket
inferred when socket() was missed, and the fd.* fields that read them. Expected values
follow upstream libsinsp (parsers.cpp, ifinfo.cpp, sinsp_filtercheck_fd.cpp)."""

from __future__ import annotations

import socket
import struct

from libscap.savefile.blocks import InterfaceInfo, Interfaces

from test_sinsp_parsers import base, ev, inet_tuple

from libsinsp import Inspector
from libsinsp.formatter import Formatter


def inet6_tuple(sip: str, sport: int, dip: str, dport: int) -> bytes:
    return (b"\x0a" + socket.inet_pton(socket.AF_INET6, sip) + struct.pack("<H", sport)
            + socket.inet_pton(socket.AF_INET6, dip) + struct.pack("<H", dport))


def unix_tuple(src: int, dst: int, path: str) -> bytes:
    return b"\x01" + struct.pack("<QQ", src, dst) + path.encode() + b"\0"


def inspector(ipv4=(("lo", "127.0.0.1", "255.0.0.0"), ("eth0", "10.0.0.79", "255.255.255.0")),
              ipv6=(("lo", "::1"),)) -> Inspector:
    insp = Inspector()
    insp.interfaces = Interfaces(
        ipv4=[InterfaceInfo(n, a, m, a, 0) for n, a, m in ipv4],
        ipv6=[InterfaceInfo(n, a, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::", 0) for n, a in ipv6])
    return insp


class Fields:
    """Field values of every returned event, by timestamp."""

    def __init__(self, events, names, insp=None) -> None:
        self.insp = insp or inspector()
        fmts = {n: Formatter("%" + n) for n in names}
        self.rows: dict[int, dict[str, str]] = {}
        self.insp.open_events(events)
        for sevt in self.insp:
            self.rows[sevt.evt.ts] = {n: f.format(sevt) for n, f in fmts.items()}

    def __getitem__(self, ts: int) -> dict[str, object]:
        return self.rows[ts]


NET = ["fd.name", "fd.cip", "fd.cport", "fd.sip", "fd.sport", "fd.lip", "fd.lport", "fd.rip", "fd.rport",
       "fd.l4proto", "fd.is_server", "evt.args"]


def test_ipv6_udp_sendto_then_connect_as_upstream():
    """The test_ipv6_client sequence: socket, sendto with a half tuple, connects."""
    f = Fields(base() + [
        ev(5, 100, "SOCKET_SOCKET_X", fd=5, domain=10, type=2, proto=0),
        ev(6, 100, "SOCKET_SENDTO_X", res=6, data=b"Testme", fd=5, size=6, tuple=inet6_tuple("::", 0, "::1", 2345)),
        ev(7, 100, "SOCKET_CONNECT_X", res=0, tuple=inet6_tuple("::1", 38255, "::1", 2345), fd=5),
        ev(8, 100, "SOCKET_CONNECT_X", res=0, tuple=inet6_tuple("::1", 38255, "2001:4860:4860::8888", 53), fd=5),
        ev(9, 100, "SOCKET_SENDTO_X", res=6, data=b"Testme", fd=5, size=6,
           tuple=inet6_tuple("::1", 38255, "::1", 2345)),
    ], NET)
    # a fresh socket: no role, so no l4proto and no tuple fields; its zero destination
    # (::) is in the /64 of the loopback interface ::1, so it is "server" as upstream says
    assert (f[5]["fd.l4proto"], f[5]["fd.cip"], f[5]["fd.is_server"]) == ("<NA>", "<NA>", "true")
    assert "fd=5(<6>)" in f[5]["evt.args"]
    # the sendto's source :: is completed from the interface matching the destination
    assert [f[6][k] for k in NET[:10]] == ["::1:0->::1:2345", "::1", "0", "::1", "2345", "::1", "0", "::1",
                                           "2345", "udp"]
    assert "fd=5(<6u>::1:0->::1:2345)" in f[6]["evt.args"]
    assert f[7]["fd.name"] == "::1:38255->::1:2345"
    # connect always overwrites the destination; a later send's tuple does not
    assert (f[8]["fd.name"], f[8]["fd.is_server"]) == ("::1:38255->2001:4860:4860::8888:53", "false")
    assert f[9]["fd.name"] == "::1:38255->2001:4860:4860::8888:53"


def test_send_without_socket_infers_a_udp_socket():
    f = Fields(base() + [
        ev(5, 100, "SOCKET_SENDTO_X", res=3, data=b"abc", fd=7, size=3,
           tuple=inet_tuple("10.0.0.79", 5000, "8.8.8.8", 53)),
        ev(6, 100, "SOCKET_SENDTO_X", res=-1, data=b"abc", fd=8, size=3,
           tuple=inet_tuple("10.0.0.79", 5001, "8.8.8.8", 53)),
    ], NET)
    fds = f.insp.threads.get(100).fdtable
    assert (fds[7].type, fds[7].l4proto, fds[7].role) == ("4", "udp", "client")
    assert 8 not in fds  # a failed send proves nothing
    assert [f[5][k] for k in ("fd.name", "fd.lip", "fd.rip", "fd.rport", "fd.is_server")] == [
        "10.0.0.79:5000->8.8.8.8:53", "10.0.0.79", "8.8.8.8", "53", "false"]


def test_recvfrom_on_an_unnamed_socket_makes_it_a_server_and_swaps():
    """A first read guesses the server role (upstream: 'a server usually starts with a
    read'); the tuple then reads from the peer's side, so it is swapped for a client."""
    f = Fields(base() + [
        ev(5, 100, "SOCKET_SOCKET_X", fd=5, domain=2, type=2, proto=0),
        ev(6, 100, "SOCKET_RECVFROM_X", res=3, data=b"abc", tuple=inet_tuple("10.0.0.5", 4444, "10.0.0.79", 53),
           fd=5, size=3),
        ev(7, 100, "SOCKET_SOCKET_X", fd=6, domain=2, type=2, proto=0),
        ev(8, 100, "SOCKET_CONNECT_X", res=0, tuple=inet_tuple("10.0.0.79", 6000, "10.0.0.7", 9999), fd=6),
        ev(9, 100, "SOCKET_RECVFROM_X", res=3, data=b"abc", tuple=inet_tuple("10.0.0.7", 9999, "10.0.0.79", 6000),
           fd=6, size=3),
        ev(10, 100, "SOCKET_RECVFROM_X", res=3, data=b"abc", tuple=inet_tuple("10.0.0.8", 9999, "10.0.0.79", 6000),
           fd=6, size=3),
    ], NET)
    assert [f[6][k] for k in ("fd.name", "fd.cip", "fd.sport", "fd.is_server", "fd.lport")] == [
        "10.0.0.5:4444->10.0.0.79:53", "10.0.0.5", "53", "true", "53"]
    # a UDP client receiving from its peer: the same tuple, reversed, changes nothing
    assert f[9]["fd.name"] == "10.0.0.79:6000->10.0.0.7:9999"
    # from another peer: upstream's update_fd takes the new source end, keeps the
    # destination (never overwritten by I/O) and then swaps the ends of a client
    assert f[10]["fd.name"] == "10.0.0.7:9999->10.0.0.8:9999"


def test_named_tcp_socket_ignores_io_tuples_and_unix_tuples_rename():
    f = Fields(base() + [
        ev(5, 100, "SOCKET_SOCKET_X", fd=5, domain=2, type=1, proto=6),
        ev(6, 100, "SOCKET_CONNECT_X", res=0, tuple=inet_tuple("10.0.0.79", 4000, "1.2.3.4", 80), fd=5),
        ev(7, 100, "SOCKET_SENDTO_X", res=1, data=b"x", fd=5, size=1, tuple=inet_tuple("10.0.0.79", 1, "5.6.7.8", 2)),
        ev(8, 100, "SOCKET_SOCKET_X", fd=6, domain=1, type=1, proto=0),
        ev(9, 100, "SOCKET_SENDMSG_X", res=1, data=b"x", fd=6, size=1, tuple=unix_tuple(0x10, 0x20, "/run/s")),
    ], NET + ["fd.typechar"])
    assert f[7]["fd.name"] == "10.0.0.79:4000->1.2.3.4:80"
    assert (f[9]["fd.name"], f[9]["fd.typechar"]) == ("10->20 /run/s", "u")


def test_failed_connect_keeps_the_name_and_bound_server_fields():
    f = Fields(base() + [
        ev(5, 100, "SOCKET_SOCKET_X", fd=5, domain=1, type=1, proto=0),
        ev(6, 100, "SOCKET_CONNECT_X", res=-2, tuple=unix_tuple(0, 0xFFFF88003C420800, "/var/run/nscd/socket"),
           fd=5),
        ev(7, 100, "SOCKET_SOCKET_X", fd=6, domain=10, type=1, proto=6),
        ev(8, 100, "SOCKET_BIND_X", res=0, fd=6,
           addr=b"\x0a" + socket.inet_pton(socket.AF_INET6, "2001:db8::3") + struct.pack("<H", 1234)),
    ], NET)
    assert f[6]["fd.name"] == ""  # libs 0.22: the fd's name, not the failed connect's tuple
    assert [f[8][k] for k in ("fd.name", "fd.cip", "fd.cport", "fd.sip", "fd.sport", "fd.lip", "fd.is_server",
                              "fd.l4proto")] == [
        "2001:db8::3:1234", "<NA>", "<NA>", "2001:db8::3", "1234", "<NA>", "true", "tcp"]


def test_ipv4_mapped_bind_and_icmp_names():
    mapped = socket.inet_pton(socket.AF_INET6, "::ffff:10.0.0.79")
    f = Fields(base() + [
        ev(5, 100, "SOCKET_SOCKET_X", fd=5, domain=10, type=1, proto=6),
        ev(6, 100, "SOCKET_BIND_X", res=0, fd=5, addr=b"\x0a" + mapped + struct.pack("<H", 80)),
        ev(7, 100, "SOCKET_SOCKET_X", fd=6, domain=2, type=2, proto=1),
        ev(8, 100, "SOCKET_CONNECT_X", res=0, tuple=inet_tuple("10.0.0.79", 0, "1.1.1.1", 0), fd=6),
    ], NET + ["fd.typechar"])
    assert (f[6]["fd.typechar"], f[6]["fd.sip"], f[6]["fd.sport"]) == ("4", "10.0.0.79", "80")
    assert (f[8]["fd.name"], f[8]["fd.l4proto"]) == ("10.0.0.79->1.1.1.1", "icmp")


def test_interface_addresses_are_parsed_once_when_set() -> None:
    """Setting Inspector.interfaces parses their addresses (unreadable address: entry
    left out; unreadable netmask: no subnet); unknown interfaces give None."""
    import ipaddress

    insp = Inspector()
    assert insp.interface_addresses is None
    insp.interfaces = Interfaces(
        ipv4=[InterfaceInfo("lo", "127.0.0.1", "255.0.0.0", "127.0.0.1", 0),
              InterfaceInfo("bad", "not-an-ip", "255.0.0.0", "", 0),
              InterfaceInfo("eth0", "10.0.0.5", "garbage", "", 0)],
        ipv6=[InterfaceInfo("lo", "::1", "ffff::", "::", 0), InterfaceInfo("v4?", "10.1.1.1", "", "", 0)])
    addrs = insp.interface_addresses
    ip = ipaddress.ip_address
    assert addrs.ipv4 == ((ip("127.0.0.1"), ip("255.0.0.0")), (ip("10.0.0.5"), None))
    assert addrs.ipv6 == (ip("::1"),)
    insp.interfaces = None
    assert insp.interface_addresses is None
