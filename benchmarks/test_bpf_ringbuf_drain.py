"""Batch drain rate of bpf.RingBufferReader (records/s), for the pybpf figures.

A sys_enter probe fills the ring buffer(s) from a getppid() storm of this
process; then only the drain is timed: read_batch() until empty, counting records
(no per-record Python work). Run: make bench, or
    python3 -m pytest -q benchmarks/test_bpf_ringbuf_drain.py --benchmark-enable -s
"""

from __future__ import annotations

import os
import struct
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from bpf_progs import progs  # noqa: E402,F401 (fixture)

from bpf import BpfObject, RingBufferReader  # noqa: E402

RECORDS = 1_000_000  # 40 bytes each in the ring (32 + 8-byte header)
RING_BYTES = 64 << 20


def fill(obj: BpfObject, mode: int) -> None:
    cfg = obj.maps["cfg"]
    cfg.update(0, struct.pack("<II", os.getpid(), mode))
    for _ in range(RECORDS):
        os.getppid()
    cfg.update(0, struct.pack("<II", 0, 0))


def drain(reader: RingBufferReader) -> int:
    n = 0
    while batch := reader.read_batch():
        n += len(batch)
    return n


@pytest.mark.slow
@pytest.mark.parametrize("rings", [1, 2], ids=["one_ring", "two_rings_merged"])
def test_batch_drain_rate(benchmark, progs, rings):
    with BpfObject(progs["records"]) as obj:
        for name in ("events", "rb0", "rb1"):
            obj.resize_map(name, RING_BYTES)
        obj.load()
        obj.maps["rings"].update(0, obj.maps["rb0"])
        obj.maps["rings"].update(1, obj.maps["rb1"])
        obj.attach("pybpf_records")
        maps = [obj.maps["events"]] if rings == 1 else [obj.maps["rb0"], obj.maps["rb1"]]
        reader = RingBufferReader(maps, ts_offset=0)
        mode = 1 if rings == 1 else 2
        rates = []

        def timed_drain() -> int:
            start = time.perf_counter()
            n = drain(reader)
            rates.append(n / (time.perf_counter() - start))
            return n

        drained = benchmark.pedantic(timed_drain, setup=lambda: fill(obj, mode), rounds=3)
        assert drained >= RECORDS  # the storm's getppid calls, plus a few others
        benchmark.extra_info["records_per_s"] = max(rates)
        print(f"\n{rings} ring(s): drained {drained} records, best {max(rates) / 1e6:.1f} M records/s")
