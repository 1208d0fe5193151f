"""Soak, CI variant (≤ 60 s of falco runtime in all): falco live with the official
rules and the workload's marker rules while tests/workload runs its mix.

- 45 s at a sustainable rate: no crash or traceback, every marker action alerted,
  no kernel drops unreported, RSS growth bounded (end vs start);
- 15 s of overload (1 MiB ring buffers, the workload as fast as it goes, 3 of them):
  falco keeps running and the drops are counted in -v and metrics, not silent.

The 10-minute run is ``python scripts/soak.py``; figures are printed (-s)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.test_falco_live import _live_refused
from tests.workload import run
from tests.workload.soak import run_soak

pytestmark = [pytest.mark.slow, pytest.mark.skipif(_live_refused() is not None, reason=str(_live_refused()))]


def _print(rep: dict) -> None:
    print(json.dumps({k: v for k, v in rep.items() if k not in ("stderr_tail", "cmd")}, indent=1))


def test_soak_45s_nothing_lost(tmp_path: Path) -> None:
    rep = run_soak(45, tmp_path, rate=20)
    _print(rep)
    assert not rep["crashed"] and rep["falco_exit_code"] == 0 and not rep["traceback"], rep["stderr_tail"]
    assert rep["workload"]["errors"] == []
    assert rep["events_processed"] and rep["events_processed"] > 10_000
    drops = rep["drops_driver"]
    assert drops is not None and rep["drop_occurrences"] is not None  # reported, whatever the figure
    for kind, m in rep["markers"].items():
        assert m["expected"] >= 80, (kind, m)
        if drops == 0:
            assert m["delivered"] == m["expected"], (kind, m)  # nothing lost
        else:  # drops explain losses only if they were reported
            assert rep["drop_occurrences"] > 0 and m["delivered"] >= 0.9 * m["expected"], (kind, m, drops)
    rss = rep["rss_kb"]
    assert rss["samples"] >= 40
    assert rss["end"] - rss["start"] < 30_000, rss  # < 30 MB over 45 s (thread/fd tables pruned)


def test_overload_drops_are_counted(tmp_path: Path) -> None:
    stop = threading.Event()
    # three extra workloads as fast as they go, beside the soak's own
    extra = [threading.Thread(target=run, args=(14, tmp_path / f"x{i}", 0), kwargs={"stop": stop}, daemon=True)
             for i in range(2)]
    for t in extra:
        t.start()
    try:
        rep = run_soak(15, tmp_path / "soak", rate=0,
                       extra_options=("engine.modern_ebpf.buf_size_preset=1", "engine.modern_ebpf.cpus_for_each_buffer=2",
                                      "syscall_event_drops.actions[]=log", "syscall_event_drops.threshold=0"))
    finally:
        stop.set()
        for t in extra:
            t.join(30)
    _print(rep)
    assert not rep["crashed"] and rep["falco_exit_code"] == 0 and not rep["traceback"], rep["stderr_tail"]
    assert rep["drops_driver"] is not None and rep["drop_occurrences"] is not None
    if rep["drops_driver"] == 0:
        pytest.xfail(f"no overload reached on this machine ({rep['events_driver']} events in 15 s, no drops)")
    assert rep["drop_occurrences"] > 0, rep["stderr_tail"]  # drops seen by syscall_event_drops
    assert "syscall event drop" in rep["stderr_tail"].lower() or rep["drop_actions"] > 0
