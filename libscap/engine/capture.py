"""`libscap capture`: write live events to a .scap file (the command line is in libscap.cli).

    python -m libscap capture -w FILE [-M SECONDS] [-n COUNT] [-- command args]

Capture stops at the first of: SECONDS elapsed, COUNT events written, the
command exited (when one is given), or Ctrl-C. No /proc state blocks yet."""

from __future__ import annotations

import subprocess
import time

from libscap.engine.modern_bpf import ModernBpfEngine
from libscap.savefile import CaptureWriter


def capture(path: str, seconds: float | None = None, count: int | None = None,
            command: list[str] | None = None, engine: ModernBpfEngine | None = None) -> int:
    """Capture into path; returns the number of events written."""
    eng = engine or ModernBpfEngine()
    own = engine is None
    written = 0
    if own:
        eng.open()
    try:
        with CaptureWriter(path) as writer:
            eng.start()
            proc = subprocess.Popen(command) if command else None
            deadline = time.monotonic() + seconds if seconds is not None else None
            try:
                while True:
                    done = ((proc is not None and proc.poll() is not None)
                            or (deadline is not None and time.monotonic() >= deadline))
                    if done:
                        eng.stop()  # then drain what is already buffered
                    batch = eng.next_batch(timeout_ms=0 if done else 50)
                    if count is not None:
                        batch = batch[:count - written]
                    writer.write_events(batch)
                    written += len(batch)
                    if (count is not None and written >= count) or (done and not batch):
                        break
            except KeyboardInterrupt:
                pass
            finally:
                eng.stop()
                if proc is not None:
                    proc.wait()
    finally:
        if own:
            eng.close()
    return written

