"""No shell injection through alerts: a program named ``x;touch pwned`` (live
capture) opens a file named ``$(touch pwned2)`` and `backticks`; the alert reaches
falco's program output (run by /bin/sh) as data on its stdin only. Asserted: no file
was created by the metacharacters, and the alert text arrived intact."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_falco_live import _live_refused

pytestmark = [pytest.mark.slow, pytest.mark.skipif(_live_refused() is not None, reason=str(_live_refused()))]

RULE = """
- rule: hostile open
  desc: a file whose name is a shell attack is opened
  condition: evt.type in (open, openat, openat2) and fd.name contains "fpyinject"
  output: "hostile open (file=%fd.name proc=%proc.name cmd=%proc.cmdline)"
  priority: WARNING
"""


def test_hostile_names_reach_program_output_as_data(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    prog = work / "x;touch pwned"
    shutil.copy("/bin/cat", prog)
    hostile_file = work / "fpyinject $(touch pwned2) `touch pwned3` ';touch pwned4'"
    hostile_file.write_text("data\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    received = tmp_path / "program.out"
    err = tmp_path / "falco.err"
    with open(err, "w") as fe:
        proc = subprocess.Popen(
            [sys.executable, "-m", "falco", "-r", str(rules), "-U", "-o", "json_output=true",
             "-o", "stdout_output.enabled=false", "-o", "syslog_output.enabled=false", "-o", "log_syslog=false",
             "-o", "webserver.enabled=false", "-o", "program_output.enabled=true",
             "-o", "program_output.keep_alive=true", "-o", f"program_output.program=cat >> '{received}'"],
            stdout=subprocess.DEVNULL, stderr=fe, cwd=work)
    try:
        deadline = time.monotonic() + 60
        while "syscalls in the kernel filter" not in err.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.2)
        subprocess.run([str(prog), str(hostile_file)], cwd=work, check=True, capture_output=True)
        deadline = time.monotonic() + 10
        while not (received.exists() and "hostile open" in received.read_text()):
            assert time.monotonic() < deadline, "no alert reached the program output"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    created = [p.name for d in (work, tmp_path, Path.cwd()) for p in d.iterdir() if p.name.startswith("pwned")]
    assert created == [], f"shell metacharacters were executed: {created}"
    alert = json.loads(received.read_text().splitlines()[0])
    assert alert["output_fields"]["fd.name"] == str(hostile_file)
    assert alert["output_fields"]["proc.name"] == "x;touch pwned"
    assert f"file={hostile_file} proc=x;touch pwned" in alert["output"]
