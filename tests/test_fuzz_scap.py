"""Fuzzing the .scap reader and the Inspector's replay with mutated real
captures (../shared/captures): bit flips, truncations and — aimed at the
format — edits of the block length fields and of the event length, nparams
and parameter-length fields inside event blocks. Only ScapError may escape;
an execution over 5 s is a hang; memory stays bounded (ru_maxrss growth).

tests/test_savefile_fuzz.py (hypothesis, whole-stream mutations) covers the
reader alone; this target adds format-aware length edits, the Inspector's
parsers and state over whatever the reader accepts, and the kept crashers.
The long run is ``python scripts/fuzz.py scap``."""

from __future__ import annotations

import gzip
import os
import random
import resource
import struct
import tempfile
import warnings
from functools import lru_cache

from conftest import CAPTURES
from libscap.errors import ScapError
from libscap.savefile import ScapWarning
from tests.fuzz_regressions import execute, mutate_bytes, regression_inputs, run
from tests.helpers_scap import read_all

NAME = "scap"
EV_BLOCKS = {0x204, 0x216, 0x221, 0x208, 0x217, 0x222, 0x8010ABCD}
#: a few fields read from every replayed event (state-dependent ones included)
FIELDS = ("evt.type", "evt.args", "proc.name", "proc.cmdline", "proc.pname", "fd.name", "fd.sip",
          "user.name", "container.id", "evt.res")


@lru_cache(maxsize=None)
def seeds() -> list[bytes]:
    return [gzip.decompress(p.read_bytes()) for p in sorted(CAPTURES.glob("*.scap"))]


def _blocks(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, type, total length) of each block as long as the chain is sane."""
    out, off = [], 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        if blen < 12 or off + blen > len(data):
            break
        out.append((off, btype, blen))
        off += blen
    return out


def mutate_lengths(rng: random.Random, data: bytes) -> bytes:
    """Set one length field (block length, event len, nparams or a parameter length) to an
    interesting value; sometimes followed by generic byte mutations."""
    blocks = _blocks(data)
    if not blocks:
        return mutate_bytes(rng, data)
    buf = bytearray(data)
    off, btype, blen = rng.choice(blocks)
    choice = rng.randrange(4) if btype in EV_BLOCKS else 0
    evt = off + 8 + 2 + (4 if btype in (0x208, 0x217, 0x222) else 0)  # cpuid (+ flags)
    if choice == 0:  # the block length, front or back copy
        at = off + 4 if rng.random() < 0.7 else off + blen - 4
        fmt, orig = "<I", blen
    elif choice == 1:
        at, fmt = evt + 16, "<I"
        orig = struct.unpack_from(fmt, buf, at)[0]
    elif choice == 2:
        at, fmt = evt + 22, "<I"
        orig = struct.unpack_from(fmt, buf, at)[0]
    else:
        nparams = struct.unpack_from("<I", buf, evt + 22)[0]
        large = btype in (0x221, 0x222)
        width = 4 if large else 2
        k = rng.randrange(max(1, min(nparams, 32)))
        at, fmt = evt + 26 + k * width, "<I" if large else "<H"
        if at + width > len(buf):
            return mutate_bytes(rng, data)
        orig = struct.unpack_from(fmt, buf, at)[0]
    top = 0xFFFFFFFF if fmt == "<I" else 0xFFFF
    value = rng.choice((0, 1, top, top - 1, orig + 1, orig - 1, orig * 2, orig // 2, rng.randrange(top + 1)))
    struct.pack_into(fmt, buf, at, value % (top + 1))
    out = bytes(buf)
    return mutate_bytes(rng, out, 1) if rng.random() < 0.2 else out


def mutate(rng: random.Random, data: bytes) -> bytes:
    return mutate_lengths(rng, data) if rng.random() < 0.6 else mutate_bytes(rng, data)


@lru_cache(maxsize=None)
def _formatter():
    from libsinsp.formatter import Formatter

    return Formatter(" ".join(f"%{f}" for f in FIELDS))


def target(data: bytes) -> None:
    """Read every event (all parameters decoded), then replay through the Inspector
    with a few fields extracted: only ScapError may escape."""
    from libsinsp import Inspector

    fd, path = tempfile.mkstemp(suffix=".scap")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScapWarning)
            try:
                read_all(path)
            except ScapError:
                pass
            fmt = _formatter()
            insp = Inspector()
            try:
                insp.open_file(path)
                for sevt in insp:
                    fmt.format(sevt)
            except ScapError:
                pass
            finally:
                insp.close()
    finally:
        os.unlink(path)


def test_mutated_captures_only_raise_scap_error() -> None:
    """200 fixed-seed mutations (a few seconds): no finding, bounded memory."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rep = run(NAME, target, seeds(), mutate, seed=9, max_execs=200)
    assert not rep.findings, rep.findings[0].error
    assert rep.peak_rss_kb - before < 300_000, "reading mutated captures grew RSS by more than 300 MB"


def test_length_mutator_hits_length_fields() -> None:
    rng = random.Random(1)
    base = seeds()[0]
    changed = [mutate_lengths(rng, base) != base for _ in range(50)]
    assert sum(changed) > 40


def test_kept_crashers() -> None:
    for path in regression_inputs(NAME):
        err = execute(target, path.read_bytes())
        assert err is None, f"{path.name}: {err}"
