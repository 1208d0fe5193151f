"""falco's own per-event cost: the capture loop (falco.app.Daemon._capture) over a
stub inspector that yields the same SinspEvents again and again and a stub engine
that matches nothing, against the bare loop ``for sevt in insp: process(sevt, src)``
over the same stubs. The difference is what falco adds per event (counting, the
stop/reload/drop/-M deadlines, the event's source), in ns per event, for a replay
(each event's own source) and a live source, in thread CPU time.
Run: pytest benchmarks/test_falco_loop.py --benchmark-enable -s
"""

from __future__ import annotations

import time
from types import SimpleNamespace

from falco.app import Alerts, Daemon, RunOptions
from falco.drops import DropManager
from falco.rules_setup import LoadedRules
from libscap.event import Event
from libsinsp.event import SinspEvent

N = 1_000_000
_EVENTS = []
for _i in range(1000):
    _s = SinspEvent(None)
    _s.evt = Event(b"", 0, 1_000_000 * _i, 1, 26, 3, 0, 0, _i, 0)  # 1 ms apart, no parameters
    _EVENTS.append(_s)


class _Inspector:
    """Returns every event (skips none: what falco does per returned event is measured)."""

    skipped = 0
    return_at = None

    def return_only(self, codes) -> None:
        pass

    def __iter__(self):
        for _ in range(N // len(_EVENTS)):
            yield from _EVENTS


class _NoMatchers(dict):
    def __missing__(self, code):
        return None


class _Engine:
    rules: list = []

    def process_event(self, sevt, source="syscall"):
        return []

    def matcher_table(self, source="syscall"):
        return _NoMatchers()

    def interesting_event_types(self, source="syscall"):
        return set()


def _daemon() -> Daemon:
    plugins = SimpleNamespace(sources=["syscall"], configs=[])
    return Daemon(RunOptions("", []), None, LoadedRules(_Engine(), []), plugins, ["syscall"])  # type: ignore[arg-type]


def _bare() -> float:
    process = _Engine().process_event
    n = 0
    t0 = time.thread_time()
    for sevt in _Inspector():
        n += 1
        process(sevt, "syscall")
    return time.thread_time() - t0


def _falco(source: str) -> float:
    d = _daemon()
    d._running = 1
    drops = DropManager(lambda: {"n_evts": 0, "n_drops": 0}, lambda *a: None, live=bool(source))
    alerts = SimpleNamespace(rule_match=None)
    t0 = time.thread_time()
    d._capture(_Inspector(), source, alerts, drops, None)  # type: ignore[arg-type]
    took = time.thread_time() - t0
    assert d.num_evts == N
    return took


def test_falco_loop_overhead_per_event(benchmark) -> None:
    res = {}

    def once() -> None:
        for name, fn in (("bare", _bare), ("replay", lambda: _falco("")), ("live", lambda: _falco("syscall"))):
            res.setdefault(name, []).append(fn())

    benchmark.pedantic(once, rounds=3, iterations=1)
    bare = min(res["bare"])
    ns = {k: round((min(v) - bare) * 1e9 / N) for k, v in res.items() if k != "bare"}
    benchmark.extra_info.update(bare_ns_per_event=round(bare * 1e9 / N), **{f"{k}_overhead_ns": v for k, v in ns.items()})
    print(f"\nfalco capture loop over a bare process-every-event loop ({bare * 1e9 / N:.0f} ns/event with stubs): "
          f"+{ns['replay']} ns/event (replay), +{ns['live']} ns/event (live source)")
