"""The .scap reader against the shared captures, with sysdig 0.29 as the oracle,
and against small captures whose bytes the tests spell out from the format."""

from __future__ import annotations

import gzip
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import CAPTURE_EVENT_COUNTS, CAPTURES
from libscap.savefile import (
    CaptureWriter, InterfaceInfo, Interfaces, MachineInfo, ProcessInfo, ScapWarning, open_capture,
)
from libscap.savefile import blocks as B
from libscap.schema import EC, PPME

SYSDIG = shutil.which("sysdig")
needs_sysdig = pytest.mark.skipif(SYSDIG is None, reason="sysdig (the reference reader) is not installed")


def _block(btype: int, body: bytes) -> bytes:
    """A block spelled out from the format: header, body, padding, trailer."""
    body += b"\0" * (-len(body) % 4)
    total = 12 + len(body)
    return struct.pack("<II", btype, total) + body + struct.pack("<I", total)


SHB = _block(B.SHB_BLOCK_TYPE, struct.pack("<IHHQ", 0x1A2B3C4D, 1, 2, 2**64 - 1))


def _ev_v2(ts: int, tid: int, etype: int, params: list[bytes], cpu: int = 0) -> bytes:
    lens = b"".join(struct.pack("<H", len(p)) for p in params)
    ev = struct.pack("<QQIHI", ts, tid, 26 + len(lens) + sum(map(len, params)), etype, len(params)) + lens + b"".join(params)
    return _block(B.EV_BLOCK_TYPE_V2, struct.pack("<H", cpu) + ev)


def _shown(events):
    """sysdig hides internal events (procinfo and the like) unless asked."""
    return [e for e in events if not (e.info is not None and e.info.category & EC.INTERNAL)]


def test_event_counts_match_sysdig(shared_capture: Path) -> None:
    with open_capture(shared_capture) as cap:
        events = list(cap.events())
    assert len(_shown(events)) == CAPTURE_EVENT_COUNTS[shared_capture.stem]
    assert [e.num for e in events] == list(range(1, len(events) + 1))


