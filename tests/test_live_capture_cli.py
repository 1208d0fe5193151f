"""The capture tool: a command's events land in a .scap file that reads back."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from libscap.cli import main
from libscap.savefile import blocks as B
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


def test_capture_starts_with_the_proc_state(tmp_path):
    """The machine, users, every thread and every process's fds of /proc at capture
    start are in the file's state blocks, as upstream writes them."""
    out = tmp_path / "state.scap"
    with socket.socket() as listener, open(tmp_path / "held.txt", "w") as held:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert main(["capture", "-w", str(out), "--", "/bin/true"]) == 0
        cap = open_capture(out)
        try:
            list(cap.events())
        finally:
            cap.close()
        me = {p.tid: p for p in cap.processes}[os.getpid()]
        argv = Path("/proc/self/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")
        assert me.args == tuple(argv[1:]) and me.cwd == os.getcwd() and me.ptid == os.getppid()
        fds = {f.fd: f for f in cap.fds[os.getpid()]}
        assert (fds[held.fileno()].type, fds[held.fileno()].name) == (B.SCAP_FD_FILE_V2, str(tmp_path / "held.txt"))
        srv = fds[listener.fileno()]
        assert (srv.type, srv.sip, srv.sport) == (B.SCAP_FD_IPV4_SERVSOCK, "127.0.0.1", listener.getsockname()[1])
    assert {u.uid for u in cap.users} >= {0} and cap.machine_info.num_cpus == os.cpu_count()
    # the capture tool's own probe fds (bpf maps/programs) are written as sysdig 0.29 knows them
    assert all(f.type <= B.SCAP_FD_FILE_V2 for fds in cap.fds.values() for f in fds)


@pytest.mark.sysdig
@pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig (the oracle) is not installed")
def test_sysdig_reads_the_capture_and_its_state(tmp_path):
    """sysdig 0.29 accepts the file; the parent of the captured command (this test,
    started before the capture) is known to it only through the process list block."""
    out = tmp_path / "sd.scap"
    marker = f"/nonexistent-{uuid.uuid4().hex}"
    assert main(["capture", "-w", str(out), "--", "/bin/cat", marker]) == 0
    res = subprocess.run(["sysdig", "-r", str(out), "-p", "%proc.name %proc.pname %proc.pcmdline",
                          f"evt.type=openat and evt.arg.name={marker}"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    me = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    assert res.stdout.split("\n")[0].split()[:2] == ["cat", me]
