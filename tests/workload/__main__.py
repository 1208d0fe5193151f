"""``python -m tests.workload [SECONDS] [RATE] [WORKDIR]``: run the workload, print its report as JSON."""

import dataclasses
import json
import sys
import tempfile

from tests.workload import run

if __name__ == "__main__":
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    wd = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp(prefix="fpysoak-")
    print(json.dumps(dataclasses.asdict(run(secs, wd, rate))))
