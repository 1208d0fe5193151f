"""Parameter rendering: expected strings are sysdig 0.29's output for the shared
captures (quoted where taken from it) or written by hand from the schema."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from libscap.event import Event
from libscap.render import printable, render, render_params
from libscap.schema import EVENTS, PF, PPM_SC_NAMES, PPME, PT, ParamInfo


def pinfo(code: str, name: str) -> ParamInfo:
    return next(p for p in EVENTS[PPME[code]].params if p.name == name)


def q(v: int) -> bytes:
    return struct.pack("<q", v)


def u32(v: int) -> bytes:
    return struct.pack("<I", v)


@pytest.mark.parametrize("code,name,raw,expected", [
    # flags, as `sysdig -r cat_write.scap` prints them
    ("SYSCALL_OPEN_X", "flags", u32(4097), "4097(O_RDONLY|O_CLOEXEC)"),
    ("SYSCALL_ACCESS_E", "mode", u32(0), "0(F_OK)"),
    ("SYSCALL_ACCESS_E", "mode", u32(4), "4(R_OK)"),
    ("SYSCALL_MMAP_E", "prot", u32(3), "3(PROT_READ|PROT_WRITE)"),
    ("SYSCALL_MMAP_E", "flags", u32(10), "10(MAP_PRIVATE|MAP_ANONYMOUS)"),
    ("SYSCALL_MMAP_E", "flags", u32(1030), "1030(MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE)"),
    ("SYSCALL_FUTEX_E", "op", struct.pack("<H", 129), "129(FUTEX_PRIVATE_FLAG|FUTEX_WAKE)"),
    ("SOCKET_SOCKET_E", "domain", u32(10), "10(AF_INET6)"),
    # enum tables: the first entry with the value (sysdig: "socket domain=1(AF_LOCAL)")
    ("SOCKET_SOCKET_E", "domain", u32(1), "1(AF_LOCAL)"),
    ("SOCKET_SOCKET_E", "type", u32(2), "2"),
    # numbers by print format
    ("SYSCALL_MMAP_E", "addr", struct.pack("<Q", 0x7FAD48557000), "7FAD48557000"),
    ("SYSCALL_MMAP_E", "addr", struct.pack("<Q", 0), "0"),
    ("SYSCALL_MMAP_E", "length", struct.pack("<Q", 72949), "72949"),
    ("SYSCALL_IOCTL_3_E", "request", struct.pack("<Q", 0x5401), "5401"),
    ("SYSCALL_OPEN_X", "mode", u32(0o644), "0644"),
    ("SYSCALL_OPEN_X", "mode", u32(0), "0"),
    ("SYSCALL_POLL_E", "timeout", q(-1), "-1"),
    # errno results and fds
    ("SYSCALL_ACCESS_X", "res", q(-2), "-2(ENOENT)"),
    ("SYSCALL_READ_X", "res", q(832), "832"),
    ("SYSCALL_MMAP_E", "fd", q(-1), "-1(EPERM)"),
    ("SYSCALL_OPEN_X", "fd", q(3), "3"),
    ("SYSCALL_FCHMODAT_X", "dirfd", q(-100), "-100(AT_FDCWD)"),
    # an old capture's 4-byte mmap fd: sysdig shows the unsigned value
    ("SYSCALL_MMAP_E", "fd", b"\xff\xff\xff\xff", "4294967295"),
    # mode_t with its names, octal
    ("SYSCALL_CHMOD_X", "mode", u32(0o644), "0644(S_IROTH|S_IRGRP|S_IWUSR|S_IRUSR)"),
    # signals, times, ids
    ("SYSCALL_KILL_E", "sig", bytes([9]), "9(SIGKILL)"),
    ("SYSCALL_NANOSLEEP_E", "interval", struct.pack("<Q", 1_500_000_000), "1500000000(1.5s)"),
    ("SYSCALL_NANOSLEEP_E", "interval", struct.pack("<Q", 2**64 - 1), "none"),
    ("SYSCALL_SETUID_X", "uid", u32(1000), "1000"),
    ("SYSCALL_SETUID_X", "uid", u32(0xFFFFFFFF), "-1"),
    ("SYSCALL_PPOLL_E", "sigmask", u32((1 << 1) | (1 << 14)), "SIGINT SIGTERM"),
    # empty parameters
    ("SYSCALL_READ_X", "data", b"", ""),  # sysdig: "< read res=0 data="
    ("SOCKET_SENDTO_X", "tuple", b"", "NULL"),
    ("SYSCALL_READ_X", "size", b"", "<NA>"),
    ("SYSCALL_OPEN_X", "name", b"/etc/ld.so.cache\0", "/etc/ld.so.cache"),
])
def test_render_values(code, name, raw, expected):
    assert render(pinfo(code, name), raw) == expected


def test_syscall_id_names():
    code = next(c for c, n in PPM_SC_NAMES.items() if n == "open")
    assert render(pinfo("GENERIC_E", "ID"), struct.pack("<H", code)) == f"{code}(open)"


def _inet(ip: str, port: int) -> bytes:
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    return socket.inet_pton(fam, ip) + struct.pack("<H", port)


def test_socket_addresses():
    addr = pinfo("SOCKET_BIND_X", "addr")
    tup = pinfo("SOCKET_ACCEPT_5_X", "tuple")
    assert render(addr, b"\x0a" + _inet("2001:db8::3", 1234)) == "2001:db8::3:1234"  # sysdig: bind
    assert render(addr, b"\x02" + _inet("1.2.3.4", 80)) == "1.2.3.4:80"
    assert render(addr, b"\x01/run/x.sock\0") == "/run/x.sock"
    assert render(tup, b"\x02" + _inet("1.2.3.4", 80) + _inet("5.6.7.8", 1234)) == "1.2.3.4:80->5.6.7.8:1234"
    assert (render(tup, b"\x0a" + _inet("2001:db8::4", 54405) + _inet("2001:db8::3", 1234))
            == "2001:db8::4:54405->2001:db8::3:1234")  # sysdig: test_ipv6_client accept
    mapped = b"\x0a" + _inet("::ffff:10.0.0.1", 5) + _inet("::ffff:10.0.0.2", 6)
    assert render(tup, mapped) == "10.0.0.1:5->10.0.0.2:6"
    unix = b"\x01" + struct.pack("<QQ", 0, 0xFFFF88003C420800) + b"/var/run/nscd/socket\0"
    assert render(tup, unix) == "0->ffff88003c420800 /var/run/nscd/socket"  # sysdig: curl connect
    assert render(tup, b"\x02\x01") == "INVALID IPv4"


def test_fdlist_without_fd_state():
    raw = struct.pack("<H", 2) + struct.pack("<qH", 4, 4) + struct.pack("<qH", 7, 0x41)
    assert render(pinfo("SYSCALL_POLL_E", "fds"), raw) == "4:?4 7:?41"
    assert render(pinfo("SYSCALL_POLL_E", "fds"), struct.pack("<H", 0)) == ""


def test_malformed_bytes_render_as_a_buffer():
    # an fd list claiming 3 entries but holding one; an IPv4 address of 3 bytes
    raw = struct.pack("<H", 3) + struct.pack("<qH", 4, 4)
    assert render(pinfo("SYSCALL_POLL_E", "fds"), raw) == "............"
    assert render(ParamInfo("a", PT.IPV4ADDR, PF.NA), b"ab\x01") == "ab."


def test_byte_buffers():
    data = pinfo("SYSCALL_READ_X", "data")
    assert render(data, b"\x7fELF\x02\x01\x01\x00hi there\n") == ".ELF....hi there."
    long = bytes(range(256))
    text = render(data, long)
    assert len(text) == 80 and text.endswith("...")
    assert text[32:40] == " !\"#$%&'"
    assert printable(long, None) == render(data, long, None) and len(printable(long, None)) == 256


def test_dynamic_parameter_uses_chosen_type_and_outer_format():
    dyn = ParamInfo("val", PT.DYN, PF.DEC, "sockopt_dynamic_param")
    assert render(dyn, bytes([2]) + u32(7)) == "7"             # index 2: PT_UINT32
    assert render(dyn, bytes([1]) + q(-11)) == "-11(EAGAIN)"   # index 1: PT_ERRNO
    assert render(dyn, bytes([99]) + u32(7)) == "INVALID DYNAMIC PARAMETER"


def test_absolute_time_local(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        info = pinfo("SYSCALL_EXECVE_19_X", "exe_ino_ctime")
        assert render(info, struct.pack("<Q", 1_700_000_000_123_456_789)) == "2023-11-14 22:13:20.123456789"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_render_params_names_unknown_parameters():
    evt = Event.build(1, 2, PPME.SYSCALL_CLOSE_E, [q(3), b"ab\x00"])
    assert render_params(evt) == [("fd", "3"), ("arg1", "ab.")]
