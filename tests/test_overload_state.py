"""Overload -> state recovery, live: a program whose clone and exec events were
DROPPED (the kernel ring buffer was full) is still described right once one of
its events gets through: the thread is unknown to the table, so libsinsp's
Inspector reads it from /proc/<tid> (libscap.proc_scan.scan_process), as upstream's
sinsp_thread_manager::get_thread does with scap_proc_get.

How the drops are forced: falco runs with one 1 MiB ring buffer for all CPUs; a
load generator opens /dev/null in a tight loop; falco is stopped (SIGSTOP), so
nobody drains the buffer and it fills; then the uniquely named program (a copy of
/bin/cat) is started: it forks, execs and blocks opening a FIFO — all of that while
the buffer is full. The load stops, falco continues (SIGCONT) and drains; then the
FIFO is opened for writing, so the program's openat returns: that event reaches
falco with a tid it has never seen.

Asserted: kernel drops were counted (-v), no exec alert for the program (its exec
was indeed lost), and the open alert has the program's proc.name, proc.exepath,
proc.cmdline and pid — values only /proc could have given.

Upstream facts (falcosecurity/libs, userspace/libsinsp): PPME_DROP_E/X are only
metaevents (sinsp.cpp); no parser refreshes a thread row on drops, so a row that
exists but is stale (clone seen, exec dropped) stays stale until its next exec in
upstream, and here too; only unknown threads are read from /proc."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_falco_live import _live_refused

pytestmark = [pytest.mark.slow, pytest.mark.skipif(_live_refused() is not None, reason=str(_live_refused()))]

LOAD = "import os\nwhile True:\n    os.close(os.open('/dev/null', os.O_RDONLY))\n"


def test_dropped_clone_and_exec_recovered_from_proc(tmp_path: Path) -> None:
    name = "ovl" + secrets.token_hex(4)  # 11 chars: comm is not truncated
    prog = tmp_path / name
    shutil.copy("/bin/cat", prog)
    fifo = tmp_path / f"fifo_{name}"
    os.mkfifo(fifo)
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"""
- rule: ovl open
  desc: the program opens its fifo
  condition: evt.type in (open, openat, openat2) and fd.name = "{fifo}"
  output: "OVLOPEN name=%proc.name exe=%proc.exepath cmdline=%proc.cmdline pid=%proc.pid"
  priority: WARNING
- rule: ovl exec
  desc: the program is executed
  condition: evt.type in (execve, execveat) and proc.name = "{name}"
  output: "OVLEXEC pid=%proc.pid"
  priority: WARNING
""")
    alerts, err = tmp_path / "alerts.json", tmp_path / "falco.err"
    ncpus = os.cpu_count() or 1
    procs: list[subprocess.Popen[bytes]] = []
    with open(err, "w") as fe:
        falco = subprocess.Popen(
            [sys.executable, "-m", "falco", "-r", str(rules), "-U", "-v", "-o", "json_output=true",
             "-o", "stdout_output.enabled=false", "-o", "syslog_output.enabled=false", "-o", "log_syslog=false",
             "-o", "webserver.enabled=false", "-o", "file_output.enabled=true",
             "-o", f"file_output.filename={alerts}",
             "-o", "engine.modern_ebpf.buf_size_preset=1", "-o", f"engine.modern_ebpf.cpus_for_each_buffer={ncpus}"],
            stdout=subprocess.DEVNULL, stderr=fe, cwd=tmp_path)
    procs.append(falco)
    try:
        deadline = time.monotonic() + 60
        while "syscalls in the kernel filter" not in err.read_text():
            assert falco.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.2)
        load = subprocess.Popen([sys.executable, "-c", LOAD])
        procs.append(load)
        time.sleep(0.5)
        falco.send_signal(signal.SIGSTOP)
        time.sleep(1.0)  # the 1 MiB buffer is full long before this
        target = subprocess.Popen([str(prog), str(fifo)], stdout=subprocess.PIPE)
        procs.append(target)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{target.pid}/comm").read_text().strip() != name:  # exec'd
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.3)  # blocked in its openat of the fifo
        load.kill()
        load.wait()
        falco.send_signal(signal.SIGCONT)
        time.sleep(1.5)  # falco drains what the buffer held
        # the program's openat returns now; the writer stays open (the program
        # alive: /proc/<pid> there) until falco has handled its event
        with open(fifo, "w") as w:
            deadline = time.monotonic() + 10
            while not (alerts.exists() and re.search(f"OVLOPEN name=({name}|<NA>)", alerts.read_text())):
                assert falco.poll() is None and time.monotonic() < deadline, "no alert for the program's open"
                time.sleep(0.1)
            w.write("hello\n")
        assert target.stdout is not None
        assert target.stdout.read() == b"hello\n"
        target.wait(5)
        falco.send_signal(signal.SIGTERM)
        falco.wait(30)
    finally:
        for p in procs:
            if p.poll() is None:
                if p is falco:
                    p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait()
    stderr = err.read_text()
    assert "Traceback" not in stderr, stderr[-3000:]
    drops = re.search(r"Driver Drops:(\d+)", stderr)
    assert drops is not None and int(drops.group(1)) > 0, stderr[-3000:]
    found = [json.loads(line) for line in alerts.read_text().splitlines() if line.strip()]
    assert not [a for a in found if a["rule"] == "ovl exec"], "the exec was not dropped: nothing to recover"
    opens = [a for a in found if a["rule"] == "ovl open" and a["output_fields"]["proc.pid"] != os.getpid()]
    assert len(opens) == 1, json.dumps(found, indent=1)
    f = opens[0]["output_fields"]
    print(f"driver drops {drops.group(1)}; open alert fields {f}")
    assert f["proc.name"] == name
    assert f["proc.exepath"] == str(prog)
    assert f["proc.cmdline"] == f"{name} {fifo}"
    assert f["proc.pid"] == target.pid
