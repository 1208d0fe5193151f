"""Benchmark fixtures: a large capture built once per session with our writer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from libscap.savefile import CaptureWriter, open_capture

SHARED_CAPTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "captures"
BIG_EVENTS = 1_000_000


def build_big_capture(path: Path, source: Path, n_events: int) -> int:
    """Write ``source``'s state and then its events over and over (timestamps
    shifted so they keep increasing) until ``n_events`` are written."""
    from libscap.event import Event

    with open_capture(source) as cap:
        events = list(cap.events())
        with CaptureWriter(path, compresslevel=1) as w:
            for block in cap.raw_blocks:
                w.write_state_block(block)
            span = events[-1].ts - events[0].ts + 1000
            rnd = 0
            while w.events_written < n_events:
                shift = rnd * span
                for e in events:
                    raw = bytearray(e.buf[e.off:e.off + e.len])
                    raw[0:8] = (e.ts + shift).to_bytes(8, "little")
                    w.write_event(Event(bytes(raw), 0, e.ts + shift, e.tid, e.len, e.type, e.nparams, e.cpu, 0, e.flags))
                    if w.events_written >= n_events:
                        break
                rnd += 1
            return w.events_written


@pytest.fixture(scope="session")
def big_capture(tmp_path_factory) -> Path:
    """A gzip .scap of >= 1M events made from curl_google (cached under $FALCO_PY_BENCH_DIR if set)."""
    cache = os.environ.get("FALCO_PY_BENCH_DIR")
    folder = Path(cache) if cache else tmp_path_factory.mktemp("bench")
    path = folder / "big_curl_google.scap"
    if not path.exists():
        build_big_capture(path, SHARED_CAPTURES / "curl_google.scap", BIG_EVENTS)
    return path
