"""Output back-pressure, end to end.

Stuck outputs: an HTTP server that accepts connections and never answers (nor
reads), and a program output (``sleep``) that never reads its stdin.

- The outputs queue alone: pushing never blocks, the file output beside the stuck
  ones gets every alert, overflow is counted per output, and ``close`` gives the
  stuck outputs up after ``output_timeout`` (program group killed, socket shut)
  instead of hanging the exit.
- falco replaying a capture written live here (``python -m libscap capture -w``):
  the same replay with only a file output and with file + stuck HTTP + stuck
  program, run side by side: events/s within noise, the file output has every
  alert in both, the overflow count is in falco's summary and in the metrics
  (``falco.outputs_queue_num_drops`` in the metrics file, and its Prometheus form),
  and falco exits promptly."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from falco.metrics import prometheus_text
from falco.outputs import FileOutput, HttpOutput, Message, OutputsQueue, ProgramOutput
from tests.test_falco_live import _live_refused


class MuteServer:
    """Accepts TCP connections and never reads or answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._t = threading.Thread(target=self._accept, daemon=True)
        self._t.start()

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self) -> None:
        # shutdown wakes the thread blocked in accept(); close alone would not, and the
        # thread would later accept on whatever socket reuses the fd number
        self.sock.shutdown(socket.SHUT_RDWR)
        self._t.join(5)
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def mute() -> Iterator[MuteServer]:
    srv = MuteServer()
    yield srv
    srv.close()


def _group_alive(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    alive = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                alive.append(int(d))
    return alive


def test_queue_with_stuck_outputs(tmp_path: Path, mute: MuteServer) -> None:
    path = tmp_path / "events.txt"
    http = HttpOutput(f"http://127.0.0.1:{mute.port}/", keep_alive=True)
    prog = ProgramOutput("sleep 600; echo never", keep_alive=True)
    n, cap = 5000, 1000
    q = OutputsQueue([FileOutput(str(path), keep_alive=True), http, prog], capacity=cap, output_timeout_ms=300)
    try:
        text = "x" * 300
        pushed = 0.0
        for i in range(n):  # bursts of 100 alerts, 200 bursts/s at most: what a file keeps up with
            start = time.monotonic()
            q.push(Message(i, 4, "R", "syscall", f"alert {i} {text}"))
            pushed += time.monotonic() - start
            if i % 100 == 99:
                time.sleep(0.005)
        deadline = time.monotonic() + 10
        while not (path.exists() and path.read_text().count("\n") == n):
            assert time.monotonic() < deadline, "the file output did not get every alert"
            time.sleep(0.05)
        assert mute.conns, "the http output never connected"
        pgid = prog._proc.pid  # type: ignore[union-attr]
        stats = q.stats()
        start = time.monotonic()
        q.close()
        closed = time.monotonic() - start
    finally:
        q.close()
    print(f"push {n} alerts: {pushed:.3f} s; close: {closed:.2f} s; stats {stats}; undelivered {q.undelivered}")
    assert pushed < 1.0
    assert closed < 5.0
    assert stats["file"]["drops"] == 0 and stats["file"]["delivered"] == n
    # http: one alert in the blocked POST, `cap` queued, the rest overflowed
    assert stats["http"]["drops"] == n - cap - 1
    assert stats["program"]["drops"] >= n - cap - 1 - 64 * 1024 // len(text)  # the pipe took some
    assert q.drops == stats["http"]["drops"] + stats["program"]["drops"]
    assert q.undelivered >= 2 * cap - 2
    time.sleep(0.2)
    assert not _group_alive(pgid), "the stuck program output was left running"


def test_metrics_report_outputs_queue_drops() -> None:
    text = prometheus_text({"falco.outputs_queue_num_drops": 42, "falco.num_evts": 7})
    assert "# TYPE falcosecurity_falco_outputs_queue_num_drops_total counter" in text
    assert "falcosecurity_falco_outputs_queue_num_drops_total 42" in text


# --- falco, end to end --------------------------------------------------------------

LOADGEN = """
import os, sys
marker, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.close(os.open(marker if i % 4 == 0 else "/dev/null", os.O_RDONLY))
"""


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    refused = _live_refused()
    if refused:
        pytest.skip(refused)
    d = tmp_path_factory.mktemp("bp")
    marker = d / "bpmarker"
    marker.write_text("m\n")
    scap = d / "load.scap"
    subprocess.run([sys.executable, "-m", "libscap", "capture", "-w", str(scap), "--",
                    sys.executable, "-c", LOADGEN, str(marker), "40000"], check=True, capture_output=True, timeout=60)
    return scap, marker


def _replay(tmp: Path, scap: Path, rules: Path, extra: list[str]) -> dict:
    tmp.mkdir()
    alerts, metrics = tmp / "alerts.json", tmp / "metrics.json"
    cmd = [sys.executable, "-m", "falco", "-r", str(rules), "-v", "-o", "json_output=true",
           "-o", "engine.kind=replay", "-o", f"engine.replay.capture_file={scap}",
           "-o", "stdout_output.enabled=false", "-o", "syslog_output.enabled=false", "-o", "log_syslog=false",
           "-o", "webserver.enabled=false", "-o", "file_output.enabled=true", "-o", f"file_output.filename={alerts}",
           "-o", "outputs_queue.capacity=1000", "-o", "output_timeout=200",
           "-o", "metrics.enabled=true", "-o", "metrics.interval=200ms", "-o", "metrics.output_rule=false",
           "-o", f"metrics.output_file={metrics}"] + extra
    start = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    wall = time.monotonic() - start
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-3000:]
    m = re.search(r"Elapsed time: ([\d.]+), Captured Events: (\d+), ([\d.]+) eps", p.stderr)
    assert m, p.stderr[-3000:]
    qd = re.search(r"Outputs queue dropped (\d+) alerts", p.stderr)
    snaps = [json.loads(line)["output_fields"] for line in metrics.read_text().splitlines()] \
        if metrics.exists() else []
    return {"eps": float(m.group(3)), "events": int(m.group(2)), "elapsed": float(m.group(1)), "wall": wall,
            "alerts": sum(1 for line in alerts.read_text().splitlines() if "BPMARK" in line),
            "queue_drops": int(qd.group(1)) if qd else 0,
            "metrics_drops": max((s.get("falco.outputs_queue_num_drops", 0) for s in snaps), default=None),
            "stderr": p.stderr}


