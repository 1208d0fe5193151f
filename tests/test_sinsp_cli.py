"""The sinsp tool: listing, printing, writing filtered captures, and clean failures."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "captures"
CAT = CAPTURES / "cat_write.scap"


def _sinsp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "libsinsp", *args], capture_output=True, text=True, timeout=120)


def test_list_fields_text_and_json() -> None:
    text = _sinsp("-l")
    assert text.returncode == 0
    assert "Field Class: process" in text.stdout and "proc.aname" in text.stdout
    listed = json.loads(_sinsp("-l", "-j").stdout)
    by_name = {f["name"]: f for f in listed}
    assert by_name["fd.sip"]["type"] == "ipaddr" and by_name["fd.sip"]["class"] == "fd"
    assert by_name["proc.aname"]["arg"] == "optional index"


def test_print_filter_and_count() -> None:
    r = _sinsp("-r", str(CAT), "-p", "%proc.name %evt.type %fd.name", "evt.type=open and evt.dir=<")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines and all(line.startswith("cat open ") for line in lines)
    assert "cat open /etc/ld.so.cache" in lines
    assert len(_sinsp("-r", str(CAT), "-n", "3").stdout.splitlines()) == 3


def test_json_lines() -> None:
    r = _sinsp("-r", str(CAT), "-j", "-n", "2", "-p", "%evt.num %proc.name %thread.tid")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows[0] == {"evt.num": 1, "proc.name": "systemd", "thread.tid": 1}
    assert len(rows) == 2


@pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig not installed")
def test_write_filtered_capture_reads_back_in_sysdig(tmp_path: Path) -> None:
    out = tmp_path / "opens.scap"
    flt = "proc.name=cat and evt.type in (openat, open, read)"
    r = _sinsp("-r", str(CAT), "-w", str(out), flt)
    assert r.returncode == 0, r.stderr
    ours = _sinsp("-r", str(CAT), "-p", "%evt.rawtime %evt.type %fd.name", flt).stdout.splitlines()
    theirs = subprocess.run(["sysdig", "-r", str(out), "-p", "%evt.rawtime %evt.type %fd.name"],
                            capture_output=True, text=True, timeout=120).stdout.splitlines()
    assert ours and theirs == ours


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-r", "/nonexistent/x.scap"], "/nonexistent/x.scap"),
        (["-r", str(CAT), "proc.name ="], "invalid filter"),
        (["-r", str(CAT), "proc.nosuch = 3"], "proc.nosuch"),
        (["-r", str(CAT), "-p", "%proc.nosuch"], "unknown field 'proc.nosuch'"),
    ],
)
def test_bad_input_is_a_clean_error(args: list[str], message: str) -> None:
    r = _sinsp(*args)
    assert r.returncode == 1
    assert message in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""


def test_not_a_capture(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.scap"
    bogus.write_bytes(b"this is not a capture at all" * 10)
    r = _sinsp("-r", str(bogus))
    assert r.returncode == 1 and str(bogus) in r.stderr and "Traceback" not in r.stderr
