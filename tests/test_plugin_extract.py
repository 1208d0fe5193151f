"""Field extraction from C plugins: every type, lists, index/key args, filters over them."""

from __future__ import annotations

import ipaddress

import pytest

from plugins.build import build_plugin, plugin_dir  # noqa: F401 - fixture

from libsinsp.filter import compile_filter, parse
from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.manager import PluginManager


@pytest.fixture
def manager(plugin_dir):
    m = PluginManager()
    m.load(str(build_plugin("counter_source", plugin_dir)), '{"max": 260}')
    m.load(str(build_plugin("counter_extract", plugin_dir)))
    yield m
    m.close()


@pytest.fixture
def events(manager):
    return list(manager.open_source("counter"))


def ext(manager, name, arg=None):
    return manager.make_extractor(manager.lookup(name), arg)


@pytest.mark.parametrize("field,arg,n,expected", [
    ("counter.value", None, 7, 7),
    ("counter.str", None, 12, "n12"),
    ("counter.even", None, 12, True),
    ("counter.even", None, 13, False),
    ("counter.rel", None, 5, 5000),
    ("counter.abs", None, 5, 1005),
    ("counter.ip", None, 9, ipaddress.ip_address("10.0.0.9")),
    ("counter.ip", None, 201, ipaddress.ip_address("::c9")),
    ("counter.net", None, 3, ipaddress.ip_address("192.168.3.1")),
    ("counter.digits", None, 254, ("2", "5", "4")),
    ("counter.bit", "0", 5, 1),
    ("counter.bit", "1", 5, 0),
    ("counter.tag", "env", 4, "env=4"),
    ("counter.tag", "none", 4, None),
])
def test_typed_values(manager, events, field, arg, n, expected):
    value = ext(manager, field, arg)(events[n])
    assert value == expected and type(value) is type(expected)


def test_fields_of_one_plugin_come_from_one_call_per_event(manager, events, monkeypatch):
    names = [("counter.value", None), ("counter.str", None), ("counter.digits", None),
             ("counter.bit", "0"), ("counter.bit", "1"), ("counter.tag", "a"), ("counter.tag", "b")]
    p = manager.plugins["counterx"]
    calls = []
    real_extractor = p.extractor

    def counting_extractor(requests):
        ex = real_extractor(requests)
        call = ex._call  # the C function plugin_extract_fields
        ex._call = lambda *a: calls.append(len(requests)) or call(*a)
        return ex

    monkeypatch.setattr(p, "extractor", counting_extractor)
    manager._batches.clear()  # a new batch, built with the counting extractor
    extractors = [ext(manager, n, a) for n, a in names]
    for n in (42, 43):
        assert [x(events[n]) for x in extractors] == [n, f"n{n}", tuple(str(n)), n & 1, (n >> 1) & 1,
                                                      f"a={n}", f"b={n}"]
    assert calls == [len(names), len(names)]

def test_argument_errors(manager):
    with pytest.raises(PluginError, match="plugin counterx: field counter.bit requires an argument"):
        ext(manager, "counter.bit")
    with pytest.raises(PluginError, match="field counter.bit needs a numeric index argument, not 'x'"):
        ext(manager, "counter.bit", "x")
    with pytest.raises(PluginError, match="field counter.value does not accept an argument"):
        ext(manager, "counter.value", "1")


def test_events_of_other_sources_have_no_value(manager, events):
    from libsinsp.plugin.source import plugin_event

    other = plugin_event(12345, b"\0" * 8, 1)  # an unknown plugin's event
    assert ext(manager, "counter.value")(other) is None


@pytest.mark.parametrize("condition,matches", [
    ("counter.value < 3", [0, 1, 2]),
    ("counter.even = true and counter.value in (10, 11, 12, 13)", [10, 12]),
    ("counter.str startswith n25 and counter.value < 259", [25, 250, 251, 252, 253, 254, 255, 256, 257, 258]),
    ("counter.ip = 10.0.0.7", [7]),
    ("counter.net in (192.168.5.0/24)", [5]),
    ("counter.digits intersects (9) and counter.value < 30", [9, 19, 29]),
    ("counter.bit[3] = 1 and counter.value < 20", [8, 9, 10, 11, 12, 13, 14, 15]),
    ('counter.tag[k] = "k=100"', [100]),
    ("counter.ip = ::fa", [250]),
])
def test_rule_conditions_over_plugin_fields(manager, events, condition, matches):
    check = compile_filter(parse(condition), manager)
    assert [i for i, e in enumerate(events) if check(e)] == matches
