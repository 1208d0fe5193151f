"""Enabled rules per ruleset id, indexed by event code (falco's evttype_index_ruleset).

A rule is tried only on events whose code it can match; rules that can match
every event type (or none, like ``never_true``) are tried on every event after
the indexed ones. Within a list, rules keep the order they were enabled in, as
upstream; ``matchers`` gives, per event code, the function returning the first
match or all matches.

Evaluation: the rules one event code can reach are compiled together, on the
first event of that code, into ONE function (libsinsp.filter.compile_matcher):
a field several rules read is extracted once per event, ``evt.type``, fixed
for the code (generic events excepted), is a constant, and fields are extracted
the code's way (``event_code``: no fd fields on events without an fd, the open
flags at the code's position...), so many checks are decided at compile time.
Enabling or disabling rules drops the compiled functions of that ruleset id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from falco_engine.compile import CompiledRule
from falco_engine.evttypes import ALL_CODES, type_name
from libsinsp.filter import compile_matcher
from libsinsp.filter.fields import FieldRegistry

Matcher = Callable[[Any], Sequence[CompiledRule]]


def matches_wildcard(pattern: str, s: str) -> bool:
    """``*`` matches any run of characters; otherwise exact (falco's matches_wildcard)."""
    while True:
        star = pattern.find("*")
        if star == -1:
            return pattern == s
        if star > 0:
            if pattern[:star] != s[:star]:
                return False
            pattern, s = pattern[star:], s[star:]
            continue
        rest = pattern.lstrip("*")
        if not rest:
            return True
        lit = rest.split("*", 1)[0]
        pos = s.find(lit)
        if pos == -1:
            return False
        pattern, s = rest[len(lit):], s[pos + len(lit):]


def name_matches(pattern: str, name: str, match: str) -> bool:
    if match == "exact":
        return pattern == name
    if match == "substring":
        return pattern in name
    if match == "wildcard":
        return matches_wildcard(pattern, name)
    raise ValueError(f"unknown rule name match type '{match}' (exact, substring, wildcard)")


class _Enabled:
    """One ruleset id's enabled rules and their event-code index."""

    def __init__(self, registry: FieldRegistry) -> None:
        self.registry = registry
        self.rules: dict[int, CompiledRule] = {}
        self.by_code: dict[int, list[CompiledRule]] = {}
        self.any_code: list[CompiledRule] = []
        #: the compiled rules per event code, for first / all matching
        self.first = _Matchers(self, True)
        self.every = _Matchers(self, False)

    def add(self, rule: CompiledRule) -> None:
        if rule.id in self.rules:
            return
        self._changed()
        self.rules[rule.id] = rule
        if not rule.codes:
            self.any_code.append(rule)
        for code in rule.codes:
            self.by_code.setdefault(code, []).append(rule)

    def remove(self, rule: CompiledRule) -> None:
        if self.rules.pop(rule.id, None) is None:
            return
        self._changed()
        lists = [self.any_code] if not rule.codes else [self.by_code[c] for c in rule.codes]
        for lst in lists:
            lst.remove(rule)

    def _changed(self) -> None:
        self.first.clear()
        self.every.clear()


class _Matchers(dict[int, "Matcher | None"]):
    """Event code -> the compiled rules of that code (None: no rule to try), built
    on first use: a hit is a plain dict subscript."""

    def __init__(self, enabled: _Enabled, first: bool) -> None:
        super().__init__()
        self.enabled = enabled
        self.match_first = first

    def __missing__(self, code: int) -> Matcher | None:
        s = self.enabled
        indexed, rest = s.by_code.get(code, ()), s.any_code
        fn = None
        if indexed or rest:
            name = type_name(code)
            fn = compile_matcher([[(r.condition, r) for r in indexed], [(r.condition, r) for r in rest]],
                                 s.registry, first=self.match_first,
                                 known={"evt.type": name} if name else None, event_code=code)  # fmt: skip
        self[code] = fn
        return fn


class Ruleset:
    """The compiled rules of one event source and which are enabled per ruleset id."""

    def __init__(self, rules: Iterable[CompiledRule], registry: FieldRegistry) -> None:
        """``registry``: the fields of the rules' source, to compile their matchers."""
        self.rules = list(rules)
        self.registry = registry
        self._sets: dict[int, _Enabled] = {}

    def _set(self, ruleset: int) -> _Enabled:
        s = self._sets.get(ruleset)
        if s is None:
            s = self._sets[ruleset] = _Enabled(self.registry)
        return s

    def enable(self, pattern: str, enabled: bool, ruleset: int = 0, match: str = "wildcard") -> None:
        s = self._set(ruleset)
        for r in self.rules:
            if name_matches(pattern, r.name, match):
                s.add(r) if enabled else s.remove(r)

    def enable_tags(self, tags: Iterable[str], enabled: bool, ruleset: int = 0) -> None:
        """Rules having any of ``tags``."""
        wanted = frozenset(tags)
        s = self._set(ruleset)
        for r in self.rules:
            if r.tags & wanted:
                s.add(r) if enabled else s.remove(r)

    def enabled_rules(self, ruleset: int = 0) -> list[CompiledRule]:
        return list(self._set(ruleset).rules.values())

    def enabled_codes(self, ruleset: int = 0) -> set[int]:
        s = self._set(ruleset)
        return set(ALL_CODES) if s.any_code else {c for c, lst in s.by_code.items() if lst}

    def matchers(self, ruleset: int = 0, first: bool = True) -> Mapping[int, Matcher | None]:
        """Event code -> the function returning the rules matching an event of that code
        (the first one, or all: upstream stops after the indexed rules when one matched);
        None for codes no enabled rule can match. The mapping stays valid while this
        ruleset lives (enabling/disabling rules updates it)."""
        s = self._set(ruleset)
        return s.first if first else s.every
