"""Plugins wired into libsinsp's Inspector and falco_engine's Engine, live and replayed."""

from __future__ import annotations

import pytest

from plugins.build import build_plugin, plugin_dir  # noqa: F401 - fixture

from falco_engine.engine import Engine
from libscap.savefile import CaptureWriter
from libsinsp.fields.registry import SinspFieldRegistry
from libsinsp.formatter import Formatter
from libsinsp.inspector import Inspector
from libsinsp.plugin.manager import PluginManager
from tests.helpers_plugins import counter_rules

RULES = "\n- required_engine_version: 0.0.0" + counter_rules(
    "plugin fields in a condition and an output",
    "seven-ish %counter.value (%counter.str, even=%counter.even, seen by thread 1 %parse.seen[1] times)")


def run(plugin_dir, open_inspector):
    insp = Inspector()
    m = PluginManager()
    m.attach(insp)
    m.load(str(build_plugin("counter_source", plugin_dir)), {"max": 40})
    m.load(str(build_plugin("counter_extract", plugin_dir)))
    m.load(str(build_plugin("thread_parse", plugin_dir)))
    insp.threads.map[1] = insp.threads.placeholder(1, 0)  # a thread for the parser to count on
    reg = SinspFieldRegistry()
    m.register_fields(reg)
    engine = Engine()
    engine.add_source("counter", reg, lambda fmt: Formatter(fmt, registry=reg))
    result = engine.load_rules(RULES, "plugin_rules.yaml")
    assert not getattr(result, "errors", None), result
    assert m.check_required_plugin_versions(engine.required_plugin_versions) == []
    open_inspector(insp, m)
    alerts = []
    for sevt in insp:
        alerts += [(a.rule, a.output) for a in engine.process_event(sevt, sevt.source)]
        if sevt.source == "syscall":
            alerts += [(a.rule, a.output) for a in engine.process_event(sevt)]
    m.close()
    return alerts


def test_rules_on_plugin_events_live_and_replayed(plugin_dir, tmp_path):
    captured = []

    def live(insp, m):
        captured.extend(m.open_source("counter"))
        insp.open_events(captured, convert=False)

    alerts = run(plugin_dir, live)
    assert [a[0] for a in alerts] == ["Counter multiple of seven"] * 3
    assert alerts[0][1] == "seven-ish 7 (n7, even=false, seen by thread 1 3 times)"
    assert [a[1].split()[1] for a in alerts] == ["7", "21", "35"]

    path = tmp_path / "counter.scap"
    with CaptureWriter(path, compress=False) as w:
        w.write_events(captured)
    assert run(plugin_dir, lambda insp, m: insp.open_file(path)) == alerts


@pytest.mark.parametrize("version,ok", [("1.2.0", True), ("1.3.0", False)])
def test_engine_required_plugin_versions(plugin_dir, version, ok):
    m = PluginManager()
    m.load(str(build_plugin("counter_source", plugin_dir)))
    engine = Engine()
    engine.add_source("counter", SinspFieldRegistry(), lambda fmt: Formatter(fmt, registry=SinspFieldRegistry()))
    engine.load_rules(f"- required_plugin_versions:\n    - name: counter\n      version: {version}\n", "r.yaml")
    assert (m.check_required_plugin_versions(engine.required_plugin_versions) == []) == ok
