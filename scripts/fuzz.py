#!/usr/bin/env python3
"""Long fuzzing runs of the input parsers (the CI variants are tests/test_fuzz_*.py).

    python scripts/fuzz.py [TARGET ...] [--seconds N] [--seed S] [--save]

Targets: scap, rules, filter, config, plugin (default: all). Each runs a fixed-seed
mutation loop for N seconds (default 120) in a child process whose address space is
limited (RLIMIT_AS, 4 GiB: unbounded memory becomes a MemoryError finding) and
prints executions, executions/s, findings and peak RSS. ``--save`` keeps each
distinct crasher (by its last traceback line) in tests/fuzz_regressions/<target>/,
where the CI tests replay it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "scap": "tests.test_fuzz_scap",
    "rules": "tests.test_fuzz_rules",
    "filter": "tests.test_fuzz_filter",
    "config": "tests.test_fuzz_config",
    "plugin": "tests.test_fuzz_plugin",
}


def child(name: str, seconds: float, seed: int, save: bool) -> None:
    import importlib

    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    from tests.fuzz_regressions import run, save_finding

    mod = importlib.import_module(TARGETS[name])
    if hasattr(mod, "setup_long_run"):
        mod.setup_long_run()
    rep = run(name, mod.target, mod.seeds(), mod.mutate, seed=seed, max_seconds=seconds,
              limit_s=getattr(mod, "LIMIT_S", 5.0))
    distinct: dict[str, bytes] = {}
    for f in rep.findings:
        key = f.error.strip().splitlines()[-1][:200]
        distinct.setdefault(key, f.data)
    kept = []
    if save:
        kept = [str(save_finding(name, d, getattr(mod, "SUFFIX", ".bin"))) for d in distinct.values()]
    print(json.dumps({"target": name, "executions": rep.executions, "seconds": round(rep.seconds, 1),
                      "execs_per_s": round(rep.executions / max(rep.seconds, 1e-9), 1),
                      "findings": len(rep.findings), "distinct": list(distinct), "kept": kept,
                      "peak_rss_mb": rep.peak_rss_kb // 1024}))
    if rep.findings:
        sys.stderr.write(rep.findings[0].error)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", default=[])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--save", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.seconds, a.seed, a.save)
        return 0
    failed = False
    for name in a.targets or list(TARGETS):
        cmd = [sys.executable, __file__, "--child", name, "--seconds", str(a.seconds), "--seed", str(a.seed)]
        res = subprocess.run(cmd + (["--save"] if a.save else []), cwd=ROOT, capture_output=True, text=True)
        sys.stdout.write(res.stdout)
        if res.returncode != 0 or '"findings": 0' not in res.stdout:
            failed = True
            sys.stderr.write(res.stderr[-4000:])
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
