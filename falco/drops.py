"""syscall_event_drops: acting on kernel drop counters as upstream Falco does.

Once per second of event time the capture counters are compared with the
previous check. If events were dropped and the dropped fraction of the second
(drops / events) exceeds ``threshold``, a drop is recorded and, if the token
bucket (``rate`` tokens per second, at most ``max_burst``) has a token, the
configured actions run: ``ignore`` does nothing, ``log`` logs the message,
``alert`` emits the "Falco internal: syscall event drop" alert (priority Debug,
source ``internal``, the per-reason deltas as output fields) and ``exit`` asks
falco to stop with an error. ``simulate_drops`` pretends one drop per second
with a zero threshold (for testing the actions)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

log = logging.getLogger("falco")

RULE = "Falco internal: syscall event drop"
ONE_SECOND_NS = 1_000_000_000
PRIORITY_DEBUG = 7
ACTIONS = ("ignore", "log", "alert", "exit")

#: Counter names of the drop alert's output fields, in upstream's order; each is
#: the delta of the capture statistic of the same name (0 when not counted here).
ALERT_FIELDS = (
    "n_evts", "n_drops", "n_drops_buffer_total", "n_drops_buffer_clone_fork_exit",
    "n_drops_buffer_execve_exit", "n_drops_buffer_connect_exit", "n_drops_buffer_open_exit",
    "n_drops_buffer_dir_file_exit", "n_drops_buffer_other_interest_exit", "n_drops_buffer_close_exit",
    "n_drops_buffer_proc_exit", "n_drops_scratch_map", "n_drops_page_faults", "n_drops_bug",
)


class TokenBucket:
    """``rate`` tokens per second up to ``max_tokens``; starts full."""

    def __init__(self, rate: float, max_tokens: float) -> None:
        self.rate = rate
        self.max_tokens = max_tokens
        self.tokens = max_tokens
        self.last: int | None = None

    def claim(self, now_ns: int) -> bool:
        if self.last is not None:
            self.tokens = min(self.max_tokens,
                              self.tokens + self.rate * max(0, now_ns - self.last) / ONE_SECOND_NS)
        self.last = now_ns
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


#: emit(ts_ns, priority, message, rule, output_fields): hands an internal alert to the outputs
Emit = Callable[[int, int, str, str, dict[str, Any]], None]


class DropManager:
    """Watches capture counters; ``check`` is cheap between the once-a-second checks."""

    def __init__(self, stats: Callable[[], Mapping[str, int]], emit: Emit, actions: Sequence[str] = ("log", "alert"),
                 threshold: float = 0.1, rate: float = 0.03333, max_burst: int = 1,
                 simulate_drops: bool = False, live: bool = True) -> None:
        unknown = [a for a in actions if a not in ACTIONS]
        if unknown:
            raise ValueError(f"syscall_event_drops.actions: unknown action(s) {unknown}")
        self._stats = stats
        self._emit = emit
        self._actions = list(actions)
        self._threshold = 0.0 if simulate_drops else threshold
        self._simulate = simulate_drops
        self._live = live
        self._bucket = TokenBucket(rate, max_burst)
        self._last = dict(stats())
        self._next_check = 0
        self.num_drop_events = 0  #: seconds with drops above the threshold
        self.num_actions = 0  #: times the actions ran

    @property
    def next_ts(self) -> int:
        """The first event time at which ``check`` does more than compare (0: the next
        event's): a caller may skip calling ``check`` for events before it."""
        return self._next_check + 1 if self._next_check else 0

    def check(self, ts_ns: int) -> bool:
        """Call with an event's timestamp (every event, or at least every event at or
        past ``next_ts``); False means an ``exit`` action fired."""
        if self._next_check == 0:
            self._next_check = ts_ns + ONE_SECOND_NS
            return True
        if ts_ns <= self._next_check:
            return True
        self._next_check = ts_ns + ONE_SECOND_NS
        now = dict(self._stats())
        delta = {k: v - self._last.get(k, 0) for k, v in now.items()}
        self._last = now
        if self._simulate:
            log.info("Simulating syscall event drop")
            delta["n_drops"] = delta.get("n_drops", 0) + 1
        drops = delta.get("n_drops", 0)
        if drops <= 0:
            return True
        evts = delta.get("n_evts", 0)
        ratio = drops / evts if evts > 0 else float("inf")
        if ratio <= self._threshold:
            return True
        self.num_drop_events += 1
        if not self._bucket.claim(ts_ns):
            log.debug("Syscall event drop but token bucket depleted, skipping actions")
            return True
        self.num_actions += 1
        return self._perform(ts_ns, delta)

    def _perform(self, ts_ns: int, delta: Mapping[str, int]) -> bool:
        msg = f"{RULE}. {delta.get('n_drops', 0)} system calls dropped in last second."
        keep_going = True
        for action in self._actions:
            if action == "log":
                log.debug("%s", msg)
            elif action == "alert":
                fields: dict[str, Any] = {k: str(delta.get(k, 0)) for k in ALERT_FIELDS}
                fields["n_drops_buffer_total"] = str(delta.get("n_drops_buffer_total",
                                                               delta.get("n_drops_buffer", 0)))
                fields["ebpf_enabled"] = "1" if self._live else "0"
                self._emit(ts_ns, PRIORITY_DEBUG, msg, RULE, fields)
            elif action == "exit":
                log.critical("%s", msg)
                log.critical("Exiting.")
                keep_going = False
        return keep_going

    def print_stats(self, out: Any = None) -> None:
        """The summary falco prints at exit."""
        out = out or sys.stderr
        out.write("Syscall event drop monitoring:\n"
                  f"   - event drop detected: {self.num_drop_events} occurrences\n"
                  f"   - num times actions taken: {self.num_actions}\n")
