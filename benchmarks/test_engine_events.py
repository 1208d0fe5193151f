"""The rules engine's cost per event: the full pipeline (capture read + conversion +
state + rules) on the >= 1M-event ``big_capture`` with both official rules files,
next to the same replay without rules, in the same run (issue 6 target: the rules
add at most 30 %); and the cold start of a rules load (fresh interpreter: imports +
load + compile of both official files).

Run: pytest benchmarks/test_engine_events.py --benchmark-enable -s
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from falco_engine import Engine
from libsinsp import Inspector

RULES = Path("/work/shared/rules")
if not RULES.exists():
    RULES = Path(__file__).resolve().parents[2] / "shared" / "rules"
FILES = [RULES / "falco_rules.yaml", RULES / "falco-incubating_rules.yaml"]
pytestmark = pytest.mark.skipif(not FILES[0].exists(), reason="official rules not present")


def official_engine() -> Engine:
    eng = Engine()
    for f in FILES:
        assert eng.load_rules_file(f).successful
    return eng


def replay(path: Path, engine: Engine | None) -> tuple[int, int]:
    """(events, alerts) of one replay; no engine: the pipeline without rules. As
    falco's capture loop: the inspector returns only the events of the codes the
    rules can match (Inspector.return_only; none without rules), each goes to the
    compiled matcher of its code (Engine.matcher_table)."""
    alerts = 0
    with Inspector() as insp:
        insp.open_file(path)
        insp.return_only(engine.interesting_event_types() if engine is not None else ())
        nxt = insp.next
        if engine is None:
            while nxt() is not None:
                pass
            return insp.stats()["events_returned"] + insp.skipped, 0
        table, matches = engine.matcher_table(), engine.matches
        while (sevt := nxt()) is not None:
            fn = table[sevt.evt[5]]  # Event.type
            if fn is not None and (rules := fn(sevt)):
                alerts += len(matches(rules, sevt))
        return insp.stats()["events_returned"] + insp.skipped, alerts


@pytest.mark.slow
def test_rules_cost_per_event(benchmark, big_capture):
    """CPU time (process_time: the machine is shared) of the replay with and without
    rules, interleaved, best of three each."""
    engine = official_engine()
    cpu: dict[str, list[float]] = {"bare": [], "rules": []}
    for _ in range(3):
        for name, eng in (("bare", None), ("rules", engine)):
            start = time.process_time()
            events, alerts = replay(big_capture, eng)
            cpu[name].append(time.process_time() - start)
    benchmark.pedantic(replay, args=(big_capture, engine), rounds=1, iterations=1)
    bare_s, rules_s = min(cpu["bare"]), min(cpu["rules"])
    overhead = rules_s / bare_s - 1
    benchmark.extra_info.update(events=events, alerts=alerts, rules=len(engine.enabled_rules()),
                                cpu_s_rules=round(rules_s, 3), cpu_s_bare=round(bare_s, 3),
                                rules_overhead_pct=round(overhead * 100, 1),
                                engine_us_per_event=round((rules_s - bare_s) / events * 1e6, 3))  # fmt: skip
    print(f"\n{events} events, {alerts} alerts, {len(engine.enabled_rules())} rules: CPU with rules {rules_s:.2f}s, "
          f"without {bare_s:.2f}s: +{overhead:.1%}, {(rules_s - bare_s) / events * 1e6:.2f} us/event")
    assert events >= 600_000


_COLD = (
    "import sys; from falco_engine import Engine; e = Engine(); "
    "sys.exit(0 if all(e.load_rules_file(f).successful for f in sys.argv[1:]) else 1)"
)


def cold_load() -> None:
    subprocess.run([sys.executable, "-c", _COLD, *map(str, FILES)], check=True)


def test_cold_load_compile(benchmark):
    """A fresh interpreter importing falco_engine + libsinsp fields and loading both files."""
    benchmark.pedantic(cold_load, rounds=3, iterations=1)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import falco_engine, libsinsp.fields"], check=True)
    benchmark.extra_info["imports_only_s"] = round(time.perf_counter() - start, 3)
