"""Load + compile of both official rules files (issue 6 target: < 0.5 s cold,
< 0.2 s repeated) with libsinsp's real field registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from falco_engine import Engine

RULES = Path("/work/shared/rules")
if not RULES.exists():
    RULES = Path(__file__).resolve().parents[2] / "shared" / "rules"
FILES = [RULES / "falco_rules.yaml", RULES / "falco-incubating_rules.yaml"]


def _load() -> Engine:
    eng = Engine()
    for f in FILES:
        assert eng.load_rules_file(f).successful
    return eng


@pytest.mark.skipif(not FILES[0].exists(), reason="official rules not present")
def test_load_official_rules(benchmark):
    eng = benchmark(_load)
    assert len(eng.rules) == 56
