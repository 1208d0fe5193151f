"""PluginManager rules across plugins, and Python plugins through the same manager."""

from __future__ import annotations

import pytest

from plugins.build import build_plugin, plugin_dir  # noqa: F401 - fixture

from libscap.savefile import CaptureWriter, open_capture
from libsinsp.filter import compile_filter, parse
from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.manager import PluginManager

DUMMY = "libsinsp.plugin.examples.dummy"


def test_same_plugin_twice(plugin_dir):
    m = PluginManager()
    so = str(build_plugin("counter_source", plugin_dir))
    m.load(so)
    with pytest.raises(PluginError, match="plugin counter: a plugin with this name is already loaded"):
        m.load(so)


def test_field_overlap_is_an_error(plugin_dir, tmp_path):
    m = PluginManager()
    m.load(str(build_plugin("counter_extract", plugin_dir)))
    clash = tmp_path / "clash.py"
    clash.write_text(
        "from libsinsp.plugin.python_api import Field, PythonPlugin\n"
        "class Clash(PythonPlugin):\n"
        "    name = 'clash'\n"
        "    version = '1.0.0'\n"
        "    fields = [Field('counter.value', 'uint64', 'again')]\n"
        "    def extract(self, event, field, arg):\n"
        "        return 1\n")
    with pytest.raises(PluginError, match="plugin clash: field counter.value is already defined by plugin counterx"):
        m.load(str(clash))


_INCOMPATIBLE = "Plugin 'counter' version '1.2.3' is not compatible with required plugin version '{}'"


@pytest.mark.parametrize("reqs,errors", [
    ([{"name": "counter", "version": "1.0.0"}], []),
    ([{"name": "counter", "version": "1.2.3"}], []),
    ([{"name": "counter", "version": "1.3.0"}], [_INCOMPATIBLE.format("1.3.0")]),
    ([{"name": "counter", "version": "2.0.0"}], [_INCOMPATIBLE.format("2.0.0")]),
    ([{"name": "counter", "version": "0.9.0"}], [_INCOMPATIBLE.format("0.9.0")]),  # other major
    ([{"name": "k8saudit", "version": "0.1.0"}],
     ["Plugin requirement not satisfied, must load one of: k8saudit (>= 0.1.0)"]),
    ([{"name": "k8saudit", "version": "0.1.0", "alternatives": [{"name": "counter", "version": "1.1.0"}]}], []),
    # the first alternative that is loaded decides, as in Falco
    ([{"name": "counter", "version": "1.3.0", "alternatives": [{"name": "dummy", "version": "1.0.0"}]}],
     [_INCOMPATIBLE.format("1.3.0")]),
    ([{"name": "counter", "version": "1.0.0"}, {"name": "dummy", "version": "1.0.0"}], []),
])
def test_required_plugin_versions(plugin_dir, reqs, errors):
    m = PluginManager()
    m.load(str(build_plugin("counter_source", plugin_dir)))
    m.load(DUMMY)
    assert m.check_required_plugin_versions(reqs) == errors


def test_python_plugin_end_to_end(tmp_path):
    m = PluginManager()
    p = m.load(DUMMY, {"count": 40, "jitter": 4})
    assert (p.info.name, p.info.id, p.info.event_source) == ("dummy", 999001, "dummy")
    assert m.sources() == ["dummy"]
    assert m.lookup("dummy.value").display == "Sample"
    events = list(m.open_source("dummy"))
    assert len(events) == 40 and {e.type for e in events} == {322}
    check = compile_filter(parse("dummy.divisible = true and dummy.digit[1] = 2"), m)
    # sample = n*10 + n%4: divisible when n%4 == 0; tens digit 2 -> n in {2, 12, 22, 32} mod 10
    assert [m.make_extractor(m.lookup("dummy.n"), None)(e) for e in events if check(e)] == [12, 32]
    assert m.event_to_string(events[5]) == "n=5 sample=51"
    # written and replayed like C plugin events
    path = tmp_path / "dummy.scap"
    with CaptureWriter(path, compress=False) as w:
        w.write_events(events)
    with open_capture(path) as cap:
        assert [e.raw for e in cap.events()] == [e.raw for e in events]


def test_python_plugin_bad_config():
    m = PluginManager()
    with pytest.raises(PluginError, match="plugin dummy: init config: in count: 'x' is not of type 'integer'"):
        m.load(DUMMY, {"count": "x"})


def test_python_plugin_import_errors(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(PluginError, match="cannot import Python plugin: RuntimeError: boom"):
        PluginManager().load(str(bad))
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(PluginError, match="expected one PythonPlugin subclass"):
        PluginManager().load(str(empty))


def test_python_plugin_extract_failure_is_a_plugin_error(tmp_path):
    src = tmp_path / "failing.py"
    src.write_text(
        "from libsinsp.plugin.python_api import Field, PythonPlugin\n"
        "class Failing(PythonPlugin):\n"
        "    name = 'failing'\n"
        "    version = '1.0.0'\n"
        "    fields = [Field('failing.x', 'uint64', 'x')]\n"
        "    def extract(self, event, field, arg):\n"
        "        raise KeyError('nope')\n")
    m = PluginManager()
    m.load(str(src))
    from libsinsp.plugin.source import plugin_event

    with pytest.raises(PluginError, match="plugin failing: extract of failing.x failed: KeyError"):
        m.make_extractor(m.lookup("failing.x"), None)(plugin_event(1, b"", 1))
