"""Alerts as Falco prints them: ``<time>: <Priority> <output>`` text lines and the
JSON object (keys sorted as nlohmann::json writes them).

Facts from falco's formats.cpp (0.63): the text line is JSON-escaped (control
characters) without the quotes; JSON ``time`` is UTC ISO 8601 with nanoseconds
and ``Z``; ``output`` is the full text line; ``output_fields`` holds the output's
fields plus the time field of the prefix (``evt.time`` or ``evt.time.iso8601``,
as the event time in ns) plus append_output extra fields.
"""

from __future__ import annotations

import json
import time
from typing import Any

from falco_engine.engine import Match


def time_text(ts: int, iso8601: bool) -> str:
    """``HH:MM:SS.nnnnnnnnn`` in local time (evt.time), or ISO 8601 UTC."""
    secs, ns = divmod(ts, 1_000_000_000)
    if iso8601:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{ns:09d}Z"
    return time.strftime("%H:%M:%S", time.localtime(secs)) + f".{ns:09d}"


def _line(match: Match, iso8601: bool) -> str:
    text = f"{time_text(match.time, iso8601)}: {match.priority_name} {match.output}"
    return json.dumps(text, ensure_ascii=False)[1:-1]


def format_alert_text(match: Match, iso8601: bool = False) -> str:
    """The text alert line (without newline)."""
    return _line(match, iso8601)


def alert_json(match: Match, hostname: str, *, iso8601: bool = False,
               include_output: bool = True, include_tags: bool = True,
               include_message: bool = False, include_output_fields: bool = True) -> dict[str, Any]:  # fmt: skip
    """The JSON alert object; the ``include_*`` flags are falco.yaml's
    json_include_{output,tags,message,output_fields}_property."""
    out: dict[str, Any] = {"hostname": hostname}
    if include_message:
        out["message"] = match.output
    if include_output:
        out["output"] = _line(match, iso8601)
    if include_output_fields:
        fields = dict(match.output_fields)
        fields["evt.time.iso8601" if iso8601 else "evt.time"] = match.time
        fields.update(match.extra_fields)
        out["output_fields"] = fields
    out["priority"] = match.priority_name
    out["rule"] = match.rule
    out["source"] = match.source
    if include_tags:
        out["tags"] = sorted(match.tags)
    out["time"] = time_text(match.time, True)
    return out
