"""Alerts falco raises itself (event drops, metrics snapshots), formatted as
upstream's falco_outputs::handle_msg does: source ``internal``; as text
"HH:MM:SS.nnnnnnnnn: Priority msg (k="v" ...)" in local time, or as a compact
JSON object; output fields in key order (upstream's JSON objects are sorted)."""

from __future__ import annotations

import json
import time
from typing import Any

from .base import Message

SOURCE = "internal"
PRIORITY_NAMES = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug")


def iso8601(ts_ns: int) -> str:
    """UTC time with nanoseconds, as Falco's JSON ``time``."""
    sec, ns = divmod(ts_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{ns:09d}Z"


def clock_time(ts_ns: int) -> str:
    """Local time of day with nanoseconds (libs' ts_to_string without date)."""
    sec, ns = divmod(ts_ns, 1_000_000_000)
    return time.strftime("%H:%M:%S", time.localtime(sec)) + f".{ns:09d}"


def internal_message(ts_ns: int, priority: int, msg: str, rule: str, fields: dict[str, Any],
                     json_output: bool, hostname: str) -> Message:
    """A falco-internal alert ready for the outputs queue."""
    ordered = dict(sorted(fields.items()))
    if json_output:
        text = json.dumps({"hostname": hostname, "output": msg, "output_fields": ordered,
                           "priority": PRIORITY_NAMES[priority], "rule": rule, "source": SOURCE,
                           "time": iso8601(ts_ns)}, separators=(",", ":"), ensure_ascii=False)
    else:
        pairs = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in ordered.items())
        text = f"{clock_time(ts_ns)}: {PRIORITY_NAMES[priority]} {msg} ({pairs})"
    return Message(ts=ts_ns, priority=priority, rule=rule, source=SOURCE, text=text,
                   json=json_output, fields=ordered)
