"""The C scanner (libscap._scan) against an independent reading of the blocks:
same events, and faults still reported by the general path at the same offset."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest

from libscap.errors import ScapError
from libscap.event import Event
from libscap.savefile import CaptureWriter, open_capture
from libscap.savefile import blocks as B
from libscap.savefile import reader as R
from libscap.schema import PPME

_V2_HEAD = {B.EV_BLOCK_TYPE_V2: 2, B.EV_BLOCK_TYPE_V2_LARGE: 2,
            B.EVF_BLOCK_TYPE_V2: 6, B.EVF_BLOCK_TYPE_V2_LARGE: 6}
_EVENT_BLOCKS = set(_V2_HEAD) | set(B.EV_V1_TYPES)


def _stream(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _expected(path: Path) -> list[tuple | None]:
    """Per event block in file order: the event's fields from Event.from_bytes
    (None for old-layout blocks, which the reader rebuilds)."""
    data, out = _stream(path), []
    pos = struct.unpack_from("<I", data, 4)[0]
    while pos < len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        if btype in _V2_HEAD:
            cpu = struct.unpack_from("<H", data, pos + 8)[0]
            flags = struct.unpack_from("<I", data, pos + 10)[0] if _V2_HEAD[btype] == 6 else 0
            eoff = pos + 8 + _V2_HEAD[btype]
            elen = struct.unpack_from("<I", data, eoff + 16)[0]
            e = Event.from_bytes(data[eoff:eoff + elen], cpu, len(out) + 1, flags)
            out.append((eoff, e.ts, e.tid, e.len, e.type, e.nparams, e.cpu, e.num, e.flags, e.raw))
        elif btype in _EVENT_BLOCKS:
            out.append(None)
        pos += blen
    return out


def test_scanner_matches_an_independent_reading(shared_capture: Path) -> None:
    expected = _expected(shared_capture)
    with open_capture(shared_capture) as cap:
        got = list(cap.events())
    assert len(got) == len(expected)
    for e, want in zip(got, expected):
        if want is not None:
            assert (e.buf.base + e.off, e.ts, e.tid, e.len, e.type, e.nparams, e.cpu, e.num, e.flags, e.raw) == want
            e.validate()


def _many_events(path: Path, n: int) -> bytes:
    with CaptureWriter(path, compress=False) as w:
        for i in range(n):
            w.write_event(Event.build(10 + i, 1, PPME.SYSCALL_CLOSE_E, [struct.pack("<q", i)], cpu=i % 4))
    return path.read_bytes()


def _event_blocks(data: bytes) -> list[tuple[int, int]]:
    out, pos = [], 0
    while pos < len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        if btype in _V2_HEAD:
            out.append((pos, blen))
        pos += blen
    return out


def test_events_across_batch_boundaries(tmp_path: Path) -> None:
    n = 3 * R._BATCH + 17
    path = tmp_path / "many.scap"
    _many_events(path, n)
    with open_capture(path) as cap:
        got = [(e.num, e.ts, e.cpu, e.param(0)) for e in cap.events()]
    assert got == [(i + 1, 10 + i, i % 4, i) for i in range(n)]


@pytest.mark.parametrize("where", [0, 5, R._BATCH + 3])
def test_corrupt_block_after_scanned_ones_is_reported_at_its_offset(tmp_path: Path, where: int) -> None:
    path = tmp_path / "bad.scap"
    data = bytearray(_many_events(path, R._BATCH + 10))
    off, blen = _event_blocks(bytes(data))[where]
    data[off + blen - 4:off + blen] = struct.pack("<I", blen + 8)
    path.write_bytes(bytes(data))
    seen = []
    with pytest.raises(ScapError, match="does not match its trailer") as info:
        with open_capture(path) as cap:
            for e in cap.events():
                seen.append(e.num)
    assert info.value.offset == off + blen - 4
    assert seen == list(range(1, where + 1))


def test_too_many_params_is_left_to_the_general_path(tmp_path: Path) -> None:
    path = tmp_path / "np.scap"
    data = bytearray(_many_events(path, 20))
    off, _ = _event_blocks(bytes(data))[7]
    struct.pack_into("<I", data, off + 10 + 22, 5)  # close_e has 1 parameter
    path.write_bytes(bytes(data))
    with pytest.raises(ScapError, match="more than the 1 allowed") as info:
        with open_capture(path) as cap:
            for _ in cap.events():
                pass
    assert info.value.offset == off + 10
