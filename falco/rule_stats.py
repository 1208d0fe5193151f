"""Alert counts for falco's exit summary (upstream's stats_manager): events
detected, counts by severity and by rule name, rules in load order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

#: short priority names, as the summary prints them (upper-cased)
SHORT_PRIORITIES = ("EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")


class RuleStats:
    def __init__(self) -> None:
        self.total = 0
        self.by_priority: Counter[int] = Counter()
        self.by_rule: Counter[str] = Counter()

    def count(self, rule: str, priority: int) -> None:
        self.total += 1
        self.by_priority[priority] += 1
        self.by_rule[rule] += 1

    def format(self, rule_order: Iterable[str]) -> str:
        """The summary text; ``rule_order`` is the loaded rules' order."""
        out = [f"Events detected: {self.total}", "Rule counts by severity:"]
        out += [f"   {SHORT_PRIORITIES[p]}: {self.by_priority[p]}"
                for p in range(len(SHORT_PRIORITIES)) if self.by_priority[p]]
        out.append("Triggered rules by rule name:")
        seen = set()
        for name in rule_order:
            if self.by_rule[name] and name not in seen:
                seen.add(name)
                out.append(f"   {name}: {self.by_rule[name]}")
        return "\n".join(out) + "\n"
