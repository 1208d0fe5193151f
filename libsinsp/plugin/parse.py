"""Event parsing: a C plugin's plugin_parse_event called for the events it wants.

Upstream's rules decide which events a parser sees: the types it lists in
get_parse_event_types (none listed: every type if it accepts the "syscall"
source, else only plugin events), from the sources it is compatible with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from libsinsp.plugin.cdefs import ffi
from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.info import SYSCALL_SOURCE
from libsinsp.plugin.source import PPME_PLUGINEVENT_E

if TYPE_CHECKING:
    from libsinsp.plugin.loader import CPlugin


def event_codes(plugin: "CPlugin", symbol: str, sources: frozenset[str]) -> frozenset[int] | None:
    """Event types a plugin asks for through ``symbol``; None means every type."""
    fn = plugin.sym(symbol)
    codes: frozenset[int] = frozenset()
    if fn is not None:
        n = ffi.new("uint32_t*")
        arr = fn(n, plugin.state)
        if arr != ffi.NULL:
            codes = frozenset(arr[i] for i in range(n[0]))
    if codes:
        return codes
    if not sources or SYSCALL_SOURCE in sources:
        return None
    return frozenset({PPME_PLUGINEVENT_E})


class CParser:
    """Feeds events to one C plugin's plugin_parse_event."""

    def __init__(self, plugin: "CPlugin") -> None:
        self.plugin = plugin
        self.sources = plugin.info.parse_sources
        self.codes = event_codes(plugin, "get_parse_event_types", self.sources)
        self._input = ffi.new("ss_plugin_event_parse_input*")
        plugin.owner.fill_parse_input(self._input)
        self._evt = ffi.new("ss_plugin_event_input*")
        self._call = plugin.lib.plugin_parse_event

    def wants(self, etype: int, source: str) -> bool:
        return (not self.sources or source in self.sources) and (self.codes is None or etype in self.codes)

    def parse(self, evt: Any, num: int, source: str) -> None:
        """Hand one libscap event to the plugin (PluginError if it reports failure)."""
        if not self.wants(evt.type, source):
            return
        p = self.plugin
        self._evt.evt = p.owner.event_pointer(evt)
        self._evt.evtnum = num
        self._evt.evtsrc = p.owner.source_cstr(source)
        if self._call(p.state, self._evt, self._input) != 0:
            raise PluginError(p.name, f"plugin_parse_event failed on event {num}: {p.last_error()}")
