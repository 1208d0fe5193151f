"""The official Falco rules load with zero errors and warnings through libsinsp's
real field registry, every rule compiles, and event types are as the rule
conditions state."""

from __future__ import annotations

from pathlib import Path

import pytest

from falco_engine import Engine

RULES_DIR = Path("/work/shared/rules")
if not RULES_DIR.exists():
    RULES_DIR = Path(__file__).resolve().parents[2] / "shared" / "rules"
FILES = [RULES_DIR / "falco_rules.yaml", RULES_DIR / "falco-incubating_rules.yaml"]

pytestmark = pytest.mark.skipif(not FILES[0].exists(), reason="official rules not present")


@pytest.fixture(scope="module")
def engine() -> Engine:
    eng = Engine()
    for f in FILES:
        res = eng.load_rules_file(f)
        assert res.successful and not res.warnings, res.as_text()
    return eng


def test_every_rule_compiles(engine):
    names = [line[len("- rule: "):].strip() for f in FILES for line in f.read_text().splitlines()
             if line.startswith("- rule: ")]
    assert [r.name for r in engine.rules] == names
    assert len(engine.enabled_rules()) == len(names)


@pytest.mark.parametrize("rule,types", [
    # conditions: `open_read` = evt.type in (open, openat, openat2) and ...
    ("Read sensitive file untrusted", {"open", "openat", "openat2"}),
    # `spawned_process` = evt.type in (execve, execveat) and ...
    ("Run shell untrusted", {"execve", "execveat"}),
    # `evt.type = ptrace` in the condition
    ("PTRACE attached to process", {"ptrace"}),
    # `evt.type in (init_module, finit_module)`
    ("Linux Kernel Module Injection Detected", {"init_module", "finit_module"}),
])
def test_event_types_sample(engine, rule, types):
    (r,) = [r for r in engine.rules if r.name == rule]
    assert r.evttypes == types


def test_interesting_sets(engine):
    codes = engine.interesting_event_types()
    from libscap.schema import PPME

    assert {int(PPME.SYSCALL_EXECVE_19_X), int(PPME.SYSCALL_OPENAT_2_X)} <= codes
    assert {"execve", "openat", "connect"} <= engine.interesting_syscalls()
    assert "read" not in engine.interesting_syscalls()
