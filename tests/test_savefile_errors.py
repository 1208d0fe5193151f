"""Malformed captures: every fault is a ScapError naming the file and the byte
offset of the fault (in the decompressed stream for gzip files)."""

from __future__ import annotations

import gzip
import struct
import time
from pathlib import Path

import pytest

from libscap.errors import ScapError
from libscap.event import Event
from libscap.savefile import CaptureWriter, FdInfo, ProcessInfo, open_capture
from libscap.savefile import blocks as B
from libscap.schema import PPM_EVENT_MAX, PPME

SHB_LEN = 28


def _valid_capture(path: Path) -> bytes:
    with CaptureWriter(path, compress=False) as w:
        w.write_processes([ProcessInfo(tid=1, pid=1, comm="init", args=("init",))])
        w.write_fds(1, [FdInfo(fd=0, type=B.SCAP_FD_FILE, name="/dev/null")])
        w.write_event(Event.build(10, 1, PPME.SYSCALL_CLOSE_E, [struct.pack("<q", 3)], cpu=0))
        w.write_event(Event.build(11, 1, PPME.SYSCALL_CLOSE_X, [struct.pack("<q", 0)], cpu=0))
    return path.read_bytes()


def _blocks(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, type, length) of each block, from the raw headers."""
    out, pos = [], 0
    while pos < len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        out.append((pos, btype, blen))
        pos += blen
    return out


def _read_all(path: Path) -> None:
    with open_capture(path) as cap:
        for e in cap.events():
            e.validate()


@pytest.fixture
def capture(tmp_path: Path) -> tuple[Path, bytearray, list[tuple[int, int, int]]]:
    path = tmp_path / "c.scap"
    data = _valid_capture(path)
    _read_all(path)  # the untouched capture is fine
    return path, bytearray(data), _blocks(data)


def _expect(path: Path, data: bytes, offset: int, match: str) -> ScapError:
    path.write_bytes(bytes(data))
    with pytest.raises(ScapError, match=match) as info:
        _read_all(path)
    assert info.value.path == str(path)
    assert info.value.offset == offset
    return info.value


def _event_block(blocks, n: int) -> int:
    return [off for off, t, _ in blocks if t == B.EV_BLOCK_TYPE_V2][n]


def test_empty_file(capture) -> None:
    path, _, _ = capture
    _expect(path, b"", 0, "too short for a section header")


def test_not_a_scap_file(capture) -> None:
    path, data, _ = capture
    data[0:4] = b"\x89PNG"
    _expect(path, data, 0, "not a .scap file")


def test_byte_swapped_magic(capture) -> None:
    path, data, _ = capture
    data[8:12] = struct.pack(">I", B.SHB_MAGIC)
    _expect(path, data, 8, "byte-order magic")


def test_newer_major_version(capture) -> None:
    path, data, _ = capture
    data[12:14] = struct.pack("<H", 2)
    _expect(path, data, 12, "newer than the supported")


def test_truncated_in_an_event(capture) -> None:
    path, data, blocks = capture
    off = _event_block(blocks, 1)
    _expect(path, data[:off + 20], off, "truncated block")


def test_truncated_in_a_block_header(capture) -> None:
    path, data, blocks = capture
    off = _event_block(blocks, 1)
    _expect(path, data[:off + 5], off, "truncated block header")


def test_trailer_mismatch(capture) -> None:
    path, data, blocks = capture
    off, _, blen = blocks[1]  # the process list
    data[off + blen - 4:off + blen] = struct.pack("<I", blen + 4)
    _expect(path, data, off + blen - 4, "does not match its trailer")


def test_absurd_block_length_is_not_allocated(capture) -> None:
    path, data, blocks = capture
    off = _event_block(blocks, 0)
    data[off + 4:off + 8] = struct.pack("<I", 0xFFFFFFF0)
    start = time.perf_counter()
    _expect(path, data, off + 4, "exceeds")
    assert time.perf_counter() - start < 1


def test_block_length_larger_than_the_file(capture) -> None:
    path, data, blocks = capture
    off, _, _ = blocks[1]
    data[off + 4:off + 8] = struct.pack("<I", 1 << 20)
    _expect(path, data, off, "truncated block")


def test_block_length_too_small(capture) -> None:
    path, data, blocks = capture
    off, _, _ = blocks[1]
    data[off + 4:off + 8] = struct.pack("<I", 8)
    _expect(path, data, off + 4, "shorter than a block's header")


def test_event_length_beyond_its_block(capture) -> None:
    path, data, blocks = capture
    off = _event_block(blocks, 0)
    data[off + 10 + 16:off + 10 + 20] = struct.pack("<I", 200)
    _expect(path, data, off + 10, "overruns its block")


def test_event_shorter_than_its_header(capture) -> None:
    path, data, blocks = capture
    off = _event_block(blocks, 0)
    data[off + 10 + 16:off + 10 + 20] = struct.pack("<I", 10)
    _expect(path, data, off + 10, "shorter than the 26-byte event header")


def test_nparams_beyond_the_table(capture) -> None:
    path, data, blocks = capture
    off = _event_block(blocks, 0)
    data[off + 10 + 22:off + 10 + 26] = struct.pack("<I", 2)  # close_e has 1 parameter
    _expect(path, data, off + 10, "more than the 1 allowed")


def test_nparams_beyond_the_limit_for_unknown_types(capture) -> None:
    path, data, blocks = capture
    off = _event_block(blocks, 0)
    data[off + 10 + 20:off + 10 + 22] = struct.pack("<H", PPM_EVENT_MAX + 7)
    data[off + 10 + 22:off + 10 + 26] = struct.pack("<I", 33)
    _expect(path, data, off + 10, "more than the 32 allowed")


def test_parameter_lengths_overrun_the_event(capture) -> None:
    # Checked lazily: the first parameter access raises, with file and event offset.
    path, data, blocks = capture
    off = _event_block(blocks, 1)
    data[off + 10 + 26:off + 10 + 28] = struct.pack("<H", 9)  # 8 bytes are present
    path.write_bytes(bytes(data))
    with open_capture(path) as cap:
        first, second = cap.events()
        assert first.param(0) == 3
        with pytest.raises(ScapError, match="overrun") as info:
            second.param(0)
    assert (info.value.path, info.value.offset) == (str(path), off + 10)


def test_string_overrunning_a_process_entry(capture) -> None:
    path, data, blocks = capture
    off, _, _ = blocks[1]
    comm_len_at = off + 8 + 4 + 40  # block header, entry length, tid/pid/ptid/sid/vpgid
    data[comm_len_at:comm_len_at + 2] = struct.pack("<H", 5000)
    _expect(path, data, comm_len_at + 2, "process list entry: needs 5000 more bytes")


def test_process_entry_length_too_small(capture) -> None:
    path, data, blocks = capture
    off, _, _ = blocks[1]
    data[off + 8:off + 12] = struct.pack("<I", 2)
    _expect(path, data, off + 8, "process list entry length 2 is too short")


def test_unknown_fd_type_in_a_v1_fd_list(capture) -> None:
    path, data, blocks = capture
    off, _, blen = blocks[2]  # the fd list (v2): rewrite it as a v1 block of an unknown fd type
    body = struct.pack("<q", 1) + struct.pack("<qQB", 0, 0, 99) + b"\0\0\0"
    new = struct.pack("<II", B.FDL_BLOCK_TYPE, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
    data[off:off + blen] = new
    _expect(path, data, off + 8 + 8 + 17, "unknown fd type 99")


def test_non_large_event_block_over_64k(tmp_path: Path) -> None:
    path = tmp_path / "big.scap"
    raw = Event.build(1, 1, PPME.SYSCALL_CLOSE_E, [b"\0" * 60000, b"\0" * 10000]).raw
    with CaptureWriter(path, compress=False) as w:
        w.write_event(Event.from_bytes(raw))
    data = bytearray(path.read_bytes())
    assert struct.unpack_from("<I", data, SHB_LEN)[0] == B.EV_BLOCK_TYPE_V2_LARGE
    data[SHB_LEN:SHB_LEN + 4] = struct.pack("<I", B.EV_BLOCK_TYPE_V2)
    _expect(path, data, SHB_LEN + 4, "non-large event block")


def test_gzip_offsets_are_in_the_decompressed_stream(capture) -> None:
    path, data, blocks = capture
    off = _event_block(blocks, 0)
    data[off + 10 + 16:off + 10 + 20] = struct.pack("<I", 10)
    path.write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(ScapError, match="decompressed gzip stream") as info:
        _read_all(path)
    assert info.value.offset == off + 10


def test_corrupt_gzip_stream(capture) -> None:
    path, data, blocks = capture
    events = data[_event_block(blocks, 0):]
    packed = gzip.compress(bytes(data) + bytes(events) * 50)
    path.write_bytes(packed[:len(packed) // 2])
    with pytest.raises(ScapError, match="decompressed gzip stream") as info:
        _read_all(path)
    assert info.value.path == str(path) and info.value.offset is not None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScapError, match="cannot open") as info:
        open_capture(tmp_path / "nope.scap")
    assert info.value.path == str(tmp_path / "nope.scap")


def test_event_block_trailer_mismatch(capture) -> None:
    path, data, blocks = capture
    off, _, blen = next(b for b in blocks if b[1] == B.EV_BLOCK_TYPE_V2)
    data[off + blen - 4:off + blen] = struct.pack("<I", blen + 8)
    _expect(path, data, off + blen - 4, "does not match its trailer")
