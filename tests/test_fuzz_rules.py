"""Fuzzing the rules loader with mutated official rules (../shared/rules) and the
project's own: text edits (lines, tokens), YAML-tree edits (values replaced by
other types, keys dropped or renamed, items duplicated, conditions and outputs
spliced from other rules). ``Engine.load_rules`` must always return a LoadResult
(errors and warnings inside it), never raise. The long run is
``python scripts/fuzz.py rules``."""

from __future__ import annotations

import random
import re
from functools import lru_cache

import yaml

from conftest import ROOT, SHARED
from falco_engine import Engine, LoadResult
from tests.fuzz_regressions import execute, mutate_text, regression_inputs, run

NAME = "rules"
SUFFIX = ".yaml"
RULES = SHARED / "rules"
OWN = ROOT / "falco_engine" / "rules" / "falco_py_rules.yaml"


def _items(text: str) -> list[str]:
    """Top-level YAML items of a rules file, as text (split at column-0 '- ')."""
    parts = re.split(r"(?m)^(?=- )", text)
    return [p for p in parts if p.startswith("- ")]


@lru_cache(maxsize=None)
def seeds() -> list[bytes]:
    """Chunks of 1..12 consecutive items of each file (fast to load; references to
    items outside the chunk exercise the unknown-macro/list paths) and the
    project's own rules file whole."""
    out = [OWN.read_bytes()]
    rng = random.Random(0)
    for path in sorted(RULES.glob("*.yaml")) + [OWN]:
        items = _items(path.read_text())
        for _ in range(40):
            i = rng.randrange(len(items))
            out.append("".join(items[i:i + rng.randint(1, 12)]).encode())
    return out


_VALUES = [None, 0, -1, 1.5, True, "", "x", "evt.type=open", [], ["a"], {}, {"a": 1}, [[]], "${x}",
           "a" * 300, "%proc.name", "(", "not", "\x00", "\u00e9", "0x10", "ERROR", "debug"]
_KEYS = ["rule", "macro", "list", "condition", "output", "desc", "priority", "items", "append",
         "override", "exceptions", "enabled", "tags", "source", "required_engine_version",
         "required_plugin_versions", "name", "fields", "comps", "values", "skip-if-unknown-filter",
         "warn_evttypes", "capture", "capture_duration", "plugin", "version", "alternatives"]


def _mutate_tree(rng: random.Random, doc: list) -> None:
    """One structural edit somewhere in the document."""
    if not doc:
        doc.append({rng.choice(_KEYS): rng.choice(_VALUES)})
        return
    i = rng.randrange(len(doc))
    item = doc[i]
    k = rng.randrange(7)
    if not isinstance(item, dict) or k == 0:
        doc[i] = rng.choice(_VALUES + [{}, {"rule": None}, {"list": "x", "items": "notalist"}])
    elif k == 1 and item:
        key = rng.choice(list(item))
        item[key] = rng.choice(_VALUES)
    elif k == 2 and item:
        del item[rng.choice(list(item))]
    elif k == 3:
        item[rng.choice(_KEYS)] = rng.choice(_VALUES)
    elif k == 4:
        doc.insert(rng.randrange(len(doc) + 1), dict(item))
    elif k == 5:  # splice a condition/output from another item
        other = doc[rng.randrange(len(doc))]
        if isinstance(other, dict):
            for key in ("condition", "output", "items", "exceptions"):
                if key in other:
                    item[key] = other[key]
                    break
    else:  # edit inside exceptions / items lists
        for key in ("exceptions", "items", "tags", "required_engine_version"):
            if key in item:
                v = item[key]
                item[key] = [rng.choice(_VALUES), v] if rng.random() < 0.5 else {"name": v}
                break


def mutate(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8", "replace")
    if rng.random() < 0.5:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            doc = None
        if isinstance(doc, list):
            for _ in range(rng.randint(1, 3)):
                _mutate_tree(rng, doc)
            return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()
    return mutate_text(rng, text).encode("utf-8", "replace")


def target(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    engine = Engine()
    res = engine.load_rules(text, "fuzz.yaml")
    assert isinstance(res, LoadResult)
    res.as_text()
    res.as_json()
    if res.successful:  # a second file on top (append/override paths), then describe
        res2 = engine.load_rules(text, "fuzz2.yaml")
        assert isinstance(res2, LoadResult)
        res2.as_text()
        if res2.successful:
            engine.describe_rules(None, json=True)


def test_mutated_rules_only_give_load_results() -> None:
    rep = run(NAME, target, seeds(), mutate, seed=9, max_execs=300)
    assert not rep.findings, rep.findings[0].error


def test_tree_mutations_load_as_errors_not_exceptions() -> None:
    """Every item replaced by each odd value in turn (the deterministic corners)."""
    base = yaml.safe_load(OWN.read_text())
    for i in range(min(len(base), 6)):
        for v in _VALUES:
            doc = list(base)
            doc[i] = v if not isinstance(base[i], dict) else {**base[i], "condition": v}
            err = execute(target, yaml.safe_dump(doc).encode())
            assert err is None, err


def test_kept_crashers() -> None:
    for path in regression_inputs(NAME):
        err = execute(target, path.read_bytes())
        assert err is None, f"{path.name}: {err}"
