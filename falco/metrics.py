"""Falco's metrics: a flat snapshot (``falco.*`` and ``scap.*`` keys, as upstream's
"Falco internal: metrics snapshot" alert carries them), its Prometheus text form
for the webserver's /metrics, and the periodic writer of ``metrics.interval``
(internal alert with ``output_rule``, a JSON line appended to ``output_file``).

Counters come from callables so this module knows nothing of how capture or the
rules engine keep them."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("falco")

RULE = "Falco internal: metrics snapshot"
OUTPUT = "Falco metrics snapshot"
PRIORITY_INFORMATIONAL = 6
_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
             "w": 7 * 86_400_000, "y": 365 * 86_400_000}


def parse_interval(value: int | str) -> int:
    """``metrics.interval`` in milliseconds: an integer (ms) or a Prometheus
    duration such as ``1h30m`` or ``15s``."""
    if isinstance(value, int):
        return value
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"metrics.interval: not a duration: {value!r}")
    return sum(int(n) * _UNITS_MS[u] for n, u in parts)


def _proc_status() -> dict[str, int]:
    """VmRSS/VmSize of this process, in kB."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmSize"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def _boot_ts_ns() -> int:
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime "):
                    return int(line.split()[1]) * 1_000_000_000
    except OSError:
        pass
    return 0


@dataclass
class Sources:
    """Where the counters come from (each a cheap callable)."""

    version: str
    engine_name: str
    num_evts: Callable[[], int]
    capture_stats: Callable[[], Mapping[str, int]] = dict
    rule_counts: Callable[[], Mapping[str, int]] = dict
    outputs_drops: Callable[[], int] = lambda: 0
    start_ts_ns: int = field(default_factory=time.time_ns)
    hostname: str = field(default_factory=socket.gethostname)


class Metrics:
    """Snapshots of falco's counters; remembers the previous one for rates."""

    def __init__(self, src: Sources, *, resource: bool = True, kernel: bool = True, rules: bool = True,
                 convert_memory_to_mb: bool = True, include_empty_values: bool = False) -> None:
        self.src = src
        self._resource, self._kernel, self._rules = resource, kernel, rules
        self._mb = convert_memory_to_mb
        self._empty = include_empty_values
        self._prev: tuple[int, int, int, int] | None = None  # time, evts, scap evts, scap drops
        self._lock = threading.Lock()

    def snapshot(self) -> dict[str, Any]:
        """The current values, keyed as upstream's snapshot output fields."""
        now = time.time_ns()
        src = self.src
        n = src.num_evts()
        s: dict[str, Any] = {
            "evt.source": "syscall",
            "falco.version": src.version,
            "falco.start_ts": src.start_ts_ns,
            "falco.duration_sec": (now - src.start_ts_ns) // 1_000_000_000,
            "falco.hostname": src.hostname,
            "falco.kernel_release": os.uname().release,
            "falco.host_num_cpus": os.cpu_count() or 0,
            "falco.host_boot_ts": _boot_ts_ns(),
            "falco.outputs_queue_num_drops": src.outputs_drops(),
            "falco.num_evts": n,
        }
        stats = dict(src.capture_stats()) if self._kernel else {}
        with self._lock:
            prev = self._prev
            self._prev = (now, n, stats.get("n_evts", 0), stats.get("n_drops", 0))
        secs = (now - prev[0]) / 1e9 if prev else 0.0
        s["falco.num_evts_prev"] = prev[1] if prev else 0
        s["falco.evts_rate_sec"] = round((n - prev[1]) / secs, 2) if prev and secs > 0 else 0.0
        if self._resource:
            cpu = time.process_time()
            wall = (now - src.start_ts_ns) / 1e9
            mem = _proc_status()
            div = 1024 if self._mb else 1
            unit = "mb" if self._mb else "kb"
            s["falco.cpu_usage_perc"] = round(100.0 * cpu / wall, 2) if wall > 0 else 0.0
            s[f"falco.memory_rss_{unit}"] = round(mem.get("VmRSS", 0) / div, 2)
            s[f"falco.memory_vsz_{unit}"] = round(mem.get("VmSize", 0) / div, 2)
        if self._kernel:
            s["scap.engine_name"] = src.engine_name
            for k, v in sorted(stats.items()):
                s[f"scap.{k}"] = v
            evts, drops = stats.get("n_evts", 0), stats.get("n_drops", 0)
            d_evts = evts - (prev[2] if prev else 0)
            d_drops = drops - (prev[3] if prev else 0)
            s["scap.n_evts_prev"] = prev[2] if prev else 0
            s["scap.n_drops_prev"] = prev[3] if prev else 0
            s["scap.n_drops_perc"] = round(100.0 * d_drops / d_evts, 2) if d_evts > 0 else 0.0
            s["scap.evts_rate_sec"] = round(d_evts / secs, 2) if secs > 0 else 0.0
            s["scap.evts_drop_rate_sec"] = round(d_drops / secs, 2) if secs > 0 else 0.0
        if self._rules:
            counts = src.rule_counts()
            s["falco.rules.matches_total"] = sum(counts.values())
            for name, c in counts.items():
                if c or self._empty:
                    s[f"falco.rules.{name}"] = c
        if not self._empty:
            s = {k: v for k, v in s.items() if v not in (0, 0.0, "") or k in (
                "falco.num_evts", "falco.outputs_queue_num_drops", "falco.rules.matches_total")}
        return s


