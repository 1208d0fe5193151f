"""Fuzzing harness shared by tests/test_fuzz_*.py (bounded CI runs) and
scripts/fuzz.py (long runs).

A *target* is a function ``bytes -> None`` that feeds one input to one parser
and lets through only that parser's own error type; anything else escaping is
a finding. A *mutator* is a function ``(random.Random, seed bytes) -> bytes``.
``run`` drives a target with mutations of its seed corpus from one fixed seed
(deterministic, so a CI failure replays), with a per-execution time limit
(SIGALRM: a hang is a finding) and reports the executions done.

Found crashers are kept as files in ``tests/fuzz_regressions/<target>/`` and
replayed by the CI tests (``regression_inputs``).
"""

from __future__ import annotations

import hashlib
import random
import resource
import signal
import struct
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent

Target = Callable[[bytes], None]
Mutator = Callable[[random.Random, bytes], bytes]


class Hang(Exception):
    """One execution took longer than the per-execution limit."""


@dataclass
class Finding:
    data: bytes
    error: str  # the traceback text


@dataclass
class Report:
    target: str
    executions: int = 0
    seconds: float = 0.0
    peak_rss_kb: int = 0
    findings: list[Finding] = field(default_factory=list)


def _alarm(_signum: int, _frame: object) -> None:
    raise Hang("execution exceeded its time limit")


def execute(target: Target, data: bytes, limit_s: float = 5.0) -> str | None:
    """Run ``target`` on ``data``; the traceback text of a finding, else None."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        target(data)
        return None
    except Exception:  # a finding: not the parser's own error
        return traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run(name: str, target: Target, seeds: list[bytes], mutator: Mutator, *, seed: int = 0,
        max_execs: int | None = None, max_seconds: float | None = None, limit_s: float = 5.0,
        stop_on_finding: bool = False) -> Report:
    """Fixed-seed mutation loop over ``seeds``; bounded by executions and/or time."""
    rng = random.Random(seed)
    rep = Report(name)
    start = time.monotonic()
    while True:
        if max_execs is not None and rep.executions >= max_execs:
            break
        if max_seconds is not None and time.monotonic() - start >= max_seconds:
            break
        data = mutator(rng, rng.choice(seeds))
        err = execute(target, data, limit_s)
        rep.executions += 1
        if err is not None:
            rep.findings.append(Finding(data, err))
            if stop_on_finding:
                break
    rep.seconds = time.monotonic() - start
    rep.peak_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rep


def save_finding(target: str, data: bytes, suffix: str = ".bin") -> Path:
    """Keep a crasher as a regression input (named by its hash)."""
    d = HERE / target
    d.mkdir(exist_ok=True)
    p = d / (hashlib.sha1(data).hexdigest()[:16] + suffix)
    p.write_bytes(data)
    return p


def regression_inputs(target: str) -> list[Path]:
    d = HERE / target
    return sorted(p for p in d.iterdir() if p.is_file()) if d.is_dir() else []


# --- generic byte mutations ---------------------------------------------------------------------

INTERESTING_32 = (0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
                  0xFFFFFFFE, 0xFFFFFFFF)
INTERESTING_16 = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF)


def mutate_bytes(rng: random.Random, data: bytes, rounds: int | None = None) -> bytes:
    """Bit flips, byte overwrites, inserts, deletes, truncation, chunk duplication."""
    buf = bytearray(data)
    for _ in range(rounds or rng.randint(1, 4)):
        if not buf:
            buf += bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            continue
        at = rng.randrange(len(buf))
        k = rng.randrange(7)
        if k == 0:
            buf[at] ^= 1 << rng.randrange(8)
        elif k == 1:
            buf[at] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        elif k == 2:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif k == 3:
            del buf[at:at + rng.randint(1, 64)]
        elif k == 4:
            del buf[at:]
        elif k == 5:
            n = rng.randint(1, 64)
            buf[at:at] = buf[rng.randrange(len(buf)):][:n]
        else:
            if at + 4 <= len(buf):
                struct.pack_into("<I", buf, at, rng.choice(INTERESTING_32))
    return bytes(buf)


def mutate_text(rng: random.Random, text: str, tokens: Iterable[str] = ()) -> str:
    """Line/token level edits of text: deletions, duplications, swaps, inserted tokens."""
    toks = list(tokens) or ["(", ")", "\"", "'", ":", "-", "[", "]", "{", "}", "\n", " ", "\t",
                            "and", "or", "not", "=", "in", ",", "%", "\\", "\x00", "é", "*", "&"]
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        if not lines:
            lines = [""]
        i = rng.randrange(len(lines))
        k = rng.randrange(6)
        line = lines[i]
        if k == 0:
            del lines[i]
        elif k == 1:
            lines.insert(rng.randrange(len(lines) + 1), line)
        elif k == 2 and line:
            j = rng.randrange(len(line) + 1)
            lines[i] = line[:j] + rng.choice(toks) + line[j:]
        elif k == 3 and line:
            j = rng.randrange(len(line))
            lines[i] = line[:j] + line[j + rng.randint(1, 10):]
        elif k == 4:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[i] = (" " * rng.randint(0, 4)) + line.lstrip()
    return "\n".join(lines)
