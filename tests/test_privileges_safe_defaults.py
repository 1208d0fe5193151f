"""Safe defaults of the running agent (falco live): the webserver listens on
loopback only by default (its socket read from /proc/<pid>/net/tcp) and serves TLS
with a configured certificate (self-signed, made with openssl here); the alert file
it creates is not readable by other users (mode 0600)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_falco_live import _live_refused, free_port

pytestmark = [pytest.mark.slow, pytest.mark.skipif(_live_refused() is not None, reason=str(_live_refused()))]

RULE = """
- rule: unique exec
  desc: x
  condition: evt.type in (execve, execveat) and proc.name = {name}
  output: "ran (cmd=%proc.cmdline)"
  priority: NOTICE
"""


def _listening(pid: int, port: int) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp) of the sockets listening on ``port``."""
    out = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            addr, p = cols[1].split(":")
            if int(p, 16) == port and cols[3] == "0A":
                out.append(addr)
    return out


def test_webserver_loopback_tls_and_private_alert_file(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test certificate")
    pem = tmp_path / "server.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    pem.write_text((tmp_path / "cert.pem").read_text() + (tmp_path / "key.pem").read_text())
    name = f"fsafe{os.getpid() % 100000}"
    prog = tmp_path / name
    shutil.copy("/bin/true", prog)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE.format(name=name))
    alerts = tmp_path / "alerts.txt"
    port = free_port()
    old_umask = os.umask(0o022)  # a usual umask: the file would be 0644 if falco did not choose
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "falco", "-r", str(rules), "-U", "-o", "syslog_output.enabled=false",
             "-o", "log_syslog=false", "-o", "stdout_output.enabled=false", "-o", "file_output.enabled=true",
             "-o", f"file_output.filename={alerts}", "-o", f"webserver.listen_port={port}",
             "-o", "webserver.ssl_enabled=true", "-o", f"webserver.ssl_certificate={pem}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    finally:
        os.umask(old_umask)
    ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                with urllib.request.urlopen(f"https://localhost:{port}/healthz", context=ctx, timeout=5) as r:
                    assert r.read() == b'{"status": "ok"}'
                break
            except OSError:
                assert time.monotonic() < deadline, "falco's webserver did not come up"
                time.sleep(0.2)
        assert _listening(proc.pid, port) == ["0100007F"]  # 127.0.0.1 only
        with socket.create_connection(("127.0.0.1", port)) as s:  # plain HTTP gets no answer
            s.settimeout(5)
            s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            try:
                assert b'"ok"' not in s.recv(100)
            except (ConnectionResetError, TimeoutError):
                pass
        subprocess.run([str(prog)], check=True)
        deadline = time.monotonic() + 10
        while not (alerts.exists() and "ran (cmd=" in alerts.read_text()):
            assert time.monotonic() < deadline, "no alert in the file output"
            time.sleep(0.1)
        mode = stat.S_IMODE(alerts.stat().st_mode)
        assert mode & 0o077 == 0, oct(mode)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_config_and_rules_writable_by_non_root_are_warned(tmp_path: Path) -> None:
    from falco.configuration import DEFAULT_CONFIG

    cfg, rules, safe = tmp_path / "falco.yaml", tmp_path / "rules.yaml", tmp_path / "safe.yaml"
    cfg.write_text(DEFAULT_CONFIG.read_text())
    rules.write_text(RULE.format(name="x"))
    safe.write_text(RULE.format(name="y").replace("unique exec", "other"))
    os.chmod(cfg, 0o646)  # world writable
    os.chmod(rules, 0o644)
    os.chown(rules, 1000, 1000)  # owned by a user
    os.chmod(safe, 0o644)
    res = subprocess.run([sys.executable, "-m", "falco", "-c", str(cfg), "-r", str(rules), "-r", str(safe),
                          "--dry-run", "-o", "log_syslog=false"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert f"Configuration file {cfg} is writable by all users" in res.stderr
    assert f"Rules file {rules} is owned by uid 1000" in res.stderr
    assert str(safe) + " is" not in res.stderr
