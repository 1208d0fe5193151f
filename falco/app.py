"""The daemon: configuration → capture → inspector → rules engine → outputs.

Capture and rule evaluation run on a capture thread; the main thread only
waits and handles signals (Python runs handlers there), so a signal is acted
on even while no event arrives:

- SIGINT/SIGTERM: stop capture, deliver every queued alert, print the summary;
- SIGHUP: reload falco.yaml and the rules into a new engine that replaces the
  old one between two events — the inspector (thread/fd tables) is kept;
- SIGUSR1: outputs reopen their files (log rotation).

Replay (``engine.kind=replay``) runs the capture to its end and exits 0.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from falco_engine import Engine, Match, alert_json, format_alert_text
from libscap.errors import ScapError
from libscap.schema import PPME
from libsinsp.plugin.info import SYSCALL_SOURCE

from . import metrics as metrics_mod
from .configuration import Config, ConfigError, load
from .capture import Captures
from .drops import DropManager
from .interesting_sets import select_syscalls
from .plugins import Plugins, unknown_source_error
from .outputs import Message, OutputsQueue, build_outputs
from .outputs import OutputConfigError
from .outputs.internal import internal_message
from .rule_stats import RuleStats
from .privileges import drop_after_attach, read_caps
from .rules_setup import LoadedRules, RulesError, load_rules
from .versions import falco_version, versions_info
from .webserver import DEFAULT_PORT, WebServer, WebServerError

log = logging.getLogger("falco")

PPME_PLUGINEVENT_E = int(PPME.PLUGINEVENT_E)
#: buf_size_preset -> ring buffer bytes (upstream's table, 1 MiB .. 512 MiB)
BUF_SIZE_PRESETS = {i: (1 << 20) << (i - 1) for i in range(1, 11)}
#: the interpreter's thread switch interval while falco runs (see Daemon.run)
SWITCH_INTERVAL_S = 0.001


class FatalError(Exception):
    """Stops falco with ``Error: <message>`` and exit code 1."""


@dataclass
class RunOptions:
    """What the command line asks the daemon for."""

    config_file: str
    options: list[str]
    rules: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    dry_run: bool = False
    verbose: bool = False
    unbuffered: bool = False
    disable_sources: list[str] = field(default_factory=list)
    enable_sources: list[str] = field(default_factory=list)
    pidfile: str = ""


def hostname() -> str:
    return os.environ.get("FALCO_HOSTNAME") or socket.gethostname()


def interesting_syscalls(config: Config, engine: Engine) -> set[str]:
    """The syscalls the kernel captures: the rules' ones and the state-tracking
    base set, per ``base_syscalls`` (falco.interesting_sets), that exist on x86_64."""
    from libscap.schema import SYSCALLS_X86_64

    selected = select_syscalls(engine.interesting_syscalls(), config.get("base_syscalls.custom_set", []) or [],
                               repair=bool(config.get("base_syscalls.repair", False)),
                               all_syscalls=bool(config.get("base_syscalls.all", False)))
    return selected & {s.name for s in SYSCALLS_X86_64.values()}


class Alerts:
    """Turns rule matches and internal events into queued output messages."""

    def __init__(self, config: Config, queue: OutputsQueue) -> None:
        self.queue = queue
        self.stats = RuleStats()
        self.configure(config)

    def configure(self, config: Config) -> None:
        self.json = bool(config.get("json_output", False))
        self.iso = bool(config.get("time_format_iso_8601", False))
        self.host = hostname()
        self.include = dict(
            include_output=bool(config.get("json_include_output_property", True)),
            include_tags=bool(config.get("json_include_tags_property", True)),
            include_message=bool(config.get("json_include_message_property", False)),
            include_output_fields=bool(config.get("json_include_output_fields_property", True)))

    def rule_match(self, m: Match) -> None:
        self.stats.count(m.rule, m.priority)
        if self.json:
            text = json.dumps(alert_json(m, self.host, iso8601=self.iso, **self.include),
                              ensure_ascii=False, separators=(",", ":"), default=str)
        else:
            text = format_alert_text(m, self.iso)
        self.queue.push(Message(m.time, m.priority, m.rule, m.source, text, self.json, m.output_fields))

    def internal(self, ts: int, priority: int, msg: str, rule: str, fields: dict[str, Any]) -> None:
        self.queue.push(internal_message(ts, priority, msg, rule, fields, self.json, self.host))


class _Stop(threading.Event):
    """The stop request; ``set`` also wakes the capture loops (``Daemon.wake``)."""

    def __init__(self, wake: Callable[[], None]) -> None:
        super().__init__()
        self._wake = wake

    def set(self) -> None:
        super().set()
        self._wake()


class Daemon:
    """One run of falco over one capture source."""

    def __init__(self, opts: RunOptions, config: Config, rules: LoadedRules, plugins: Plugins,
                 sources: list[str]) -> None:
        """``plugins``: the run's plugins and per-source inspectors; ``sources``: the
        enabled event sources (live: one capture thread each)."""
        self.opts = opts
        self.plugins = plugins
        self.sources = sources
        self.config = config
        self.rules = rules
        self.engine = rules.engine
        #: one list per capture loop, non-empty when the loop must look at the daemon
        #: (stop, new engine): a local truth test per event, no call
        self._wakes: list[list[int]] = []
        self.stop_requested = _Stop(self.wake)
        self.exit_code = 0
        self.error: str | None = None
        self.num_evts = 0
        self._signals: list[int] = []
        self.inspector: Any = None
        self.live_engine: Any = None
        #: (inspector, source) per capture thread; source "" in replay (each event's own)
        self.captures: list[tuple[Any, str]] = []
        self._running = 0
        self._lock = threading.Lock()
        #: the ``capture:`` state of each capture thread (empty when capture is disabled)
        self.scap_captures: list[Captures] = []

    # -- capture source ----------------------------------------------------------------
    def _open(self) -> None:
        kind = self.config.get("engine.kind", "modern_ebpf")
        if kind == "replay":
            insp = self.inspector = self.plugins.inspectors[SYSCALL_SOURCE]
            path = self.config.get("engine.replay.capture_file", "")
            if not path:
                raise FatalError("engine.kind is replay but engine.replay.capture_file is empty")
            try:
                insp.open_file(path)
            except (OSError, ScapError) as e:
                raise FatalError(f"Could not open capture file {path}: {e}") from None
            self.plugins.start_replay()  # capture listening plugins told of the open
            self.captures = [(insp, "")]
            return
        if kind not in ("modern_ebpf", "nodriver"):
            raise FatalError(f"engine.kind '{kind}' is not supported by falco-py (modern_ebpf, nodriver, replay)")
        for src in self.sources:
            insp = self.plugins.inspectors[src]
            if src == SYSCALL_SOURCE and kind == "modern_ebpf":
                self._open_modern_ebpf(insp)
            else:
                log.info("Opening '%s' source with %s", src, "no driver" if src == SYSCALL_SOURCE
                         else f"plugin '{self.plugins.source_plugin(src).name}'")
                insp.open_events(self.plugins.live_events(src, self.stop_requested), convert=False)
            self.captures.append((insp, src))
        self.inspector = self.captures[0][0]

    def _open_modern_ebpf(self, insp: Any) -> None:
        preset = int(self.config.get("engine.modern_ebpf.buf_size_preset", 4))
        cpus = int(self.config.get("engine.modern_ebpf.cpus_for_each_buffer", 2))
        async_events = self.plugins.start_async(SYSCALL_SOURCE)  # plugins' async events, between batches
        try:
            from libscap.engine.modern_bpf import ModernBpfEngine  # noqa: F401 - fails early if unbuilt

            insp.open_live(async_events=async_events, buffer_bytes=BUF_SIZE_PRESETS.get(preset, 8 << 20),
                           cpus_for_each_buffer=max(cpus, 1))
        except Exception as e:
            raise FatalError(f"Unable to open the modern_ebpf engine: {e}") from None
        self.live_engine = insp.live_engine  # what sets the kernel syscall filter
        self._apply_syscalls()
        if os.geteuid() == 0 or read_caps()["CapEff"]:  # probe attached: keep only what is still needed
            w = self.config.get("webserver", {}) or {}
            drop_after_attach(int(w.get("listen_port", DEFAULT_PORT)) if w.get("enabled", False) else None)

    def _apply_syscalls(self) -> None:
        if self.live_engine is not None:
            names = interesting_syscalls(self.config, self.engine)
            self.live_engine.set_interesting_syscalls(names)
            log.info("%d syscalls in the kernel filter", len(names))

    def _capture_stats(self) -> dict[str, int]:
        if self.live_engine is None:
            return {"n_evts": self.num_evts, "n_drops": 0}
        cpus = self.live_engine.stats()
        return {"n_evts": sum(c.events for c in cpus), "n_drops": sum(c.drops for c in cpus),
                "n_drops_buffer": sum(c.drops_buffer_full for c in cpus)}

    def wake(self) -> None:
        """Make every capture loop look at the stop request and the engine at its next event."""
        for w in self._wakes:
            w.append(1)
        for insp, _src in self.captures:
            insp.return_at = 0  # an inspector skipping events returns the next one

    # -- the capture thread ------------------------------------------------------------------
    #: the capture loop publishes its event count (metrics) every POLL_NS of event time
    POLL_NS = 10_000_000

    def _capture(self, insp: Any, source: str, alerts: Alerts, drops: DropManager | None,
                 dumps: Captures | None) -> None:
        """One source's events (``source`` "": replay, each event's own source) through
        the rules and, with ``capture:`` enabled, ``dumps``; the run stops when every
        capture ended or one failed.

        Per event the loop does only what each event needs: count it, test its wake
        list and compare its time with the next deadline, resolve its source (replay
        only), evaluate the rules. The rest runs when woken (stop request, SIGHUP's new
        engine: ``Daemon.wake``) or at the deadline: the shared event count (metrics)
        every ``POLL_NS`` of event time, the drop check at the drop manager's next
        second (``DropManager.next_ts``) and the ``-M`` limit at its exact event, so
        that both act on the same event as a per-event check would.

        Unless every event must be seen (``capture:`` dumps, a replay of several
        sources), the inspector returns only the events of the codes the rules can
        match and the first one at the deadline (``Inspector.return_only``,
        ``return_at``); the others update state in C and are only counted there
        (``Inspector.skipped``), as upstream's loop pays nothing for them."""
        duration_ns = int(self.opts.duration_s * 1e9)
        poll_ns = self.POLL_NS
        stop = self.stop_requested
        wake: list[int] = []
        self._wakes.append(wake)
        engine = self.engine
        rule_match = alerts.rule_match
        sources = frozenset(self.plugins.sources)
        # replay: each event's own source, named by the plugin manager's listener; with no
        # plugin loaded there is none (falco.plugins) and every event is a syscall one
        # except plugin events, of a source that is not loaded
        per_event_source = not source and bool(self.plugins.configs)
        foreign = PPME_PLUGINEVENT_E if not source and not per_event_source else -1
        source = source or SYSCALL_SOURCE
        # event code -> the engine's matcher (one subscript per event): ``table`` for
        # ``source``, ``tables`` per source for a replay of several
        tables: dict[str, Mapping[int, Any]] = {}
        no_matches: list[Match] = []
        lock = self._lock
        first_ts = 0
        n = reported = 0  # events returned to this loop; the skipped ones: insp.skipped
        next_ts = 0  # the periodic work runs at the first event
        failed = False
        skip = dumps is None and not per_event_source
        try:
            table = engine.matcher_table(source)
            if skip:
                self._return_only(insp, engine, source, foreign)
                insp.return_at = next_ts
            for sevt in insp:
                n += 1
                evt = sevt.evt
                ts = evt[2]  # Event.ts
                if wake or ts >= next_ts:
                    wake.clear()
                    if stop.is_set():
                        n -= 1  # not processed: not counted
                        break
                    if self.engine is not engine:  # SIGHUP: the new rules from this event on
                        engine = self.engine
                        tables.clear()
                        table = engine.matcher_table(source)
                        if skip:
                            self._return_only(insp, engine, source, foreign)
                    seen = n + insp.skipped if skip else n
                    with lock:
                        self.num_evts += seen - reported
                    reported = seen
                    next_ts = ts + poll_ns
                    if duration_ns:
                        if not first_ts:
                            first_ts = ts
                        elif ts - first_ts >= duration_ns:
                            break
                        if first_ts:
                            next_ts = min(next_ts, first_ts + duration_ns)
                        else:  # a zero first time: the next event is the first again
                            wake.append(1)
                    if drops is not None:
                        if not drops.check(ts):
                            self.exit_code, self.error, failed = 1, "Drop manager internal error", True
                            break
                        next_ts = min(next_ts, drops.next_ts)
                    if skip:
                        insp.return_at = next_ts
                        if wake:  # woken while this block ran: the next event comes back
                            insp.return_at = 0
                if per_event_source:
                    src = sevt.source
                    if src not in sources:
                        self.exit_code, self.error, failed = 1, unknown_source_error(evt), True
                        break
                    t = tables.get(src)
                    if t is None:
                        t = tables[src] = engine.matcher_table(src)
                    fn = t[evt[5]]  # Event.type
                elif evt[5] == foreign:
                    self.exit_code, self.error, failed = 1, unknown_source_error(evt), True
                    break
                else:
                    fn = table[evt[5]]
                rules = fn(sevt) if fn is not None else None
                if rules:
                    matches = engine.matches(rules, sevt)
                    for m in matches:
                        rule_match(m)
                else:
                    matches = no_matches
                if dumps is not None:
                    dumps.process(sevt, matches)
        except Exception as e:  # a capture failure ends the run with a message
            log.exception("capture failed")
            self.exit_code, self.error, failed = 1, f"Runtime error: {e}. Exiting.", True
        finally:
            if dumps is not None:
                dumps.close()
            seen = n + insp.skipped if skip else n
            with lock:
                self.num_evts += seen - reported
                self._running -= 1
                if failed or not self._running:
                    stop.set()

    @staticmethod
    def _return_only(insp: Any, engine: Any, source: str, foreign: int) -> None:
        """Have ``insp`` return only the events the rules of ``source`` can match (and
        those of code ``foreign``, an error when met)."""
        codes = engine.interesting_event_types(source)
        insp.return_only(codes | {foreign} if foreign >= 0 else codes)

    # -- signals -------------------------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._signals.append(signum)

    def _install_signals(self) -> dict[int, Any]:
        old = {}
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
            old[s] = signal.signal(s, self._on_signal)
        return old

    def _handle_signals(self, alerts: Alerts) -> None:
        while self._signals:
            s = self._signals.pop(0)
            if s in (signal.SIGINT, signal.SIGTERM):
                log.info("%s received, exiting...", signal.Signals(s).name)
                self.stop_requested.set()
            elif s == signal.SIGHUP:
                log.info("SIGHUP received, reloading configuration and rules...")
                self._reload(alerts)
            elif s == signal.SIGUSR1:
                log.info("SIGUSR1 received, reopening outputs...")
                alerts.queue.reopen()

    def _reload(self, alerts: Alerts) -> None:
        try:
            config = load(self.config.loaded_files[0], self.opts.options)
            rules = load_rules(config, self.opts.rules, self.plugins)
        except (ConfigError, RulesError) as e:
            log.error("reload failed, keeping the running configuration and rules: %s", e)
            return
        self.config, self.rules = config, rules
        alerts.configure(config)
        self.engine = rules.engine
        self.wake()  # the capture threads take the new engine at their next event
        self._apply_syscalls()
        for dumps in self.scap_captures:
            dumps.set_rules(self.engine.rules)
        log.info("reloaded: %d rules files", len(rules.files))

    # -- main ------------------------------------------------------------------------------------
    def run(self) -> int:
        if self.opts.dry_run:
            log.info("Skipping event processing in dry-run")
            return 0
        try:
            outputs = build_outputs(self.config, self.opts.unbuffered)
        except OutputConfigError as e:
            raise FatalError(f"Error reading config file ({self.config.loaded_files[0]}): {e}") from None
        self._open()
        queue = OutputsQueue(outputs, int(self.config.get("outputs_queue.capacity", 0)),
                             int(self.config.get("output_timeout", 2000)))
        alerts = Alerts(self.config, queue)
        replay = self.config.get("engine.kind") == "replay"
        drops = None
        sd = self.config.get("syscall_event_drops", {}) or {}
        try:
            drops = DropManager(self._capture_stats, alerts.internal, actions=sd.get("actions", ["log", "alert"]),
                                threshold=float(sd.get("threshold", 0.1)), rate=float(sd.get("rate", 0.03333)),
                                max_burst=int(sd.get("max_burst", 1)),
                                simulate_drops=bool(sd.get("simulate_drops", False)), live=not replay)
        except ValueError as e:
            raise FatalError(str(e)) from None
        metrics = self._metrics(alerts)
        writer = self._metrics_writer(metrics, alerts)
        web = self._webserver(metrics, replay)
        old = self._install_signals()
        # The output, metrics and web threads wait for the interpreter while the capture
        # thread runs Python: a 1 ms switch interval (5 ms by default) lets a writer
        # drain its queue before an alert burst fills it (27k alerts/s overflowed
        # 1,000-alert queues at 5 ms)
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        start = time.monotonic()
        self._running = len(self.captures)
        if self.config.get("capture.enabled", False):
            self.scap_captures = [Captures(self.config, insp, self.engine.rules) for insp, _src in self.captures]
        dumps = self.scap_captures or [None] * len(self.captures)
        caps = [threading.Thread(target=self._capture, name=f"falco-capture-{src or 'replay'}", daemon=True,
                                 args=(insp, src, alerts, drops if src in ("", SYSCALL_SOURCE) else None, dump))
                for (insp, src), dump in zip(self.captures, dumps)]
        for cap in caps:
            cap.start()
        try:
            deadline = start + self.opts.duration_s if self.opts.duration_s and not replay else None
            while not self.stop_requested.wait(0.1):
                self._handle_signals(alerts)
                if deadline and time.monotonic() >= deadline:
                    self.stop_requested.set()
            self._handle_signals(alerts)
            for insp, _src in self.captures:
                insp.interrupt()  # an idle live source returns no event to look at the stop request
            for cap in caps:
                cap.join(2.0)  # a plugin source may block in its next_batch: do not wait for it
        finally:
            sys.setswitchinterval(switch_interval)
            for s, h in old.items():
                signal.signal(s, h)
            if writer is not None:
                writer.stop()
            if web is not None:
                web.stop()
            queue.close()
            final_stats = self._capture_stats()  # the live engine's counters go with it
            for cap, (insp, _src) in zip(caps, self.captures):
                if not cap.is_alive():
                    insp.close()
            if not any(cap.is_alive() for cap in caps):
                self.plugins.close()
        elapsed = time.monotonic() - start
        if self.opts.verbose:
            if self.live_engine is not None:
                sys.stderr.write(f"Driver Events:{final_stats['n_evts']}\nDriver Drops:{final_stats['n_drops']}\n")
            rate = self.num_evts / elapsed if elapsed > 0 else 0.0
            sys.stderr.write(f"Elapsed time: {elapsed:.3f}, Captured Events: {self.num_evts}, {rate:.2f} eps\n")
        if drops is not None:
            drops.print_stats()
        if queue.drops:
            log.error("Outputs queue dropped %d alerts", queue.drops)
        sys.stdout.write(alerts.stats.format(r.name for r in self.engine.rules))
        sys.stdout.flush()
        if self.error:
            raise FatalError(self.error)
        return self.exit_code

    def _metrics(self, alerts: Alerts) -> metrics_mod.Metrics:
        m = self.config.get("metrics", {}) or {}
        src = metrics_mod.Sources(
            version=falco_version(), engine_name="modern_ebpf" if self.live_engine else "replay",
            num_evts=lambda: self.num_evts, capture_stats=self._capture_stats,
            rule_counts=lambda: dict(alerts.stats.by_rule), outputs_drops=lambda: alerts.queue.drops,
            hostname=hostname())
        return metrics_mod.Metrics(
            src, resource=bool(m.get("resource_utilization_enabled", True)),
            kernel=bool(m.get("kernel_event_counters_enabled", True)),
            rules=bool(m.get("rules_counters_enabled", True)),
            convert_memory_to_mb=bool(m.get("convert_memory_to_mb", True)),
            include_empty_values=bool(m.get("include_empty_values", False)))

    def _metrics_writer(self, metrics: metrics_mod.Metrics, alerts: Alerts) -> metrics_mod.MetricsWriter | None:
        if not self.config.get("metrics.enabled", False):
            return None
        try:
            interval = metrics_mod.parse_interval(self.config.get("metrics.interval", "1h"))
        except ValueError as e:
            raise FatalError(str(e)) from None
        emit: Callable[..., None] | None = alerts.internal if self.config.get("metrics.output_rule", True) else None
        writer = metrics_mod.MetricsWriter(metrics, interval, emit, self.config.get("metrics.output_file", ""))
        writer.start()
        return writer

    def _webserver(self, metrics: metrics_mod.Metrics, replay: bool) -> WebServer | None:
        w = self.config.get("webserver", {}) or {}
        if replay or not w.get("enabled", False):
            return None
        prom = None
        if w.get("prometheus_metrics_enabled", False) and self.config.get("metrics.enabled", False):
            prom = lambda: metrics_mod.prometheus_text(metrics.snapshot())  # noqa: E731
        try:
            web = WebServer(versions_info(), address=w.get("listen_address", "127.0.0.1"),
                            port=int(w.get("listen_port", DEFAULT_PORT)), healthz=w.get("k8s_healthz_endpoint", "/healthz"),
                            metrics=prom, ssl_certificate=w.get("ssl_certificate") if w.get("ssl_enabled") else None)
        except WebServerError as e:
            raise FatalError(str(e)) from None
        web.start()
        log.info("Starting health webserver with threadiness 1, listening on %s:%d",
                 w.get("listen_address", "127.0.0.1"), web.port)
        return web
