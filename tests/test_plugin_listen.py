"""Capture listening (libsinsp.plugin.listen) with the C test plugin
tests/plugins/listener.c: capture_open/capture_close calls and the routines it
subscribes (one returning false on its 5th call, one running until unsubscribed)."""

from __future__ import annotations

import time

import pytest

from plugins.build import build_plugin, plugin_dir  # noqa: F401 - fixture

from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.info import Capabilities
from libsinsp.plugin.manager import PluginManager
from libsinsp.plugin.source import plugin_event
from tests.test_falco_outputs import wait_for


def counters(m: PluginManager) -> dict[str, int]:
    evt = plugin_event(1, b"", 1)
    return {n: m.make_extractor(m.lookup(f"listener.{n}"), None)(evt) for n in ("opens", "closes", "finite", "forever")}


def test_capture_open_close_and_routines(plugin_dir, tmp_path):
    out = tmp_path / "closed.txt"
    m = PluginManager()
    p = m.load(str(build_plugin("listener", plugin_dir)), str(out))
    assert p.info.caps & Capabilities.CAPTURE_LISTENING
    assert counters(m)["opens"] == 0
    m.capture_open()
    m.capture_open()  # once per capture
    assert counters(m)["opens"] == 1
    # the finite routine runs exactly 5 times; the other keeps running
    assert wait_for(lambda: counters(m)["finite"] == 5 and counters(m)["forever"] >= 3)
    assert wait_for(lambda: p.owner.routines.running() == 1)
    m.capture_close()
    # capture_close unsubscribed "forever" (rc 0); it stops after its current call
    assert out.read_text() == "opens=1 closes=1 finite=5 unsubscribed=0\n"
    assert wait_for(lambda: p.owner.routines.running() == 0)
    time.sleep(0.02)
    n = counters(m)["forever"]
    time.sleep(0.05)
    assert counters(m)["forever"] in (n, n + 1)
    m.capture_close()  # no second close without an open
    assert counters(m)["closes"] == 1
    m.close()


def test_close_of_the_manager_closes_the_capture(plugin_dir, tmp_path):
    out = tmp_path / "closed.txt"
    m = PluginManager()
    m.load(str(build_plugin("listener", plugin_dir)), str(out))
    m.capture_open()
    assert wait_for(lambda: counters(m)["finite"] == 5)
    routines = m.plugins["listener"].owner.routines
    m.close()
    assert out.read_text() == "opens=1 closes=1 finite=5 unsubscribed=0\n"
    assert routines.running() == 0


def test_capture_open_refusal_is_an_error(plugin_dir):
    m = PluginManager()
    m.load(str(build_plugin("listener", plugin_dir, "LISTENER_FAIL_OPEN", name="listener_fail")), "")
    with pytest.raises(PluginError, match="plugin listener: capture_open error: refused to open"):
        m.capture_open()
    m.close()
