"""A soak: ``falco`` live with the official rules (../shared/rules/falco_rules.yaml,
used from there) plus the workload's marker rules, while the workload runs.

Reported: falco's exit code and whether a traceback appeared, events processed
(``-v``: driver events, events captured), kernel drops (driver drops, the
syscall_event_drops summary, and the last metrics snapshot), RSS from
/proc/<falco>/status (VmRSS) sampled every second — start (once the probe is
attached), middle, end and peak — and for each marker kind the markers the
workload performed vs the alerts delivered, with the missing ids.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.workload import MARKER_RULES, run

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_RULES = ROOT.parent / "shared" / "rules" / "falco_rules.yaml"


def _rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run_soak(duration_s: float, workdir: str | os.PathLike[str], rate: float = 20.0,
             extra_options: tuple[str, ...] = ()) -> dict[str, Any]:
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    markers = wd / "markers.yaml"
    markers.write_text(MARKER_RULES)
    alerts, metrics, err_path = wd / "alerts.json", wd / "metrics.json", wd / "falco.err"
    cmd = [sys.executable, "-m", "falco", "-r", str(OFFICIAL_RULES), "-r", str(markers), "-v", "-U",
           "-o", "json_output=true", "-o", "stdout_output.enabled=false", "-o", "syslog_output.enabled=false",
           "-o", "log_syslog=false", "-o", "webserver.enabled=false",
           "-o", "file_output.enabled=true", "-o", f"file_output.filename={alerts}",
           "-o", "metrics.enabled=true", "-o", "metrics.interval=5s", "-o", "metrics.output_rule=false",
           "-o", f"metrics.output_file={metrics}", *sum((["-o", o] for o in extra_options), [])]
    out = open(wd / "falco.out", "w")
    err = open(err_path, "w")
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=wd)
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    report: dict[str, Any] = {"cmd": " ".join(cmd)}
    try:
        deadline = time.monotonic() + 120
        while "syscalls in the kernel filter" not in err_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"falco did not start: {err_path.read_text()[-3000:]}")
            time.sleep(0.2)
        time.sleep(1.0)  # the initial /proc scan and rule setup settle

        def sample() -> None:
            t0 = time.monotonic()
            while not stop.is_set():
                rss = _rss_kb(proc.pid)
                if rss is not None:
                    samples.append((time.monotonic() - t0, rss))
                stop.wait(1.0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        wl = run(duration_s, wd / "work", rate)
        time.sleep(3.0)  # alerts of the last markers reach the file
        stop.set()
        sampler.join()
        crashed = proc.poll() is not None
        if not crashed:
            proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
        err.close()
    stderr = err_path.read_text(errors="replace")
    # multisets: over minutes the connect markers' source ports come round again
    delivered: dict[str, Counter[str]] = {"open": Counter(), "exec": Counter(), "connect": Counter()}
    other_rules: dict[str, int] = {}
    for line in alerts.read_text(errors="replace").splitlines() if alerts.exists() else []:
        try:
            a = json.loads(line)
        except ValueError:
            continue
        m = re.search(r"SOAKMARK (\w+) (\S+)", a.get("output", ""))
        if m and m.group(1) in delivered:
            text = m.group(2)
            if m.group(1) == "connect":
                delivered["connect"][text[:text.index("->") + 2] if "->" in text else text] += 1
            else:
                mid = re.search(r"([0-9a-f]{8}-\d+)", text)
                if mid:
                    delivered[m.group(1)][mid.group(1)] += 1
        else:
            other_rules[a.get("rule", "?")] = other_rules.get(a.get("rule", "?"), 0) + 1

    def num(pattern: str) -> int | None:
        m = re.search(pattern, stderr)
        return int(m.group(1)) if m else None

    last_metrics = None
    if metrics.exists() and metrics.read_text().strip():
        try:
            last_metrics = json.loads(metrics.read_text().strip().splitlines()[-1])
        except ValueError:
            last_metrics = None
    rss = [r for _, r in samples]
    report.update({
        "duration_s": duration_s, "falco_exit_code": proc.returncode, "crashed": crashed,
        "traceback": "Traceback" in stderr,
        "workload": {k: v for k, v in dataclasses.asdict(wl).items() if k != "markers"},
        "events_driver": num(r"Driver Events:(\d+)"), "events_processed": num(r"Captured Events: (\d+)"),
        "drops_driver": num(r"Driver Drops:(\d+)"), "drop_occurrences": num(r"event drop detected: (\d+)"),
        "drop_actions": num(r"num times actions taken: (\d+)"),
        "metrics_last": {k: v for k, v in ((last_metrics or {}).get("output_fields", last_metrics or {})).items()
                         if "drop" in k or "n_evts" in k or "memory" in k} if last_metrics else None,
        "markers": {k: {"expected": len(wl.markers[k]),
                        "delivered": sum((Counter(wl.markers[k]) & delivered[k]).values()),
                        "missing": sorted((Counter(wl.markers[k]) - delivered[k]).elements())[:20]} for k in delivered},
        "other_alerts": other_rules,
        "rss_kb": {"start": rss[0] if rss else None, "middle": rss[len(rss) // 2] if rss else None,
                   "end": rss[-1] if rss else None, "peak": max(rss) if rss else None, "samples": len(rss)},
        "stderr_tail": stderr[-1500:],
    })
    return report
