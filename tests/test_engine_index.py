"""Event-type conjuncts guaranteed by the ruleset index are left out of compiled
filters, and only those (expected trees written by hand)."""

from __future__ import annotations

import pytest

from falco_engine.compile import drop_indexed_type_checks
from falco_engine.evttypes import codes_of
from libsinsp.filter import parse


@pytest.mark.parametrize("cond,index_names,expected", [
    # implied conjuncts at any depth of nested "and" go
    ("evt.type in (open, openat) and proc.name = cat", ["open", "openat"], "proc.name = cat"),
    ("(evt.type = open and fd.num >= 0) and proc.name = cat", ["open"], "fd.num >= 0 and proc.name = cat"),
    # a narrower index is still covered by a wider check
    ("evt.type in (open, openat) and proc.name = cat", ["open"], "proc.name = cat"),
    # not covered: the rule is also tried on openat events
    ("evt.type = open and proc.name = cat", ["open", "openat"], "evt.type = open and proc.name = cat"),
    # inside "or" / "not", negated or other operators: kept
    ("(evt.type = open or evt.type = openat) and proc.name = cat", ["open", "openat"],
     "(evt.type = open or evt.type = openat) and proc.name = cat"),
    ("not evt.type = close and proc.name = cat", ["open"], "not evt.type = close and proc.name = cat"),
    ("evt.type != close and proc.name = cat", ["open"], "evt.type != close and proc.name = cat"),
    # generic events: evt.type is the syscall name, never implied by the index
    ("evt.type = acct and proc.name = cat", ["acct"], "evt.type = acct and proc.name = cat"),
    # nothing left: the condition stays whole
    ("evt.type = open", ["open"], "evt.type = open"),
])  # fmt: skip
def test_drop_indexed_type_checks(cond: str, index_names: list[str], expected: str) -> None:
    assert drop_indexed_type_checks(parse(cond), codes_of(index_names)) == parse(expected)
