"""Event parsers: one function per event type that changes state, in one dict.

``PARSERS[event_type](inspector, sinsp_event)`` updates the inspector's tables
from one (converted, exit-side) event; event types that change no state have
no entry, so the inspector's per-event cost for them is one dict lookup. Each
module covers one family and follows upstream's libsinsp/parsers.cpp.
"""

from __future__ import annotations

from libsinsp.parsers import clone, execve, fdops, files, process, procexit, sockets
from libsinsp.parsers._common import Parser, concatenate_paths

PARSERS: dict[int, Parser] = {}
for _module in (clone, execve, procexit, files, sockets, fdops, process):
    PARSERS.update(_module.PARSERS)

__all__ = ["PARSERS", "Parser", "concatenate_paths"]
