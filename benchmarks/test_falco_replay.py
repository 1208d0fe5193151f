"""Whole-program replay: ``python -m falco`` over the >= 1M-event capture with
both official rules files (falco_rules.yaml + falco-incubating_rules.yaml),
as a child process: wall time, events/s (the events falco reports with -v)
and the child's peak RSS (ru_maxrss from wait4). Next to it, in the same
session, ``sysdig -r`` on the same file with a filter that matches nothing
(every event decoded and parsed into state, nothing printed) and its peak RSS.
Run: pytest benchmarks/test_falco_replay.py --benchmark-enable -s
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "shared" / "rules"
RULES_FILES = [RULES / "falco_rules.yaml", RULES / "falco-incubating_rules.yaml"]
SYSDIG = shutil.which("sysdig")


def run_child(argv: list[str]) -> tuple[float, int, str, str]:
    """(wall seconds, peak RSS in KiB, stdout, stderr) of one child run (exit 0 asserted);
    the child is reaped with wait4 for its own rusage."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text_out, text_err = out.read(), err.read()
    assert proc.returncode == 0, text_err[-2000:]
    return wall, usage.ru_maxrss, text_out, text_err


def falco_replay(capture: Path) -> list[str]:
    rules = [a for f in RULES_FILES for a in ("-r", str(f))]
    return [sys.executable, "-m", "falco", *rules, "-v", "-o", "engine.kind=replay",
            "-o", f"engine.replay.capture_file={capture}", "-o", "syslog_output.enabled=false",
            "-o", "stdout_output.enabled=false"]


@pytest.mark.slow
@pytest.mark.skipif(SYSDIG is None, reason="sysdig (the peer) is not installed")
def test_falco_replay_official_rules_vs_sysdig(benchmark, big_capture: Path) -> None:
    sysdig_s, sysdig_kb, _, _ = run_child([SYSDIG, "-r", str(big_capture), "proc.name=nonexistent_xyz"])
    runs = []

    def once() -> None:
        runs.append(run_child(falco_replay(big_capture)))

    benchmark.pedantic(once, rounds=2, iterations=1)
    wall, peak_kb, out, err = min(runs)
    events = int(re.search(r"Captured Events: (\d+)", err).group(1))  # type: ignore[union-attr]
    alerts = int(re.search(r"Events detected: (\d+)", out).group(1))  # type: ignore[union-attr]
    benchmark.extra_info.update(events=events, events_per_s=round(events / wall), wall_s=round(wall, 2),
                                peak_rss_mb=round(peak_kb / 1024), alerts=alerts,
                                sysdig_s=round(sysdig_s, 2), sysdig_peak_rss_mb=round(sysdig_kb / 1024))
    print(f"\nfalco replay, official rules: {events:,} events in {wall:.2f} s = {events / wall:,.0f} ev/s, "
          f"peak RSS {peak_kb / 1024:.0f} MB, {alerts} alerts; sysdig -r: {sysdig_s:.2f} s, "
          f"peak RSS {sysdig_kb / 1024:.0f} MB; ratio {sysdig_s / wall:.2f}")
    assert events >= 600_000
