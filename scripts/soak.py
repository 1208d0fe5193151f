#!/usr/bin/env python3
"""The long soak: falco live with the official rules + the workload's marker rules
for 10 minutes (``--seconds``) while tests/workload runs (``--rate`` rounds/s, 0 = as
fast as it goes); prints the report as JSON (events, drops, markers expected vs
delivered, RSS start/middle/end/peak). Exit 1 if falco crashed or a marker was lost
without reported drops. The CI variant is tests/test_soak.py.

    python scripts/soak.py [--seconds 600] [--rate 20] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.workload.soak import run_soak  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("-o", action="append", default=[], help="extra falco -o options")
    a = ap.parse_args()
    wd = a.workdir or tempfile.mkdtemp(prefix="fpysoak-")
    rep = run_soak(a.seconds, wd, a.rate, tuple(a.o))
    print(json.dumps(rep, indent=1))
    lost = any(m["delivered"] < m["expected"] for m in rep["markers"].values())
    bad = rep["crashed"] or rep["falco_exit_code"] != 0 or rep["traceback"] or (lost and not rep["drops_driver"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
