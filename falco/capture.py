"""``capture:`` — .scap files written around alerts, as upstream's process_events.

When an event matches rules and capture is enabled, a capture starts at that
event (``mode: all_rules``: any match; ``mode: rules``: a match of a rule with
``capture: true``) unless one is already running. Every match, while capture is
enabled, moves the deadline to at least its event time plus the rule's
``capture_duration`` (ms), or ``default_duration`` (ms) when the rule has none.
Each event from the start on is written; the capture closes after the first
event at or past the deadline. The file, named
``<path_prefix>_<event ts, 20 digits>_<event number, 20 digits>.scap``, begins
with the inspector's state at the start (libsinsp.dumper.Dumper: gzip, mode 0600).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from falco_engine import Match
from libsinsp.dumper import Dumper

from .configuration import Config

log = logging.getLogger("falco")

MODES = ("rules", "all_rules")


def capture_path(prefix: str, ts: int, num: int) -> str:
    return f"{prefix}_{ts:020d}_{num:020d}.scap"


class Captures:
    """The capture state of one event stream (one inspector)."""

    def __init__(self, config: Config, inspector: Any, rules: Iterable[Any]) -> None:
        mode = str(config.get("capture.mode", "rules"))
        if mode not in MODES:
            raise ValueError(f"capture.mode '{mode}' is not a valid mode.")
        self.all_rules = mode == "all_rules"
        self.prefix = str(config.get("capture.path_prefix", "/tmp/falco"))
        self.default_ns = int(config.get("capture.default_duration", 5000)) * 1_000_000
        self.inspector = inspector
        if config.get("capture.max_file_size_mb", 0):
            log.warning("capture.max_file_size_mb is not supported by falco-py: captures end at their deadline only")
        self.files: list[str] = []  #: every capture file written, in order
        self._dumper: Dumper | None = None
        self._deadline = 0
        self.set_rules(rules)

    def set_rules(self, rules: Iterable[Any]) -> None:
        """Rule name -> (capture, capture_duration ns), from the engine's rules (SIGHUP too)."""
        self._rules = {r.name: (bool(r.capture), int(r.capture_duration) * 1_000_000) for r in rules}

    def process(self, sevt: Any, matches: list[Match]) -> None:
        """Call for every event, with the rules it matched (possibly none)."""
        if matches:
            ts = sevt.evt.ts
            start = self.all_rules
            for m in matches:
                capture, duration = self._rules.get(m.rule, (False, 0))
                start = start or capture
                self._deadline = max(self._deadline, ts + (duration or self.default_ns))
            if start and self._dumper is None:
                path = capture_path(self.prefix, ts, sevt.num)
                try:
                    self._dumper = Dumper(self.inspector, path)
                except OSError as e:
                    log.error("capture: cannot create %s: %s", path, e.strerror or e)
                    return
                self.files.append(path)
                log.info("capture: started %s", path)
        if self._dumper is not None:
            self._dumper.dump(sevt.evt)
            if sevt.evt.ts >= self._deadline:
                self.close()

    def close(self) -> None:
        """End the running capture, if any (also at exit)."""
        if self._dumper is not None:
            dumper, self._dumper = self._dumper, None
            self._deadline = 0
            dumper.close()
            log.info("capture: %s written (%d events)", dumper.path, dumper.events_written)
