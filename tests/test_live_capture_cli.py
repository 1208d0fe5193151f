"""The capture tool: a command's events land in a .scap file that reads back."""

from __future__ import annotations

import uuid

import pytest

from libscap.cli import main
from libscap.savefile import open_capture
from libscap.schema import PPME
from tests.bpf_progs import bpf_refused_reason


@pytest.fixture(autouse=True)
def _bpf():
    if reason := bpf_refused_reason():
        print(f"skipping live capture: {reason}")
        pytest.skip(reason)


def test_capture_of_a_command(tmp_path, capsys):
    marker = f"/nonexistent-{uuid.uuid4().hex}"
    out = tmp_path / "cmd.scap"
    assert main(["capture", "-w", str(out), "--", "/bin/cat", marker]) == 0
    cap = open_capture(out)
    try:
        events = list(cap.events())
    finally:
        cap.close()
    assert f"{len(events)} events written" in capsys.readouterr().out
    opens = [e for e in events if e.type == PPME.SYSCALL_OPENAT_2_X and e.param(2) == marker]
    assert len(opens) == 1 and opens[0].param(0) == -2  # ENOENT
    execs = [e for e in events if e.type == PPME.SYSCALL_EXECVE_19_X and e.param(1) == "/bin/cat"]
    assert len(execs) == 1 and execs[0].param(2) == marker.encode() + b"\0"


def test_capture_stops_at_count(tmp_path):
    out = tmp_path / "n.scap"
    assert main(["capture", "-w", str(out), "-n", "5", "-M", "5", "--", "/bin/true"]) == 0
    cap = open_capture(out)
    try:
        assert len(list(cap.events())) == 5
    finally:
        cap.close()
