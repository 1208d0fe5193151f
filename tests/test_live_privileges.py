"""Live capture with only the capabilities the issue allows (CAP_BPF, CAP_PERFMON,
CAP_SYS_PTRACE), and a clear error naming the one that is missing otherwise.

Each case runs a fresh Python under ``setpriv`` with a reduced bounding set and
no inheritable capabilities, so root's effective set after exec is exactly the
bounding set."""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.bpf_progs import bpf_refused_reason

ALLOWED = ("bpf", "perfmon", "sys_ptrace")

# Capture one marked openat and report what happened (or the ScapError message).
SCRIPT = r"""
import json, os, sys, warnings
from libscap.engine.modern_bpf import ModernBpfEngine
from libscap.errors import ScapError
from libscap.schema import PPME
marker = sys.argv[1]
out = {"capeff": next(l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff"))}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        eng = ModernBpfEngine(buffer_bytes=1 << 20)
        eng.open()
    except ScapError as exc:
        out["error"] = str(exc)
        print(json.dumps(out)); sys.exit(0)
out["warnings"] = [str(w.message) for w in caught]
eng.start()
try:
    os.open(marker, os.O_RDONLY)
except FileNotFoundError:
    pass
eng.stop()
events = []
while batch := eng.next_batch(timeout_ms=0):
    events += batch
out["opens"] = sum(1 for e in events if e.type == PPME.SYSCALL_OPENAT_2_X and e.param(2) == marker)
eng.close()
print(json.dumps(out))
"""


@pytest.fixture(autouse=True)
def _needs_bpf_and_setpriv():
    if reason := bpf_refused_reason():
        print(f"skipping: {reason}")
        pytest.skip(reason)
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to drop capabilities")


def run_with_caps(caps: tuple[str, ...]) -> dict:
    marker = f"/nonexistent-{uuid.uuid4().hex}"
    bounding = ",".join(["-all"] + [f"+{c}" for c in caps])
    res = subprocess.run(["setpriv", f"--bounding-set={bounding}", "--inh-caps=-all", "--ambient-caps=-all",
                          sys.executable, "-c", SCRIPT, marker],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_runs_with_only_bpf_perfmon_sys_ptrace():
    out = run_with_caps(ALLOWED)
    assert int(out["capeff"], 16) == (1 << 39) | (1 << 38) | (1 << 19)  # exactly the three
    assert "error" not in out, out["error"]
    assert out["opens"] == 1
    # kernels >= 5.11 charge BPF memory to the cgroup: no memlock raise is tried;
    # older ones try it, and without CAP_SYS_RESOURCE it fails: a warning, not an error
    release = tuple(int(x) for x in re.findall(r"\d+", platform.release())[:2])
    memlock_warned = any("RLIMIT_MEMLOCK" in w for w in out["warnings"])
    assert memlock_warned == (release < (5, 11))


@pytest.mark.parametrize("missing", ["CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE"])
def test_missing_capability_is_named(missing):
    out = run_with_caps(tuple(c for c in ALLOWED if f"CAP_{c.upper()}" != missing))
    assert missing in out["error"]
    others = {"CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE"} - {missing}
    assert not any(o in out["error"].split("(")[0] for o in others)
