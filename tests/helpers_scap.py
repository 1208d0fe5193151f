"""Shared helper of the capture fuzz tests (test_fuzz_scap.py, test_savefile_fuzz.py)."""

from __future__ import annotations

import warnings
from pathlib import Path

from libscap.savefile import ScapWarning, open_capture


def read_all(path: Path | str) -> int:
    """Read every event of the capture at `path`, decoding every parameter
    (ScapWarning silenced); the number of events. ScapError propagates."""
    n = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScapWarning)
        with open_capture(path) as cap:
            for e in cap.events():
                for i in range(e.nparams):
                    e.param(i)
                n += 1
    return n
