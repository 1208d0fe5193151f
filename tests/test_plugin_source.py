"""Event sourcing from C plugins: batches, timeout/EOF/failure, progress, and captures."""

from __future__ import annotations

import struct

import pytest

from plugins.build import build_plugin, plugin_dir  # noqa: F401 - fixture

from libscap.savefile import CaptureWriter, open_capture
from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.manager import PluginManager
from libsinsp.plugin.source import event_payload, plugin_id_of


def counter_manager(plugin_dir, n=20):
    m = PluginManager()
    m.load(str(build_plugin("counter_source", plugin_dir)), {"max": n})
    return m


def values(events):
    return [struct.unpack("<Q", event_payload(e))[0] for e in events]


def test_events_are_plugin_events_with_the_plugin_id(plugin_dir):
    m = counter_manager(plugin_dir)
    with m.open_source("counter") as src:
        events = list(src)
    assert values(events) == list(range(20))
    assert {e.type for e in events} == {322}
    assert {plugin_id_of(e) for e in events} == {999}  # the plugin left 0: the framework sets its id
    assert [e.ts for e in events] == [1000 + i for i in range(20)]
    assert [e.num for e in events] == list(range(1, 21))
    assert events[0].get("plugin_id") == 999 and events[3].get("event_data") == struct.pack("<Q", 3)
    assert m.source_of(events[0]) == "counter"


def test_batches_then_eof(plugin_dir):
    m = counter_manager(plugin_dir, 10)
    src = m.open_source("counter")
    assert [len(b) for b in (src.next_batch(), src.next_batch())] == [8, 2]
    assert src.next_batch() is None
    src.close()


def test_timeout_is_an_empty_batch(plugin_dir):
    m = counter_manager(plugin_dir, 3)
    src = m.open_source("counter", "timeout")
    assert src.next_batch() == []
    assert values(src.next_batch()) == [0, 1, 2]
    assert src.next_batch() is None


def test_open_failure_names_plugin_and_params(plugin_dir):
    m = counter_manager(plugin_dir)
    with pytest.raises(PluginError, match=r"plugin counter: could not open with params 'fail': cannot open 'fail'"):
        m.open_source("counter", "fail")


def test_next_batch_failure(plugin_dir):
    m = counter_manager(plugin_dir)
    src = m.open_source("counter", "failbatch")
    src.next_batch()
    with pytest.raises(PluginError, match="plugin counter: plugin_next_batch failed .*batch 2 broke"):
        src.next_batch()


def test_progress_event_to_string_open_params(plugin_dir):
    m = counter_manager(plugin_dir, 16)
    src = m.open_source("counter")
    batch = src.next_batch()
    assert src.progress() == (50.0, "8 of 16")
    assert m.event_to_string(batch[5]) == "counter=5"
    assert [p["value"] for p in m.source_plugin("counter").list_open_params()] == ["", "timeout"]


def test_unknown_source(plugin_dir):
    m = counter_manager(plugin_dir)
    with pytest.raises(PluginError, match="plugin nosuch: no loaded plugin with event sourcing"):
        m.open_source("nosuch")


def test_capture_round_trip(plugin_dir, tmp_path):
    m = counter_manager(plugin_dir, 30)
    events = list(m.open_source("counter"))
    path = tmp_path / "counter.scap"
    with CaptureWriter(path, compress=False) as w:
        w.write_events(events)
    with open_capture(path) as cap:
        replayed = list(cap.events())
    assert [e.raw for e in replayed] == [e.raw for e in events]
    assert values(replayed) == list(range(30))
    assert {m.source_of(e) for e in replayed} == {"counter"}
    # the plugin can still describe events read back from the file
    assert m.event_to_string(replayed[29]) == "counter=29"