def _label(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _metric_name(key: str) -> str:
    return "falcosecurity_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)


def prometheus_text(snap: Mapping[str, Any], rule_labels: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """Prometheus text exposition (format 0.0.4) of a snapshot. Numeric keys
    become gauges (``falcosecurity_<subsystem>_<name>``, counters of events and
    drops as ``_total`` counters); strings become ``_info`` series with the value as
    a label; per-rule counts become ``falcosecurity_falco_rules_matches_total``
    labelled by rule name (and the labels ``rule_labels`` gives for the rule)."""
    lines: list[str] = []

    def series(name: str, kind: str, value: Any, labels: Mapping[str, str] | None = None) -> None:
        if not any(l.startswith(f"# TYPE {name} ") for l in lines):
            lines.append(f"# HELP {name} falco-py metric, see the metrics section of falco.yaml")
            lines.append(f"# TYPE {name} {kind}")
        lab = ",".join(f'{k}="{_label(str(v))}"' for k, v in (labels or {}).items())
        lines.append(f"{name}{{{lab}}} {value}" if lab else f"{name} {value}")

    for key, value in snap.items():
        if key.startswith("falco.rules.") and key != "falco.rules.matches_total":
            rule = key[len("falco.rules."):]
            series("falcosecurity_falco_rules_matches_total", "counter", value,
                   {"rule_name": rule, **dict((rule_labels or {}).get(rule, {}))})
        elif isinstance(value, str):
            series(_metric_name(key) + "_info", "gauge", 1, {key.rsplit(".", 1)[1]: value})
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            name = _metric_name(key)
            counter = key.startswith("scap.n_") and not key.endswith(("_prev", "_perc")) \
                or key in ("falco.num_evts", "falco.outputs_queue_num_drops", "falco.rules.matches_total")
            if counter and not name.endswith("_total"):
                name += "_total"
            series(name, "counter" if counter else "gauge", value)
    return "\n".join(lines) + "\n"


Emit = Callable[[int, int, str, str, dict[str, Any]], None]


class MetricsWriter:
    """Every ``interval_ms`` (on its own thread): the snapshot as an internal
    alert (``output_rule``) and/or a JSON line appended to ``output_file``."""

    def __init__(self, metrics: Metrics, interval_ms: int, emit: Emit | None, output_file: str = "") -> None:
        self._metrics = metrics
        self._interval = interval_ms / 1000
        self._emit = emit
        self._file = output_file
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="falco-metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def write_once(self) -> None:
        snap = self._metrics.snapshot()
        ts = time.time_ns()
        if self._emit is not None:
            self._emit(ts, PRIORITY_INFORMATIONAL, OUTPUT, RULE, snap)
        if self._file:
            with open(self._file, "a", encoding="utf-8") as f:
                f.write(json.dumps({"sample": ts, "output_fields": snap}, separators=(",", ":")) + "\n")

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.write_once()
            except Exception as e:  # a broken metrics file must not end the daemon
                log.error("metrics: %s", e)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