@pytest.mark.sysdig
@needs_sysdig
def test_event_headers_match_sysdig(shared_capture: Path) -> None:
    out = subprocess.run([SYSDIG, "-r", str(shared_capture), "-p", "%evt.num %evt.rawtime %thread.tid %evt.cpu %evt.type %evt.dir"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    expected = [line.split(" ") for line in out if line]
    with open_capture(shared_capture) as cap:
        got = [[str(e.num), str(e.ts), str(e.tid), str(e.cpu), e.name, e.direction] for e in _shown(cap.events())]
    generic = (PPME.GENERIC_E, PPME.GENERIC_X)
    with open_capture(shared_capture) as cap:
        for row, e in zip(expected, _shown(cap.events())):
            if e.type in generic:  # sysdig names generic events by their syscall id parameter
                row[4] = e.name
    assert got == expected


def test_state_of_an_old_capture() -> None:
    with open_capture(CAPTURES / "cat_write.scap") as cap:
        assert (cap.section.major, cap.section.minor, cap.section.byte_order_ok) == (1, 0, True)
        assert cap.machine_info is not None and cap.machine_info.hostname == "ubuntu"
        init = next(p for p in cap.processes if p.tid == 1)
        assert (init.comm, init.exe, init.cwd, init.sid, init.vpgid) == ("systemd", "/sbin/init", "/", 1, -1)
        assert "TERM=linux" in init.env
        assert [f.name for f in cap.fds[1][:3]] == ["/dev/null"] * 3
        assert cap.interfaces is not None and any(i.addr == "127.0.0.1" for i in cap.interfaces.ipv4)
        assert any(u.name == "root" and u.uid == 0 and u.homedir == "/root" for u in cap.users)
        assert any(g.name == "root" and g.gid == 0 for g in cap.groups)
        kinds = [b.type for b in cap.raw_blocks]
        assert kinds[:4] == [B.MI_BLOCK_TYPE, B.IL_BLOCK_TYPE, B.UL_BLOCK_TYPE, B.PL_BLOCK_TYPE_V6]
        assert all(b.events_before == 0 for b in cap.raw_blocks)


def test_plain_and_gzip_read_alike(tmp_path: Path) -> None:
    src = CAPTURES / "single_ipv6_conn.scap"
    plain = tmp_path / "plain.scap"
    plain.write_bytes(gzip.decompress(src.read_bytes()))
    with open_capture(src) as a, open_capture(plain) as b:
        assert [e.raw for e in a.events()] == [e.raw for e in b.events()]
        assert a.processes == b.processes and a.fds == b.fds


def test_events_can_be_iterated_twice_without_duplicating_state() -> None:
    with open_capture(CAPTURES / "syscall.scap") as cap:
        first = [e.raw for e in cap.events()]
        nproc = len(cap.processes)
        assert [e.raw for e in cap.events()] == first
        assert len(cap.processes) == nproc


def test_state_blocks_between_events(tmp_path: Path) -> None:
    path = tmp_path / "mid.scap"
    late = ProcessInfo(tid=42, pid=42, comm="late")
    with CaptureWriter(path, compress=False) as w:
        w.write_processes([ProcessInfo(tid=1, pid=1, comm="init")])
        w.write_event(_event(1))
        w.write_processes([late])
        w.write_event(_event(2))
    with open_capture(path) as cap:
        assert [p.tid for p in cap.processes] == [1]
        events = list(cap.events())
        assert [e.ts for e in events] == [1, 2]
        assert [p.tid for p in cap.processes] == [1, 42]
        assert [(b.type, b.events_before) for b in cap.raw_blocks] == [(B.PL_BLOCK_TYPE_V9, 0), (B.PL_BLOCK_TYPE_V9, 1)]


def _event(ts: int):
    from libscap.event import Event

    return Event.build(ts, 7, PPME.SYSCALL_CLOSE_E, [struct.pack("<q", 3)], cpu=1)


def test_unknown_block_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "unknown.scap"
    ev = _ev_v2(5, 9, PPME.SYSCALL_CLOSE_E, [struct.pack("<q", 3)])
    path.write_bytes(SHB + _block(0x7777, b"whatever") + ev)
    with pytest.warns(ScapWarning, match="0x7777"):
        with open_capture(path) as cap:
            events = list(cap.events())
    assert [(e.ts, e.tid, e.type, e.param(0)) for e in events] == [(5, 9, PPME.SYSCALL_CLOSE_E, 3)]


def test_v1_event_block_gets_nparams(tmp_path: Path) -> None:
    # An old EV block: 22-byte event header (no nparams), u16 lengths, values.
    params = [struct.pack("<q", 3)]
    old = struct.pack("<QQIH", 11, 12, 22 + 2 + 8, PPME.SYSCALL_CLOSE_E) + struct.pack("<H", 8) + params[0]
    evf = struct.pack("<QQIH", 13, 12, 22 + 2 + 8, PPME.SYSCALL_CLOSE_X) + struct.pack("<H", 8) + struct.pack("<q", 0)
    path = tmp_path / "v1.scap"
    path.write_bytes(SHB + _block(B.EV_BLOCK_TYPE, struct.pack("<H", 3) + old)
                     + _block(B.EVF_BLOCK_TYPE, struct.pack("<HI", 1, 0x10) + evf))
    with open_capture(path) as cap:
        a, b = cap.events()
    assert (a.ts, a.tid, a.cpu, a.nparams, a.len, a.param(0), a.flags) == (11, 12, 3, 1, 36, 3, 0)
    assert (b.ts, b.cpu, b.flags, b.param(0)) == (13, 1, 0x10, 0)
    assert a.raw == struct.pack("<QQIHI", 11, 12, 36, PPME.SYSCALL_CLOSE_E, 1) + struct.pack("<H", 8) + params[0]


def test_process_list_v1_and_pre_0_10_v9_entries(tmp_path: Path) -> None:
    def s(text: bytes) -> bytes:
        return struct.pack("<H", len(text)) + text

    v1 = (struct.pack("<QQQ", 10, 10, 1) + s(b"sh") + s(b"/bin/sh") + s(b"sh\0-c\0") + s(b"/tmp")
          + struct.pack("<qIII", 1024, 0, 1000, 1001))
    # A PL_V9 entry written before libs 0.10: after root come loginuid, exe_writable, 3 capabilities.
    fields = (struct.pack("<qqqqq", 20, 20, 10, 5, 6) + s(b"cat") + s(b"cat") + s(b"/usr/bin/cat") + s(b"cat\0")
              + s(b"/") + struct.pack("<qIIIIIIQQ", 64, 0, 0, 0, 1, 2, 3, 4, 5) + s(b"A=1\0") + struct.pack("<qq", 2, 3)
              + s(b"cpu=/\0") + s(b"/") + struct.pack("<IBQQQ", 77, 1, 0xA, 0xB, 0xC))
    v9 = struct.pack("<I", len(fields) + 4) + fields
    path = tmp_path / "pl.scap"
    path.write_bytes(SHB + _block(B.PL_BLOCK_TYPE_V1, v1) + _block(B.PL_BLOCK_TYPE_V9, v9))
    with open_capture(path) as cap:
        p1, p9 = cap.processes
    assert (p1.tid, p1.comm, p1.exe, p1.args, p1.cwd, p1.fdlimit, p1.uid, p1.gid, p1.sid, p1.env) == (
        10, "sh", "/bin/sh", ("sh", "-c"), "/tmp", 1024, 1000, 1001, -1, ())
    assert (p9.tid, p9.ptid, p9.sid, p9.vpgid, p9.exepath, p9.env, p9.vtid, p9.vpid, p9.cgroups, p9.root) == (
        20, 10, 5, 6, "/usr/bin/cat", ("A=1",), 2, 3, ("cpu=/",), "/")
    assert (p9.loginuid, p9.exe_writable, p9.cap_inheritable, p9.cap_permitted, p9.cap_effective) == (77, True, 0xA, 0xB, 0xC)
    assert (p9.pidns_init_start_ts, p9.tty, p9.exe_ino, p9.pgid) == (0, 0, 0, -1)


def test_fd_list_v1_sockets_and_interface_list_v1(tmp_path: Path) -> None:
    ip4 = bytes([10, 0, 0, 1]) + bytes([10, 0, 0, 2])
    fdl = (struct.pack("<q", 7)
           + struct.pack("<qQB", 3, 100, B.SCAP_FD_IPV4_SOCK) + ip4 + struct.pack("<HHB", 1000, 80, 2)
           + struct.pack("<qQB", 4, 101, B.SCAP_FD_IPV6_SERVSOCK) + bytes(15) + b"\1" + struct.pack("<HB", 22, 2)
           + struct.pack("<qQB", 5, 102, B.SCAP_FD_UNIX_SOCK) + struct.pack("<QQH", 0xAA, 0xBB, 4) + b"/s.k")
    il = (struct.pack("<HH", B.SCAP_II_IPV4_NOLINKSPEED, 2) + bytes([127, 0, 0, 1, 255, 0, 0, 0, 127, 255, 255, 255]) + b"lo"
          + struct.pack("<HH", B.SCAP_II_IPV6, 3) + bytes(15) + b"\1" + b"\xff" * 16 + bytes(16) + struct.pack("<Q", 1000) + b"eth")
    path = tmp_path / "fd.scap"
    path.write_bytes(SHB + _block(B.FDL_BLOCK_TYPE, fdl) + _block(B.IL_BLOCK_TYPE, il))
    with open_capture(path) as cap:
        a, b, c = cap.fds[7]
        assert (a.fd, a.ino, a.sip, a.dip, a.sport, a.dport, a.l4proto) == (3, 100, "10.0.0.1", "10.0.0.2", 1000, 80, 2)
        assert (b.fd, b.sip, b.sport) == (4, "::1", 22)
        assert (c.source, c.destination, c.name) == (0xAA, 0xBB, "/s.k")
        assert cap.interfaces == Interfaces(
            [InterfaceInfo("lo", "127.0.0.1", "255.0.0.0", "127.255.255.255", 0)],
            [InterfaceInfo("eth", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::", 1000)])


def test_machine_info_block(tmp_path: Path) -> None:
    mi = struct.pack("<IQQ128sQQQQ", 8, 2**33, 4194304, b"host-a", 1700000000, 1, 0, 0)
    path = tmp_path / "mi.scap"
    path.write_bytes(SHB + _block(B.MI_BLOCK_TYPE, mi))
    with open_capture(path) as cap:
        assert cap.machine_info == MachineInfo(8, 2**33, 4194304, "host-a", 1700000000, 1, 0, 0)
        assert list(cap.events()) == []


def test_join_bytes_makes_one_chunk_of_the_parts() -> None:
    """The reader's chunk joiner (C): the parts' bytes in order, as the bytes subclass
    asked for (with its own attributes), hashable like any bytes; anything but a
    bytes subclass refused."""
    import pytest

    from libscap import _events

    class Chunk(bytes):
        pass

    out = _events.join_bytes(Chunk, [b"ab", memoryview(b"xcdx")[1:3], bytearray(b"e"), b""])
    assert type(out) is Chunk and out == b"abcde" and hash(out) == hash(b"abcde")
    out.base = 7
    assert out.base == 7
    assert _events.join_bytes(Chunk, []) == b""
    with pytest.raises(TypeError):
        _events.join_bytes(bytearray, [b"a"])
    with pytest.raises(TypeError):
        _events.join_bytes(Chunk, ["text"])
