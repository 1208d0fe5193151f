"""evt.pluginname, evt.plugininfo, evt.asynctype (libsinsp.fields.plugin_meta) on the
events of the C test plugins, through an Inspector with an attached PluginManager."""

from __future__ import annotations

import time

from plugins.build import build_plugin, plugin_dir  # noqa: F401 - fixture

from libsinsp.fields import registry
from libsinsp.formatter import Formatter
from libsinsp.inspector import Inspector
from libsinsp.plugin.manager import PluginManager
from libsinsp.plugin.source import plugin_event

FMT = "%evt.pluginname|%evt.plugininfo|%evt.asynctype|%evt.is_async"


def rendered(insp: Inspector, fmt: str = FMT) -> list[str]:
    f = Formatter(fmt, registry=registry())
    out = []
    while (sevt := insp.next()) is not None:
        out.append(f.format(sevt))
    return out


def test_plugin_event_names_its_plugin(plugin_dir):
    insp, m = Inspector(), PluginManager()
    m.attach(insp)
    m.load(str(build_plugin("counter_source", plugin_dir)), {"max": 3})
    events = list(m.open_source("counter"))
    events.append(plugin_event(12345, b"\0" * 8, 2000))  # an id of no loaded plugin
    insp.open_events(events, convert=False)
    # counter_source counts from 0; its event_to_string is "counter=<n>"
    assert rendered(insp) == ["counter|counter=0|<NA>|false", "counter|counter=1|<NA>|false",
                              "counter|counter=2|<NA>|false", "<NA>|<NA>|<NA>|false"]
    m.close()


def test_without_plugin_manager_plugin_fields_are_unset(plugin_dir):
    m = PluginManager()
    m.load(str(build_plugin("counter_source", plugin_dir)), {"max": 1})
    events = list(m.open_source("counter"))
    m.close()
    insp = Inspector()
    insp.open_events(events, convert=False)
    assert rendered(insp) == ["<NA>|<NA>|<NA>|false"]


def test_async_event_type_is_its_name(plugin_dir):
    insp, m = Inspector(), PluginManager()
    m.attach(insp)
    m.load(str(build_plugin("async_sample", plugin_dir)), "2")
    m.start_async()
    deadline, got = time.monotonic() + 5, []
    while len(got) < 2 and time.monotonic() < deadline:
        got += m.drain_async()
        time.sleep(0.01)
    m.stop_async()
    insp.open_events(got, convert=False)
    # async events are no plugin events: no plugin name or info; their type is the name
    assert rendered(insp, FMT + "|%evt.type|%evt.source") == ["<NA>|<NA>|sample|true|asyncevent|syscall"] * 2
    m.close()


def test_filters_on_the_meta_fields(plugin_dir):
    from libsinsp.filter import compile_filter, parse

    insp, m = Inspector(), PluginManager()
    m.attach(insp)
    m.load(str(build_plugin("counter_source", plugin_dir)), {"max": 5})
    insp.open_events(list(m.open_source("counter")), convert=False)
    flt = compile_filter(parse('evt.pluginname = counter and evt.plugininfo in ("counter=2", "counter=4")'), registry())
    seen = []
    while (sevt := insp.next()) is not None:
        if flt(sevt):
            seen.append(sevt.num)
    assert seen == [3, 5]  # counters 2 and 4 are the 3rd and 5th events
    m.close()
