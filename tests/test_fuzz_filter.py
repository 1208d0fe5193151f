"""Fuzzing the filter language: random strings and mutated real conditions (every
macro and rule condition of ../shared/rules). Parsing and compiling (against the
sinsp field registry, with the official lists and a few macros) may only raise
FilterError; a filter that compiles is evaluated on real replayed events, where it
must return a bool without raising. tests/test_filter_props.py covers the parser
alone with hypothesis; this adds compile + evaluate and mutations of real
conditions. The long run is ``python scripts/fuzz.py filter``."""

from __future__ import annotations

import random
import warnings
from functools import lru_cache

import yaml
from hypothesis import given, settings, strategies as st

from conftest import CAPTURES, SHARED
from libsinsp.fields import registry
from libsinsp.filter import FilterError, compile_filter, parse
from tests.fuzz_regressions import execute, mutate_text, regression_inputs, run

NAME = "filter"
SUFFIX = ".txt"
TOKENS = ["(", ")", " and ", " or ", " not ", "=", "!=", "<", ">=", " in ", " contains ", " glob ",
          " regex ", " pmatch ", " exists", " startswith ", "\"", "'", ",", "[", "]", "\\", "%",
          "proc.aname[", "evt.arg.", "evt.arg[", "fd.name", "val(", "tolower(", "b64(", "basename(",
          "len(", "0x", "-", "99999999999999999999", "1.5", "::1", "10.0.0.0/8", "/", "*", "?",
          "\x00", "\u00e9", "\ud7ff", "fd.sip", "proc.env[", "thread.cap_effective"]


@lru_cache(maxsize=None)
def _official() -> tuple[list[str], dict[str, list[str]], dict]:
    conds: list[str] = []
    lists: dict[str, list[str]] = {}
    macros: dict = {}
    for path in sorted((SHARED / "rules").glob("*.yaml")):
        for item in yaml.safe_load(path.read_text()) or []:
            if "condition" in item and isinstance(item["condition"], str):
                conds.append(item["condition"])
                if "macro" in item:
                    try:
                        macros[item["macro"]] = parse(item["condition"])
                    except FilterError:
                        pass
            if "list" in item and isinstance(item.get("items"), list):
                lists[item["list"]] = [str(x) for x in item["items"]]
    return conds, lists, macros


@lru_cache(maxsize=None)
def seeds() -> list[bytes]:
    return [c.encode() for c in _official()[0]]


@lru_cache(maxsize=None)
def _events() -> list:
    """A few hundred replayed events (state included) to evaluate compiled filters on."""
    from libsinsp import Inspector

    insp = Inspector()
    insp.open_file(CAPTURES / "curl_google.scap")
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, e in enumerate(insp):
            if i % 5 == 0:
                out.append(e)
            if len(out) >= 120:
                break
    return out


def mutate(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8", "surrogatepass")
    k = rng.random()
    if k < 0.15:  # random string from the token alphabet
        text = "".join(rng.choice(TOKENS + list("abcdefxyz.0123 ")) for _ in range(rng.randint(0, 30)))
    elif k < 0.3:  # splice two conditions
        other = rng.choice(seeds()).decode()
        a, b = rng.randrange(len(text) + 1), rng.randrange(len(other) + 1)
        text = text[:a] + other[b:]
    else:
        for _ in range(rng.randint(1, 3)):
            if not text:
                text = rng.choice(TOKENS)
            i = rng.randrange(len(text) + 1)
            r = rng.randrange(3)
            if r == 0:
                text = text[:i] + rng.choice(TOKENS) + text[i:]
            elif r == 1:
                text = text[:i] + text[i + rng.randint(1, 8):]
            else:
                text = mutate_text(rng, text, TOKENS)
    return text.encode("utf-8", "surrogatepass")


def target(data: bytes) -> None:
    text = data.decode("utf-8", "surrogatepass")
    try:
        tree = parse(text)
        fn = compile_filter(tree, registry(), lists=_official()[1], macros=_official()[2])
    except FilterError:
        return
    for e in _events():
        assert fn(e) in (True, False)


def test_mutated_conditions_only_raise_filter_error() -> None:
    rep = run(NAME, target, seeds(), mutate, seed=9, max_execs=1500)
    assert not rep.findings, rep.findings[0].error


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(TOKENS) | st.characters(), max_size=30).map("".join))
def test_random_strings_compile_or_filter_error(text: str) -> None:
    err = execute(target, text.encode("utf-8", "surrogatepass"))
    assert err is None, err


def test_kept_crashers() -> None:
    for path in regression_inputs(NAME):
        err = execute(target, path.read_bytes())
        assert err is None, f"{path.name}: {err}"
