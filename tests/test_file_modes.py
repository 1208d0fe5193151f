"""File modes and what other users can reach.

- ``python -m libscap capture -w`` writes its capture 0600 (captures hold every
  process's arguments, paths and data); falco's own capture files (capture:
  feature) are asserted 0600 in tests/test_falco_capture.py.
- The probe's maps are not pinned: no bpffs entry appears while falco runs live,
  and the map fds (fdinfo ``map_id``) of falco's probe are held by the falco
  process only, no other process on the host.
- A plugin is loaded only from the plugins directory or a path named in the
  config: a relative ``library_path`` that climbs out (``../x.so``) is refused with
  a clear error."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_falco_live import _live_refused

live = pytest.mark.skipif(_live_refused() is not None, reason=str(_live_refused()))


@live
def test_libscap_capture_file_is_0600(tmp_path: Path) -> None:
    out = tmp_path / "c.scap"
    old = os.umask(0o022)  # the usual umask would give 0644
    try:
        subprocess.run([sys.executable, "-m", "libscap", "capture", "-w", str(out), "-n", "200", "--",
                        "/bin/true"], check=True, capture_output=True, timeout=60)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def _bpffs_entries() -> set[str]:
    found: set[str] = set()
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines() if line.split()[2] == "bpf"]
    for m in mounts or ["/sys/fs/bpf"]:
        for root, dirs, files in os.walk(m):
            found.update(os.path.join(root, n) for n in dirs + files)
    return found


def _map_ids(pid: int | str) -> set[int]:
    ids = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fdinfo")
    except OSError:
        return ids
    for fd in fds:
        try:
            text = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("map_id:"):
                ids.add(int(line.split()[1]))
    return ids


@live
def test_probe_maps_not_pinned_and_only_in_falco(tmp_path: Path) -> None:
    before = _bpffs_entries()
    err = tmp_path / "falco.err"
    rules = tmp_path / "r.yaml"
    rules.write_text("- rule: r\n  desc: d\n  condition: evt.type=openat and fd.name=/nonexistent-x\n"
                     "  output: o\n  priority: WARNING\n")
    with open(err, "w") as fe:
        falco = subprocess.Popen([sys.executable, "-m", "falco", "-r", str(rules), "-U",
                                  "-o", "stdout_output.enabled=false", "-o", "syslog_output.enabled=false",
                                  "-o", "log_syslog=false", "-o", "webserver.enabled=false"],
                                 stdout=subprocess.DEVNULL, stderr=fe)
    try:
        deadline = time.monotonic() + 60
        while "syscalls in the kernel filter" not in err.read_text():
            assert falco.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.2)
        ours = _map_ids(falco.pid)
        assert len(ours) >= 3, ours  # ring buffers, the syscall filter, ...
        elsewhere = {int(p): _map_ids(p) & ours for p in os.listdir("/proc") if p.isdigit() and int(p) != falco.pid}
        assert {p: ids for p, ids in elsewhere.items() if ids} == {}
        assert _bpffs_entries() == before
    finally:
        falco.send_signal(signal.SIGTERM)
        try:
            falco.wait(30)
        except subprocess.TimeoutExpired:
            falco.kill()
            falco.wait()


def test_plugin_path_outside_plugins_dir_refused(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (tmp_path / "x.so").write_bytes(b"\x7fELF not really")
    cfg = tmp_path / "falco.yaml"
    cfg.write_text("plugins:\n  - name: x\n    library_path: ../x.so\nload_plugins: [x]\n"
                   "stdout_output:\n  enabled: true\n")
    r = subprocess.run([sys.executable, "-m", "falco", "-c", str(cfg), "-o", "engine.kind=replay",
                        "-o", "engine.replay.capture_file=/nonexistent.scap"],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "FALCO_PY_PLUGINS_DIR": str(plugins)})
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert "plugin library_path '../x.so' resolves outside the plugins directory" in r.stderr + r.stdout


def test_file_output_keeps_alerts_with_undecodable_text(tmp_path: Path) -> None:
    """A plugin string that is no UTF-8 (kept as surrogates) reaches the alert file
    backslash-escaped, in one write and alone; the alerts around it are intact."""
    from falco.outputs import FileOutput, Message, OutputsQueue

    path = tmp_path / "alerts.txt"
    bad = b"plugin \xff\xfe value".decode("utf-8", "surrogateescape")
    for keep_alive in (False, True):
        q = OutputsQueue([FileOutput(str(path), keep_alive=keep_alive)])
        for text in ("before", bad, "lone \ud800 surrogate", "after"):
            q.push(Message(0, 4, "R", "plugin", text))
        q.close()
        assert q.stats()["file"] == {"delivered": 4, "errors": 0, "drops": 0}
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == ["before", "plugin \\udcff\\udcfe value", "lone \\ud800 surrogate", "after"] * 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
