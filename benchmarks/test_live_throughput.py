"""Highest event rate the live engine drains for 10 s with zero drops, at
default buffer sizes, counted at scap level (next_batch; events not processed).

The load is a C loop of close(-1) (a captured syscall whose exit event is the
smallest: 26-byte header + one parameter) paced to a target rate; this process
drains with ModernBpfEngine.next_batch. Rates are tried from the highest down
until a 10 s run ends with no drop in the kernel counters; the figure and the
rates that dropped are reported. On this 2-core machine the load generator
and the drainer share the two CPUs, which bounds the figure: the generator
cannot exceed what one core does with the probe attached (see the "full
speed" line).
Run: pytest benchmarks/test_live_throughput.py --benchmark-enable -s
"""

from __future__ import annotations

import subprocess
import time

import pytest

from libscap.engine.modern_bpf import ModernBpfEngine
from test_live_overhead import build_loop
from tests.bpf_progs import bpf_refused_reason

SECONDS = 10
RATES = (0, 2_000_000, 1_500_000, 1_000_000, 500_000)  # 0: as fast as the generator goes


def one_run(eng: ModernBpfEngine, exe, rate: int) -> tuple[float, int, int]:
    """(events drained per second, events drained, kernel drops) for one paced run."""
    before = sum(s.drops for s in eng.stats())
    n = int((rate or 3_000_000) * SECONDS)
    gen = subprocess.Popen([str(exe), "close", str(n), str(rate)], stdout=subprocess.DEVNULL)
    drained = 0
    start = time.perf_counter()
    while gen.poll() is None:
        drained += len(eng.next_batch(timeout_ms=10))
    while batch := eng.next_batch(timeout_ms=0):
        drained += len(batch)
    secs = time.perf_counter() - start
    return drained / secs, drained, sum(s.drops for s in eng.stats()) - before


@pytest.mark.slow
def test_sustained_rate_without_drops(benchmark, tmp_path):
    if reason := bpf_refused_reason():
        pytest.skip(reason)
    exe = build_loop(tmp_path)
    results = []
    with ModernBpfEngine() as eng:
        eng.set_interesting_syscalls({"close"})
        eng.start()
        for rate in RATES:
            got = one_run(eng, exe, rate)
            results.append((rate, *got))
            print(f"\ntarget {'full speed' if not rate else f'{rate:,} ev/s'}: drained {got[0]:,.0f} ev/s "
                  f"({got[1]:,} events), drops {got[2]:,}")
            if got[2] == 0:
                break
        eng.stop()
    best = next(((r, rate) for r, (rate, rate_s, n, drops) in enumerate(results) if drops == 0), None)
    benchmark.pedantic(lambda: None, rounds=1)
    assert best is not None, f"drops at every rate tried: {results}"
    rate_s = results[best[0]][1]
    benchmark.extra_info.update(sustained_events_per_s=round(rate_s), runs=[
        {"target": r, "drained_per_s": round(d), "drops": x} for r, d, _, x in results])
    print(f"sustained without drops for {SECONDS} s: {rate_s:,.0f} ev/s (target >= 1,000,000)")
