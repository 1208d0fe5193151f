"""falco live (modern_ebpf): an alert for the exec of a uniquely named program
within 2 s, delivered before a clean SIGTERM exit; webserver endpoints."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

RULE = """
- rule: unique exec
  desc: the uniquely named test program ran
  condition: evt.type in (execve, execveat) and proc.name = {name}
  output: "unique program ran (cmd=%proc.cmdline pid=%proc.pid)"
  priority: NOTICE
"""


def _live_refused() -> str | None:
    if os.geteuid() != 0:
        return "live capture needs root"
    try:
        from libscap.engine.modern_bpf import check_features

        check_features()
    except Exception as e:  # the kernel (or missing BTF) refuses the probe
        return f"kernel refuses the modern probe: {e}"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_live_refused() is not None, reason=str(_live_refused()))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.headers["Content-Type"], r.read().decode()


def test_exec_alert_within_2s_json_and_webserver(tmp_path: Path) -> None:
    name = f"fpy{os.getpid() % 100000}x"
    prog = tmp_path / name
    shutil.copy("/bin/true", prog)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE.format(name=name))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "falco", "-r", str(rules), "-o", "json_output=true",
         "-o", "syslog_output.enabled=false", "-o", f"webserver.listen_port={port}",
         "-o", "metrics.enabled=true", "-o", "webserver.prometheus_metrics_enabled=true"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:  # the webserver starts once the probe is attached
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                assert get(f"http://127.0.0.1:{port}/healthz")[2] == '{"status": "ok"}'
                break
            except OSError:
                assert time.monotonic() < deadline, "falco did not start"
                time.sleep(0.2)
        versions = json.loads(get(f"http://127.0.0.1:{port}/versions")[2])
        assert versions["engine_version_semver"].startswith("0.")
        status, ctype, text = get(f"http://127.0.0.1:{port}/metrics")
        assert ctype == "text/plain; version=0.0.4" and "falcosecurity_falco_num_evts_total" in text
        started = time.monotonic()
        subprocess.run([str(prog), "arg1"], check=True)
        os.set_blocking(proc.stdout.fileno(), False)  # type: ignore[union-attr]
        line = ""
        while time.monotonic() - started < 2.0 and not line:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            time.sleep(0.02)
        assert line, "no alert within 2 s"
        alert = json.loads(line)
        assert alert["rule"] == "unique exec" and alert["priority"] == "Notice"
        assert alert["output_fields"]["proc.cmdline"] == f"{name} arg1"
        proc.send_signal(signal.SIGTERM)
        os.set_blocking(proc.stdout.fileno(), True)  # type: ignore[union-attr]
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert "Triggered rules by rule name:\n   unique exec: 1\n" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
