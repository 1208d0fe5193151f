"""`libscap capture`: write live events to a .scap file.

    python -m libscap capture -w FILE [-M SECONDS] [-n COUNT] [-- command args]

Capture stops at the first of: SECONDS elapsed, COUNT events written, the
command exited (when one is given), or Ctrl-C. No /proc state blocks yet."""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="libscap capture", description=__doc__.splitlines()[0])
    ap.add_argument("-w", dest="file", required=True, help="the .scap file to write")
    ap.add_argument("-M", dest="seconds", type=float, help="stop after SECONDS")
    ap.add_argument("-n", dest="count", type=int, help="stop after COUNT events")
    ap.add_argument("command", nargs="*", help="run this command and stop when it exits")
    args = ap.parse_args(argv)
    n = capture(args.file, args.seconds, args.count, args.command or None)
    print(f"{n} events written to {args.file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
