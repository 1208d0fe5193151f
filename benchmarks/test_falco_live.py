"""falco live under load: CPU % of the falco process and kernel drops while a C
workload makes about 100k captured syscalls/s (50k openat+close pairs of
/dev/null per second, both syscalls the official rules evaluate) for 10 s.

falco runs with the official falco_rules.yaml at its default configuration
(buf_size_preset 4, 2 CPUs per buffer), alerts to /dev/null. The CPU figure is
the falco process's user+system time over the load window (from
/proc/<pid>/stat), in % of one core; drops and captured events are what falco
prints with -v at exit (kernel counters). The workload's pacing loop spins, so
it holds one of this machine's 2 cores for the whole window.
Run: pytest benchmarks/test_falco_live.py --benchmark-enable -s
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.bpf_progs import bpf_refused_reason  # noqa: E402

from test_live_overhead import build_loop  # noqa: E402

RULES = Path(__file__).resolve().parents[2] / "shared" / "rules" / "falco_rules.yaml"
SECONDS = 10
PAIRS_PER_S = 50_000
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, "falco exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            assert time.monotonic() < deadline, "falco did not start"
            time.sleep(0.2)


@pytest.mark.slow
def test_falco_cpu_and_drops_at_100k_syscalls_per_s(benchmark, tmp_path: Path) -> None:
    if reason := bpf_refused_reason():
        pytest.skip(reason)
    exe = build_loop(tmp_path)
    port = free_port()
    err_path = tmp_path / "falco.err"
    with open(err_path, "w") as err:
        falco = subprocess.Popen(
            [sys.executable, "-m", "falco", "-r", str(RULES), "-v", "-o", "syslog_output.enabled=false",
             "-o", f"webserver.listen_port={port}"], stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_healthy(falco, port)
        result = {}

        def window() -> None:
            cpu0, t0 = cpu_seconds(falco.pid), time.perf_counter()
            subprocess.run([str(exe), "open", str(PAIRS_PER_S * SECONDS), str(PAIRS_PER_S)],
                           stdout=subprocess.DEVNULL, check=True)
            wall = time.perf_counter() - t0
            result.update(cpu_pct=100 * (cpu_seconds(falco.pid) - cpu0) / wall, wall=wall)

        benchmark.pedantic(window, rounds=1, iterations=1)
        falco.send_signal(signal.SIGTERM)
        assert falco.wait(60) == 0
    finally:
        if falco.poll() is None:
            falco.kill()
            falco.wait()
    err_text = err_path.read_text()
    events = int(re.search(r"Driver Events:(\d+)", err_text).group(1))  # type: ignore[union-attr]
    drops = int(re.search(r"Driver Drops:(\d+)", err_text).group(1))  # type: ignore[union-attr]
    rate = 2 * PAIRS_PER_S * SECONDS / result["wall"]
    benchmark.extra_info.update(cpu_pct=round(result["cpu_pct"]), workload_syscalls_per_s=round(rate),
                                driver_events=events, drops=drops)
    print(f"\nfalco live, official rules, workload {rate:,.0f} captured syscalls/s for {result['wall']:.1f} s: "
          f"falco CPU {result['cpu_pct']:.0f}% of a core; kernel events {events:,}, drops {drops:,}")
