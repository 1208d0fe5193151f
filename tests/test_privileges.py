"""Least privilege of the running agent: after the probe is loaded and attached,
``falco`` keeps only CAP_SYS_PTRACE and CAP_BPF (falco/privileges.py), read from
/proc/<falco pid>/status of the real process; it still alerts afterwards and a
SIGHUP reload (which rewrites the probe's syscall map) still works. Started as
full root and with only CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE (setpriv).
The engine-level test with the reduced set is tests/test_live_privileges.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from falco.privileges import CAP, names, read_caps
from tests.test_falco_live import _live_refused

pytestmark = [pytest.mark.slow, pytest.mark.skipif(_live_refused() is not None, reason=str(_live_refused()))]

RULE = """
- rule: unique exec
  desc: the uniquely named test program ran
  condition: evt.type in (execve, execveat) and proc.name = {name}
  output: "ran (cmd=%proc.cmdline)"
  priority: NOTICE
"""
KEPT = (1 << CAP["CAP_SYS_PTRACE"]) | (1 << CAP["CAP_BPF"])


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text(errors="replace")
        if text in content:
            return content
        assert proc.poll() is None, content
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in {path.read_text()}")


def run_agent(tmp_path: Path, prefix: list[str]) -> dict:
    name = f"fpriv{os.getpid() % 100000}"
    prog = tmp_path / name
    shutil.copy("/bin/true", prog)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE.format(name=name))
    out, err = tmp_path / "out", tmp_path / "err"
    with open(out, "w") as fo, open(err, "w") as fe:
        proc = subprocess.Popen([*prefix, sys.executable, "-m", "falco", "-r", str(rules), "-U",
                                 "-o", "syslog_output.enabled=false", "-o", "log_syslog=false",
                                 "-o", "webserver.enabled=false"],
                                stdout=fo, stderr=fe)
    try:
        _wait_for(err, "Capabilities dropped", proc)
        before_text = err.read_text()
        status = read_caps(proc.pid)
        tasks = {t: read_caps(f"{proc.pid}/task/{t}")["CapEff"] for t in os.listdir(f"/proc/{proc.pid}/task")}
        subprocess.run([str(prog)], check=True)
        _wait_for(out, "ran (cmd=" + name, proc, 10)
        proc.send_signal(signal.SIGHUP)  # reload: the syscall map is written again, after the drop
        _wait_for(err, "reloaded", proc, 30)
        subprocess.run([str(prog), "again"], check=True)
        _wait_for(out, f"ran (cmd={name} again)", proc, 10)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        return {"status": status, "tasks": tasks, "log": before_text, "rc": proc.returncode,
                "stderr": err.read_text()}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _check(res: dict, bounding: int = KEPT) -> None:
    st = res["status"]
    print("after attach:", {k: f"{v:#x}" for k, v in st.items()}, names(st["CapEff"]))
    assert st["CapEff"] == KEPT and st["CapPrm"] == KEPT, names(st["CapEff"])
    assert st["CapInh"] == 0 and st["CapAmb"] == 0
    assert st["CapBnd"] == bounding  # an exec'd program cannot get anything else back
    assert all(v & ~KEPT == 0 for v in res["tasks"].values()), res["tasks"]
    assert "keep their capabilities" not in res["stderr"]
    assert res["rc"] == 0, res["stderr"]


def test_full_root_drops_to_ptrace_and_bpf(tmp_path: Path) -> None:
    before = read_caps()
    res = run_agent(tmp_path, [])
    print("before:", f"{before['CapEff']:#x}", len(names(before["CapEff"])), "capabilities")
    assert before["CapEff"] & ~KEPT, "the test process has nothing more to drop"
    _check(res)


def test_started_with_bpf_perfmon_ptrace_only(tmp_path: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to start falco with reduced capabilities")
    res = run_agent(tmp_path, ["setpriv", "--bounding-set=-all,+bpf,+perfmon,+sys_ptrace",
                               "--inh-caps=-all", "--ambient-caps=-all"])
    assert "effective 0xc000080000 -> 0x8000080000" in res["log"], res["log"]
    # without CAP_SETPCAP the bounding set cannot shrink: it stays what setpriv gave
    _check(res, bounding=KEPT | 1 << CAP["CAP_PERFMON"])