@pytest.mark.slow
def test_falco_replay_not_slowed_by_stuck_outputs(tmp_path: Path, capture: tuple[Path, Path],
                                                  mute: MuteServer) -> None:
    scap, marker = capture
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"""
- rule: bp marker
  desc: the load generator opens its marker
  condition: evt.type in (open, openat, openat2) and fd.name = "{marker}"
  output: "BPMARK %proc.pid %fd.name %evt.num"
  priority: WARNING
""")
    stuck = ["-o", "http_output.enabled=true", "-o", f"http_output.url=http://127.0.0.1:{mute.port}/",
             "-o", "http_output.keep_alive=true",
             "-o", "program_output.enabled=true", "-o", "program_output.keep_alive=true",
             "-o", "program_output.program=sleep 600"]
    # the file output alone with falco's default queue bound: 10,000 alerts come in a
    # fraction of a second, a burst a 1,000-alert queue may overflow (counted) while its
    # writer waits for the interpreter; the stuck runs keep 1,000 (their drops are checked)
    plain = ["-o", "outputs_queue.capacity=0"]
    runs: dict[str, list[dict]] = {"plain": [], "stuck": []}
    for i in range(2):  # interleaved, so that machine noise hits both
        runs["plain"].append(_replay(tmp_path / f"plain{i}", scap, rules, plain))
        runs["stuck"].append(_replay(tmp_path / f"stuck{i}", scap, rules, stuck))
    expected = 10_000  # every 4th of 40000 opens
    for kind, rs in runs.items():
        for r in rs:
            print(kind, {k: v for k, v in r.items() if k != "stderr"})
            assert r["alerts"] == expected, (kind, r["alerts"])  # the file output got every alert
    plain_eps = max(r["eps"] for r in runs["plain"])
    stuck_eps = max(r["eps"] for r in runs["stuck"])
    print(f"events/s best of 2: file only {plain_eps:.0f}, file + stuck http + stuck program {stuck_eps:.0f}"
          f" ({100 * stuck_eps / plain_eps:.0f} %)")
    assert stuck_eps >= 0.8 * plain_eps
    for r in runs["plain"]:
        assert r["queue_drops"] == 0 and r["metrics_drops"] == 0
    for r in runs["stuck"]:
        # http: 1 in flight + 1000 queued; program: the pipe's share more; the rest overflowed
        assert r["queue_drops"] >= 2 * (expected - 1001) - 1000, r["queue_drops"]
        assert r["metrics_drops"] is not None and 0 < r["metrics_drops"] <= r["queue_drops"], r["metrics_drops"]
        assert r["wall"] - r["elapsed"] < 10
        assert "giving up" in r["stderr"]
