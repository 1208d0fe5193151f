"""falco's ``capture:`` on a replay: .scap files written from the alerts on,
named by the triggering event, mode 0600, carrying the state of the moment
(read back by our reader and by sysdig 0.29). Expected alert times and events
come from sysdig reading the source capture."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from libsinsp import Inspector

CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "captures"
SOURCE = CAPTURES / "curl_google.scap"
CONDITION = "evt.type=connect and evt.dir=< and proc.name=curl"
DURATION_MS = 10
RULE = """
- rule: curl connects
  desc: curl opened a connection
  condition: {condition}
  output: "curl connect (fd=%fd.name)"
  priority: NOTICE
{extra}
"""

pytestmark = pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig (the oracle) is not installed")


def sysdig(path: Path, fmt: str, flt: str = "") -> list[list[str]]:
    out = subprocess.run(["sysdig", "-r", str(path), "-p", fmt, *([flt] if flt else [])],
                         capture_output=True, text=True, check=True).stdout
    return [line.split(" ", 2) for line in out.splitlines()]


def run_falco(tmp_path: Path, extra: str, *options: str) -> list[Path]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE.format(condition=CONDITION, extra=extra))
    prefix = tmp_path / "cap" / "falco"
    prefix.parent.mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "falco", "-r", str(rules), "-o", "engine.kind=replay",
         "-o", f"engine.replay.capture_file={SOURCE}", "-o", "syslog_output.enabled=false",
         "-o", "capture.enabled=true", "-o", f"capture.path_prefix={prefix}", *options],
        capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "curl connects: 4" in r.stdout
    return sorted(prefix.parent.iterdir())


def expected_starts(alerts: list[int], duration_ns: int) -> list[tuple[int, int]]:
    """(start ts, deadline) of each capture: a match extends the running capture's
    deadline; a match after the deadline starts a new one."""
    out: list[tuple[int, int]] = []
    for ts in alerts:
        if out and ts < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], ts + duration_ns))
        else:
            out.append((ts, ts + duration_ns))
    return out


def test_rules_mode_files_events_and_state(tmp_path: Path) -> None:
    files = run_falco(tmp_path, f"  capture: true\n  capture_duration: {DURATION_MS}")
    alerts = [int(t) for t, *_ in sysdig(SOURCE, "%evt.rawtime %evt.num", CONDITION)]
    assert len(alerts) == 4
    windows = expected_starts(alerts, DURATION_MS * 1_000_000)
    assert len(windows) == 2  # the three first connects share one capture
    assert [f.name.split("_")[1] for f in files] == [f"{start:020d}" for start, _ in windows]
    for f, (start, deadline) in zip(files, windows):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        assert f.name.endswith(".scap") and len(f.name.split("_")[2]) == len("00000000000000000675.scap")
        ours = [(int(t), rest) for t, rest in
                (line for line in sysdig(f, "%evt.rawtime %thread.tid:%evt.type", "evt.dir=<"))]
        src = [(int(t), rest) for t, rest in
               sysdig(SOURCE, "%evt.rawtime %thread.tid:%evt.type",
                      f"evt.dir=< and evt.rawtime>={start} and evt.rawtime<{deadline}")]
        assert ours[0][0] == start
        # every source exit event of the window, then at most the one that closed the capture
        assert ours[:len(src)] == src and len(ours) - len(src) <= 1
        assert all(t >= deadline for t, _ in ours[len(src):])
        # the state blocks: process and user of the first event, as sysdig sees them in the source
        fmt = "*%evt.rawtime %proc.cmdline|%user.name|%group.name|%proc.exe|%proc.ppid|%fd.name"
        first_src = next(r for r in sysdig(SOURCE, fmt, f"evt.rawtime={start} and evt.dir=<"))
        assert sysdig(f, fmt)[0] == first_src
        with Inspector() as insp:  # our reader agrees on the count
            insp.open_file(f)
            assert sum(1 for _ in insp) == len(sysdig(f, "%evt.num"))


def test_rules_mode_ignores_rules_without_capture(tmp_path: Path) -> None:
    assert run_falco(tmp_path, "") == []


def test_all_rules_mode_uses_the_default_duration(tmp_path: Path) -> None:
    files = run_falco(tmp_path, "", "-o", "capture.mode=all_rules", "-o", "capture.default_duration=1")
    alerts = [int(t) for t, *_ in sysdig(SOURCE, "%evt.rawtime %evt.num", CONDITION)]
    windows = expected_starts(alerts, 1_000_000)
    assert [f.name.split("_")[1] for f in files] == [f"{start:020d}" for start, _ in windows]
    assert len(files) == 2  # 1 ms, not 5 s: the last connect starts its own capture


def test_bad_capture_mode_is_an_error(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "falco", "-o", "capture.mode=sometimes", "--dry-run"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.startswith("Error: ") and "capture.mode" in r.stderr
    assert "Traceback" not in r.stderr
