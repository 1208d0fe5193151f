"""Shared helpers of the live driver tests (test_driver_syscalls*.py): run a
workload subprocess under the modern BPF engine and look its events up."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest

from libscap.engine.modern_bpf import EXIT_PROGRAMS, ModernBpfEngine
from libscap.event import Event
from libscap.schema import PPME
from tests.bpf_progs import bpf_refused_reason


def capture_workload(tmp_path_factory, dirname: str, workload: str, pid_keys, *extra_args):
    """(report, events of the workload's threads named by `pid_keys` in its JSON
    report, marker, tmp dir) of `workload` run with argv tmp, marker, *extra_args
    while every exit program (and getppid) is captured."""
    if reason := bpf_refused_reason():
        print(f"skipping live driver tests: {reason}")
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp(dirname)
    marker = f"m{uuid.uuid4().hex[:12]}"
    with ModernBpfEngine(buffer_bytes=8 << 20) as eng:
        eng.set_interesting_syscalls(set(EXIT_PROGRAMS) | {"getppid"})
        eng.start()
        try:
            proc = subprocess.run([sys.executable, "-c", workload, str(tmp), marker,
                                   *map(str, extra_args)],
                                  capture_output=True, text=True, timeout=60, cwd=tmp)
            time.sleep(0.05)
        finally:
            eng.stop()
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        events = []
        while batch := eng.next_batch(timeout_ms=0):
            events += batch
    pids = {report[k] for k in pid_keys}
    return report, [e for e in events if e.tid in pids], marker, tmp


def P(evt: Event) -> dict:
    return {p.name: evt.param(i) for i, p in enumerate(evt.info.params[:evt.nparams])}


def of(events, code, pid=None, **match):
    """The params of the events of type `code` (by thread) whose params match."""
    out = []
    for e in events:
        if e.type != getattr(PPME, code) or (pid is not None and e.tid != pid):
            continue
        p = P(e)
        if all(p.get(k) == v for k, v in match.items()):
            out.append(p)
    return out
