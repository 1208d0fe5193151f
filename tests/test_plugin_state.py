"""Parsing plugins with state in the thread table, and async events."""

from __future__ import annotations

import time

import pytest

from plugins.build import build_plugin, plugin_dir  # noqa: F401 - fixture

from libsinsp.plugin.async_events import async_event_name
from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.manager import PluginManager
from libsinsp.plugin.tables import TableRegistry, thread_table
from libsinsp.threadinfo import ThreadInfo


def threads_of(*tids):
    rows = {}
    for tid in tids:
        rows[tid] = ThreadInfo(tid)
        rows[tid].comm = f"proc{tid}"
    return rows


def test_parser_keeps_state_in_the_thread_table(plugin_dir):
    rows = threads_of(1, 2, 3)
    tables = TableRegistry()
    tables.add(thread_table(rows))
    m = PluginManager(tables)
    m.load(str(build_plugin("counter_source", plugin_dir)), {"max": 10})
    m.load(str(build_plugin("thread_parse", plugin_dir)))
    seen = m.make_extractor(m.lookup("parse.seen"), "1")
    comm42 = m.make_extractor(m.lookup("parse.comm"), "42")
    comm2 = m.make_extractor(m.lookup("parse.comm"), "2")
    nthreads = m.make_extractor(m.lookup("parse.nthreads"), None)
    counts = []
    for e in m.open_source("counter"):
        m.parse(e, e.num)
        counts.append(seen(e))
    # counter n is counted on thread 1 + n % 3: thread 1 sees n = 0, 3, 6, 9
    assert counts == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4]
    assert tables.tables["threads"].read(2, rows[2], tables.tables["threads"].fields["seen"]) == 3
    # the plugin created thread 42 through create/add_table_entry, and read it back
    assert 42 in rows and rows[42].comm == "made-by-plugin" and rows[42].tid == 42
    assert comm42(e) == "made-by-plugin" and comm2(e) == "proc2"
    assert nthreads(e) == 4
    m.close()


def test_parser_without_thread_table_fails_init(plugin_dir):
    m = PluginManager()  # no tables registered
    with pytest.raises(PluginError, match="plugin threadparse: could not initialize plugin: no threads table: no table named threads"):
        m.load(str(build_plugin("thread_parse", plugin_dir)))


def test_dynamic_field_type_conflict():
    from libsinsp.plugin.tables import ST_STRING, ST_UINT64, TableError

    t = thread_table({})
    t.add_field("x", ST_UINT64)
    assert t.add_field("x", ST_UINT64) is t.fields["x"]
    with pytest.raises(TableError, match="field x already defined"):
        t.add_field("x", ST_STRING)


def test_async_events_are_collected_checked_and_stamped(plugin_dir):
    m = PluginManager()
    p = m.load(str(build_plugin("async_sample", plugin_dir)), "4")
    m.start_async()
    deadline = time.monotonic() + 5
    got = []
    while len(got) < 4 and time.monotonic() < deadline:
        got += m.drain_async()
        time.sleep(0.01)
    m.stop_async()  # joins the plugin's thread
    got += m.drain_async()
    assert [e.type for e in got] == [402] * 4
    assert [async_event_name(e) for e in got] == ["sample"] * 4
    assert [e.raw_param(2) for e in got] == [b"sample %d" % i for i in range(4)]
    assert {e.tid for e in got} == {7}
    assert all(abs(e.ts - time.time_ns()) < 60e9 for e in got)  # ts (uint64)-1 -> now
    # "undeclared" is not in plugin_get_async_events: refused, and the plugin was told
    rejected = m.make_extractor(m.lookup("asyncsample.rejected"), None)
    assert rejected(got[0]) == 1
    assert p.info.async_events == {"sample"}
    m.close()
