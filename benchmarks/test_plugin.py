"""Plugin throughput: C and Python source plugins through extraction and a compiled rule
condition, and the per-call cost of the plugin boundary.

Figures are in ``benchmark.extra_info`` (events/s, ns per call): `make bench` prints them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from libsinsp.filter import compile_filter, parse
from libsinsp.plugin.manager import PluginManager

N = 20_000
_spec = importlib.util.spec_from_file_location(
    "plugin_build", Path(__file__).resolve().parent.parent / "tests" / "plugins" / "build.py")
_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_build)


@pytest.fixture(scope="module")
def c_manager(tmp_path_factory):
    d = tmp_path_factory.mktemp("plugins")
    m = PluginManager()
    m.load(str(_build.build_plugin("counter_source", d)), {"max": N})
    m.load(str(_build.build_plugin("counter_extract", d)))
    yield m
    m.close()


@pytest.fixture(scope="module")
def py_manager():
    m = PluginManager()
    m.load("libsinsp.plugin.examples.dummy", {"count": N})
    yield m
    m.close()


def _pipeline(m: PluginManager, source: str, condition: str) -> int:
    check = compile_filter(parse(condition), m)
    return sum(1 for e in m.open_source(source) if check(e))


def _rate(benchmark, fn, n: int) -> None:
    benchmark.pedantic(fn, rounds=3, iterations=1)
    benchmark.extra_info["events_per_s"] = round(n / benchmark.stats.stats.min)


def test_c_source_extract_rule(benchmark, c_manager):
    cond = "counter.value > 5 and counter.even = true and counter.str startswith n1"
    assert _pipeline(c_manager, "counter", cond) > 0
    _rate(benchmark, lambda: _pipeline(c_manager, "counter", cond), N)


def test_python_source_extract_rule(benchmark, py_manager):
    cond = "dummy.n > 5 and dummy.divisible = true and dummy.strvalue startswith 1"
    assert _pipeline(py_manager, "dummy", cond) > 0
    _rate(benchmark, lambda: _pipeline(py_manager, "dummy", cond), N)


def test_c_source_only(benchmark, c_manager):
    _rate(benchmark, lambda: sum(1 for _ in c_manager.open_source("counter")), N)


@pytest.fixture(scope="module")
def c_events(c_manager):
    return list(c_manager.open_source("counter"))[:10_000]


def _per_event(benchmark, fn, n: int) -> None:
    benchmark.pedantic(fn, rounds=3, iterations=1)
    benchmark.extra_info["ns_per_event"] = round(benchmark.stats.stats.min / n * 1e9)


def test_c_extract_call(benchmark, c_manager, c_events):
    """One uint64 field on each event: one plugin_extract_fields call, the boundary."""
    x = c_manager.make_extractor(c_manager.lookup("counter.value"), None)
    _per_event(benchmark, lambda: [x(e) for e in c_events], len(c_events))


def test_c_four_fields_per_event(benchmark, c_manager, c_events):
    """Four fields of one plugin on each event: still one call per event (ExtractionBatch)."""
    names = ("counter.value", "counter.str", "counter.even", "counter.ip")
    xs = [c_manager.make_extractor(c_manager.lookup(n), None) for n in names]
    _per_event(benchmark, lambda: [x(e) for e in c_events for x in xs], len(c_events))
