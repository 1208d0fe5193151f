"""The ruleset compiles the rules one event code can reach into one function: a
field several rules read is extracted once per event, ``evt.type`` is a constant
of the code (generic events excepted), and enabling/disabling rules rebuilds it."""

from __future__ import annotations

from falco_engine import Engine
from test_engine_fakes import FakeEvent, FakeFormatter
from test_filter_fakes import Counting

RULES = """
- rule: cat opens etc
  desc: d
  condition: evt.type in (open, openat) and proc.name = cat and fd.name startswith /etc
  output: "%proc.name %fd.name"
  priority: WARNING
- rule: cat opens
  desc: d
  condition: evt.type = open and proc.name = cat
  output: "%proc.name %fd.name"
  priority: WARNING
- rule: not a close
  desc: d
  condition: evt.type != close and proc.name = cat
  output: "%proc.name"
  priority: WARNING
- rule: acct by cat
  desc: d
  condition: evt.type = acct and proc.name = cat
  output: "%proc.name"
  priority: WARNING
"""


def engine(matching: str = "all") -> tuple[Engine, Counting]:
    reg = Counting()
    eng = Engine(reg, lambda fmt: FakeFormatter(fmt, reg))
    eng.set_rule_matching(matching)
    assert eng.load_rules(RULES, "r.yaml").successful
    reg.by_field.clear()
    return eng, reg


def rules(eng: Engine, evt: FakeEvent) -> list[str]:
    return [m.rule for m in eng.process_event(evt)]


def test_fields_shared_by_rules_are_extracted_once_and_evt_type_never() -> None:
    eng, reg = engine()
    opened = FakeEvent("SYSCALL_OPEN_X", {"proc.name": "cat", "fd.name": "/etc/passwd"})
    assert rules(eng, opened) == ["cat opens etc", "cat opens", "not a close"]
    assert reg.by_field == {"proc.name": 1, "fd.name": 1}


def test_evt_type_of_the_code_decides_checks_at_compile_time() -> None:
    eng, reg = engine()
    # the event's own evt.type value is ignored: the code says openat
    odd = FakeEvent("SYSCALL_OPENAT_2_X", {"proc.name": "cat", "fd.name": "/etc/x", "evt.type": "close"})
    assert rules(eng, odd) == ["cat opens etc", "not a close"]
    closed = FakeEvent("SYSCALL_CLOSE_X", {"proc.name": "cat"})
    assert rules(eng, closed) == []
    assert "evt.type" not in reg.by_field


def test_generic_events_read_evt_type() -> None:
    eng, reg = engine()
    acct = FakeEvent("GENERIC_X", {"proc.name": "cat"})
    acct["evt.type"] = "acct"
    assert rules(eng, acct) == ["not a close", "acct by cat"]
    assert reg.by_field["evt.type"] == 1
    acct["evt.type"] = "other"
    assert rules(eng, acct) == ["not a close"]


def test_first_match_stops_early() -> None:
    eng, reg = engine("first")
    opened = FakeEvent("SYSCALL_OPEN_X", {"proc.name": "cat", "fd.name": "/etc/passwd"})
    assert rules(eng, opened) == ["cat opens etc"]
    assert rules(eng, FakeEvent("SYSCALL_OPEN_X", {"proc.name": "cat", "fd.name": "/tmp"})) == ["cat opens"]


def test_enable_and_disable_rebuild_the_compiled_rules() -> None:
    eng, _ = engine()
    opened = FakeEvent("SYSCALL_OPEN_X", {"proc.name": "cat", "fd.name": "/etc/passwd"})
    assert len(rules(eng, opened)) == 3
    eng.enable_rule("cat opens*", False)
    assert rules(eng, opened) == ["not a close"]
    eng.enable_rule("cat opens", True, match="exact")
    assert rules(eng, opened) == ["not a close", "cat opens"]  # in the order enabled, as upstream
