"""The Inspector on live events (modern eBPF probe, root): initial state from /proc,
then a child process's exec and open seen with resolved state."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from libscap.errors import ScapError
from libsinsp import Inspector

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="live capture needs root (BPF)")


def test_live_exec_and_open_of_a_child():
    with Inspector() as insp:
        try:
            insp.open_live()
        except (ScapError, OSError) as exc:
            pytest.skip(f"the kernel refused the probe: {exc}")
        me = insp.threads.get(os.getpid())
        assert me is not None and me.comm.startswith("python")  # from the /proc scan
        child = subprocess.Popen(["cat", "/etc/hostname"], cwd="/etc", stdout=subprocess.DEVNULL)
        child.wait()
        seen_exec = seen_open = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (seen_exec and seen_open):
            e = insp.next()
            if e is None or e.tinfo is None or e.evt.tid != child.pid:
                continue
            if e.evt.name == "execve" and e.evt.get("res") == 0:
                seen_exec = e.tinfo.comm == "cat" and e.tinfo.args == ("/etc/hostname",)
            elif e.evt.name == "openat" and e.fdinfo is not None and e.fdinfo.name == "/etc/hostname":
                seen_open = e.tinfo.get_cwd() == "/etc/"
        assert seen_exec and seen_open
        assert insp.stats()["events_seen"] > 0


def test_interrupt_ends_an_idle_live_iteration():
    """A live source with nothing to report never returns from ``next()``: another
    thread's ``interrupt()`` must still end the iteration (falco's stop request,
    whose capture files are closed when the iteration ends)."""
    import threading

    with Inspector() as insp:
        try:
            insp.open_live()
        except (ScapError, OSError) as exc:
            pytest.skip(f"the kernel refused the probe: {exc}")
        insp.live_engine.set_interesting_syscalls(["acct"])  # nearly idle: no syscall of ours
        seen: list[int] = []
        reader = threading.Thread(target=lambda: seen.extend(1 for _ in insp), daemon=True)
        reader.start()
        time.sleep(0.5)
        assert reader.is_alive(), "the live iteration ended by itself"
        insp.interrupt()
        reader.join(10)
        assert not reader.is_alive(), "interrupt() did not end the live iteration"
        assert insp.next() is None  # the ended iteration stays ended
