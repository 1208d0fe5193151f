"""Fuzzing the reader with mutated shared captures: whatever the bytes, reading
yields events or raises ScapError (never another exception, a hang or a huge
allocation). Mutations apply to the decompressed stream; the mutated capture is
read plain and, for a subset, gzip-compressed again."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import CAPTURE_EVENT_COUNTS, CAPTURES
from libscap.errors import ScapError
from tests.helpers_scap import read_all


@lru_cache(maxsize=None)
def _decompressed(name: str) -> bytes:
    return gzip.decompress((CAPTURES / f"{name}.scap").read_bytes())


def _read(path: Path) -> None:
    """Read everything, decoding every parameter."""
    try:
        read_all(path)
    except ScapError as exc:
        assert exc.path == str(path) and exc.offset is not None or "cannot open" in exc.message


mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("overwrite"), st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("insert"), st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=16)),
)


def _mutate(data: bytes, mutations) -> bytes:
    buf = bytearray(data)
    for kind, where, arg in mutations:
        if not buf:
            break
        at = int(where * len(buf))
        if kind == "flip":
            buf[at] ^= 1 << arg
        elif kind == "truncate":
            del buf[at:]
        elif kind == "overwrite":
            buf[at:at + len(arg)] = arg
        else:
            buf[at:at] = arg
    return bytes(buf)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(CAPTURE_EVENT_COUNTS)), mutations=st.lists(mutation, min_size=1, max_size=4),
       compress=st.booleans())
def test_mutated_captures_raise_only_scap_errors(tmp_path: Path, name: str, mutations, compress: bool) -> None:
    data = _mutate(_decompressed(name), mutations)
    path = tmp_path / "fuzz.scap"
    path.write_bytes(gzip.compress(data, compresslevel=1) if compress else data)
    _read(path)


def test_mutations_of_block_headers_regressions(tmp_path: Path) -> None:
    """Examples the fuzzer found or that hit each header field of the first event block."""
    data = _decompressed("single_ipv6_conn")
    path = tmp_path / "r.scap"
    for mutations in ([("truncate", 0.5, 0)], [("overwrite", 0.0, b"\0")], [("insert", 0.9, b"\xff" * 3)],
                      [("flip", 0.95, 7)]):
        path.write_bytes(_mutate(data, mutations))
        _read(path)
