"""pybpf ring buffers: the batch reader (one C call per batch, per-CPU rings merged
by timestamp) and libbpf's callback consumer, fed by a real sys_enter probe."""

from __future__ import annotations

import os
import platform
import struct
import time
from typing import Iterator

import pytest

import bpf
from bpf import BpfError, BpfObject, RingBuffer, RingBufferReader
from bpf_progs import progs  # noqa: F401 (fixture)

# struct record in bpf_progs/records.bpf.c
RECORD = struct.Struct("<QIIqQ")  # ts, pid, cpu, syscall id, seq
#: x86_64 / arm64 syscall numbers of the syscalls triggered below
NR = {"x86_64": {"getpid": 39, "getppid": 110}, "aarch64": {"getpid": 172, "getppid": 173}}
MODE_EVENTS, MODE_RINGS = 1, 2


@pytest.fixture
def probe(progs) -> Iterator[BpfObject]:
    """records.bpf.o loaded and attached; capture starts when mode is set."""
    with BpfObject(progs["records"]) as obj:
        obj.load()
        obj.maps["rings"].update(0, obj.maps["rb0"])
        obj.maps["rings"].update(1, obj.maps["rb1"])
        obj.attach("pybpf_records")
        yield obj


def capture(obj: BpfObject, mode: int, n: int) -> None:
    """Record this process's syscalls while calling getppid() n times."""
    cfg = obj.maps["cfg"]
    cfg.update(0, struct.pack("<II", os.getpid(), mode))
    for _ in range(n):
        os.getppid()
    cfg.update(0, struct.pack("<II", 0, 0))


def decode(batch: bpf.RecordBatch) -> list[tuple[int, int, int, int, int]]:
    return [RECORD.unpack(rec) for rec in batch]


def test_sys_enter_records_come_back_in_one_batch(probe):
    reader = RingBufferReader([probe.maps["events"]])
    cfg = probe.maps["cfg"]
    cfg.update(0, struct.pack("<II", os.getpid(), MODE_EVENTS))
    for _ in range(100):
        os.getppid()
        os.getpid()
    cfg.update(0, struct.pack("<II", 0, 0))
    batch = reader.read_batch()
    records = decode(batch)
    assert len(records) >= 200  # all in a single call
    assert {pid for _, pid, _, _, _ in records} == {os.getpid()}
    ids = [sid for _, _, _, sid, _ in records]
    nr = NR[platform.machine()]
    assert ids.count(nr["getppid"]) >= 100 and ids.count(nr["getpid"]) >= 100
    assert [seq for *_, seq in records] == sorted(seq for *_, seq in records)
    assert all(batch.lengths[i] == RECORD.size for i in range(len(batch)))
    assert len(reader.read_batch()) == 0
    assert reader.pending_bytes() == 0


def test_batch_limits_records_and_bytes(probe):
    capture(probe, MODE_EVENTS, 50)
    reader = RingBufferReader([probe.maps["events"]], buffer_size=3 * RECORD.size + 4)
    total = RingBufferReader([probe.maps["events"]]).pending_bytes()  # 8-byte header each
    assert len(reader.read_batch(max_records=2)) == 2
    assert len(reader.read_batch()) == 3  # the byte budget: 3 records fit
    seen = 5
    while batch := reader.read_batch():
        seen += len(batch)
    assert seen == total // (RECORD.size + 8)
    tiny = RingBufferReader([probe.maps["events"]], buffer_size=RECORD.size - 1)
    capture(probe, MODE_EVENTS, 1)
    with pytest.raises(BpfError) as info:
        tiny.read_batch()
    assert "E2BIG" in str(info.value)


@pytest.mark.parametrize("ts_offset", [0, 24])  # the ts field, then the seq field
def test_two_rings_merge_oldest_first(probe, ts_offset):
    capture(probe, MODE_RINGS, 300)
    rings = [probe.maps["rb0"], probe.maps["rb1"]]
    batch = RingBufferReader(rings, ts_offset=ts_offset).read_batch()
    records = decode(batch)
    assert len(records) >= 300
    assert [r[0] for r in records] == sorted(r[0] for r in records)
    assert [r[4] for r in records] == sorted(r[4] for r in records)
    # the probe alternates rings by sequence number: record i came from ring seq & 1
    assert list(batch.sources) == [r[4] & 1 for r in records]
    assert set(batch.sources) == {0, 1}


def test_unmerged_read_drains_ring_by_ring(probe):
    """The control for the merge test: without a timestamp the order is per ring."""
    capture(probe, MODE_RINGS, 50)
    batch = RingBufferReader([probe.maps["rb0"], probe.maps["rb1"]], ts_offset=None).read_batch()
    records = decode(batch)
    assert len(records) >= 50
    assert [r[4] for r in records] != sorted(r[4] for r in records)
    assert list(batch.sources) == sorted(batch.sources)


def test_read_waits_up_to_the_timeout(probe):
    reader = RingBufferReader([probe.maps["events"]])
    start = time.monotonic()
    assert len(reader.read_batch(timeout_ms=100)) == 0
    assert time.monotonic() - start >= 0.09
    capture(probe, MODE_EVENTS, 5)
    start = time.monotonic()
    assert len(reader.read_batch(timeout_ms=5000)) >= 5
    assert time.monotonic() - start < 1


def test_records_outlive_the_batch_only_when_copied(probe):
    reader = RingBufferReader([probe.maps["events"]])
    capture(probe, MODE_EVENTS, 3)
    first = reader.read_batch()
    kept = [bytes(rec) for rec in first]
    capture(probe, MODE_EVENTS, 3)
    second = [bytes(rec) for rec in reader.read_batch()]
    assert RECORD.unpack(kept[0])[4] < RECORD.unpack(second[0])[4]


def test_libbpf_callback_consumer(probe):
    got: list[bytes] = []
    with RingBuffer([probe.maps["rb0"], probe.maps["rb1"]], lambda rec: got.append(bytes(rec))) as rb:
        capture(probe, MODE_RINGS, 20)
        assert rb.poll(1000) + rb.consume() == len(got)
        assert len(got) >= 20
        assert {RECORD.unpack(r)[1] for r in got} == {os.getpid()}
        assert rb.epoll_fd >= 0


def test_callback_exception_propagates(probe):
    def boom(rec: memoryview) -> None:
        raise RuntimeError("from callback")

    with RingBuffer([probe.maps["events"]], boom) as rb:
        capture(probe, MODE_EVENTS, 3)
        with pytest.raises(RuntimeError, match="from callback"):
            rb.consume()


def test_reader_needs_ring_buffer_maps(probe):
    with pytest.raises(ValueError, match="'cfg' is not a ring buffer"):
        RingBufferReader([probe.maps["cfg"]])
    with pytest.raises(ValueError):
        RingBufferReader([])
