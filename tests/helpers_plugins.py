"""Shared test data of the plugin tests (test_falco_plugins.py, test_plugin_integration.py)."""

from __future__ import annotations


def counter_rules(desc: str, output: str) -> str:
    """Rules requiring the counter plugin 1.0.0: "Counter multiple of seven" (its
    `desc` and `output`) on the counter source, which alerts for the odd counters
    7, 21 and 35, and a syscall rule that counter events must never reach."""
    return f"""
- required_plugin_versions:
    - name: counter
      version: 1.0.0
- rule: Counter multiple of seven
  desc: {desc}
  condition: counter.value > 0 and counter.bit[0] = 1 and counter.str in (n7, n21, n35)
  output: {output}
  priority: WARNING
  source: counter
- rule: Syscall rule never sees counter events
  desc: a rule of another source
  condition: evt.type = pluginevent
  output: wrong
  priority: ERROR
"""
