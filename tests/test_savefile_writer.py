"""The .scap writer: read -> write -> read round trips on the shared captures,
sysdig 0.29 reading the written files exactly as the originals, and block
layouts checked against the format."""

from __future__ import annotations

import gzip
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from libscap.event import Event
from libscap.savefile import (
    CaptureWriter, FdInfo, GroupInfo, InterfaceInfo, Interfaces, MachineInfo, ProcessInfo, UserInfo,
    copy_capture, open_capture, write_capture,
)
from libscap.savefile import blocks as B
from libscap.schema import EVENTS, PPME

SYSDIG = shutil.which("sysdig")

# Fields that depend on the thread, fd and user tables the state blocks fill.
SYSDIG_FORMAT = ("%evt.num %evt.rawtime %evt.cpu %thread.tid %proc.name %proc.exe %proc.args %proc.cwd %proc.pid "
                 "%proc.ppid %proc.vpid %user.loginuid %user.name %group.name %fd.name %fd.type %fd.l4proto %fd.sip "
                 "%fd.cip %fd.sport %evt.type %evt.dir %evt.args")


def _block_types(path: Path) -> list[int]:
    """Block types in file order, walking the raw block headers."""
    data = gzip.decompress(path.read_bytes()) if path.read_bytes()[:2] == b"\x1f\x8b" else path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        assert struct.unpack_from("<I", data, pos + blen - 4)[0] == blen and blen % 4 == 0
        out.append(btype)
        pos += blen
    return out


def _snapshot(path: Path) -> tuple:
    with open_capture(path) as cap:
        events = [(e.raw, e.cpu, e.flags, e.num) for e in cap.events()]
        return (events, cap.processes, cap.fds, cap.users, cap.groups, cap.interfaces, cap.machine_info)


def test_round_trip(shared_capture: Path, tmp_path: Path) -> None:
    out = tmp_path / shared_capture.name
    with open_capture(shared_capture) as cap:
        copy_capture(cap, out)
    assert _snapshot(out) == _snapshot(shared_capture)
    types = _block_types(out)
    assert set(types) <= {B.SHB_BLOCK_TYPE, B.MI_BLOCK_TYPE, B.IL_BLOCK_TYPE_V2, B.UL_BLOCK_TYPE_V2,
                          B.PL_BLOCK_TYPE_V9, B.FDL_BLOCK_TYPE_V2, B.EV_BLOCK_TYPE_V2}


@pytest.mark.sysdig
@pytest.mark.skipif(SYSDIG is None, reason="sysdig (the reference reader) is not installed")
def test_sysdig_reads_written_capture_like_the_original(shared_capture: Path, tmp_path: Path) -> None:
    out = tmp_path / shared_capture.name
    with open_capture(shared_capture) as cap:
        copy_capture(cap, out)
    for args in ([], ["-p", SYSDIG_FORMAT]):
        orig = subprocess.run([SYSDIG, "-r", str(shared_capture), *args], capture_output=True, text=True, check=True)
        new = subprocess.run([SYSDIG, "-r", str(out), *args], capture_output=True, text=True, check=True)
        assert new.stdout == orig.stdout


def test_write_capture_state_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "w.scap"
    procs = [ProcessInfo(tid=5, pid=5, ptid=1, comm="a\udcff", exe="/a", args=("a", "", "x"), env=(), cgroups=("cpu=/",),
                         loginuid=1000, exe_writable=True, cap_effective=7, exe_ino=9, pgid=5, tty=34816,
                         pidns_init_start_ts=123, exe_from_memfd=True)]
    fds = {5: [FdInfo(fd=0, ino=1, type=B.SCAP_FD_FILE_V2, name="/dev/null", open_flags=1, dev=6),
               FdInfo(fd=3, type=B.SCAP_FD_IPV6_SOCK, sip="fe80::1", dip="2001:db8::1", sport=1, dport=2, l4proto=2),
               FdInfo(fd=4, type=B.SCAP_FD_IPV4_SERVSOCK, sip="0.0.0.0", sport=80, l4proto=2),
               FdInfo(fd=6, type=B.SCAP_FD_EVENTPOLL, name="")]}
    users, groups = [UserInfo(0, 0, "root", "/root", "/bin/sh")], [GroupInfo(0, "root"), GroupInfo(5, "tty")]
    ifaces = Interfaces([InterfaceInfo("lo", "127.0.0.1", "255.0.0.0", "127.0.0.1", 0)], [])
    mi = MachineInfo(num_cpus=2, memory_size_bytes=1 << 30, hostname="h")
    events = [Event.build(100, 5, PPME.SYSCALL_CLOSE_E, [struct.pack("<q", 3)], cpu=1, flags=0),
              Event.build(101, 5, PPME.SYSCALL_CLOSE_X, [struct.pack("<q", 0)], cpu=1, flags=0x8)]
    write_capture(path, machine_info=mi, processes=procs, fds=fds, users=users, groups=groups, interfaces=ifaces,
                  events=events, compress=False)
    assert _block_types(path) == [B.SHB_BLOCK_TYPE, B.MI_BLOCK_TYPE, B.IL_BLOCK_TYPE_V2, B.UL_BLOCK_TYPE_V2,
                                  B.PL_BLOCK_TYPE_V9, B.FDL_BLOCK_TYPE_V2, B.EV_BLOCK_TYPE_V2, B.EVF_BLOCK_TYPE_V2]
    with open_capture(path) as cap:
        got = [(e.raw, e.cpu, e.flags) for e in cap.events()]
        assert (cap.processes, cap.fds, cap.users, cap.groups, cap.interfaces, cap.machine_info) == (
            procs, fds, users, groups, ifaces, mi)
    assert got == [(e.raw, 1, e.flags) for e in events]


def test_large_event_uses_a_large_block(tmp_path: Path) -> None:
    # A write of 100 KB does not fit a non-large block (64 KiB); the event table
    # gives it u16 lengths, so the payload is split over two big parameters.
    big = [b"\1" * 60000, b"\2" * 60000]
    etype = next(i for i, e in enumerate(EVENTS) if not e.large_payload and len(e.params) >= 2)
    ev = Event.build(1, 2, etype, big, cpu=0)
    path = tmp_path / "large.scap"
    with CaptureWriter(path, compress=False) as w:
        w.write_event(ev)
    assert _block_types(path) == [B.SHB_BLOCK_TYPE, B.EV_BLOCK_TYPE_V2_LARGE]
    with open_capture(path) as cap:
        (got,) = cap.events()
    assert got.raw == ev.raw and got.raw_params() == big


def test_state_blocks_keep_their_place(tmp_path: Path) -> None:
    src, out = tmp_path / "src.scap", tmp_path / "out.scap"
    close = Event.build(1, 2, PPME.SYSCALL_CLOSE_E, [struct.pack("<q", 3)], cpu=0)
    with CaptureWriter(src) as w:
        w.write_event(close)
        w.write_fds(2, [FdInfo(fd=3, type=B.SCAP_FD_FILE, name="/x")])
        w.write_event(close)
        w.write_users([UserInfo(1, 1, "u")], [])
    with open_capture(src) as cap:
        copy_capture(cap, out)
    assert _block_types(out) == [B.SHB_BLOCK_TYPE, B.EV_BLOCK_TYPE_V2, B.FDL_BLOCK_TYPE_V2, B.EV_BLOCK_TYPE_V2,
                                 B.UL_BLOCK_TYPE_V2]
    assert _snapshot(out) == _snapshot(src)
