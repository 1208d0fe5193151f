"""Event sourcing: plugin_open / plugin_next_batch / plugin_close as libscap Events.

Every event a source plugin returns is copied out of the plugin's memory into
a libscap ``Event`` (plugins may reuse their buffers at the next call), so it
can be kept, written with ``libscap.savefile.CaptureWriter`` and replayed.
As upstream does, a plugin with its own event source may only return plugin
events (type 322); a zero plugin id in them is replaced with the plugin's id,
and a timestamp of (uint64)-1 with the current time.

``next_batch`` tells the three outcomes apart: a list of events (success), an
empty list (SS_PLUGIN_TIMEOUT: nothing now, ask again), None
(SS_PLUGIN_EOF: the source is exhausted); SS_PLUGIN_FAILURE raises
PluginError with the plugin's last error.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from libscap.event import HEADER, Event
from libscap.errors import ScapError
from libsinsp.plugin.cdefs import ffi
from libsinsp.plugin.errors import PluginError

if TYPE_CHECKING:
    from libsinsp.plugin.loader import CPlugin

PPME_PLUGINEVENT_E = 322
PPME_ASYNCEVENT_E = 402
RC_SUCCESS, RC_FAILURE, RC_TIMEOUT, RC_EOF = 0, 1, -1, 2
NO_VALUE = (1 << 64) - 1
_PLUGIN_EVENT_HEAD = struct.Struct("<QQIHIIII")  # header + two u32 lengths + plugin id


def plugin_event(plugin_id: int, payload: bytes, ts: int, tid: int = NO_VALUE, num: int = 0) -> Event:
    """A PPME_PLUGINEVENT_E event carrying ``payload`` for plugin ``plugin_id``."""
    length = _PLUGIN_EVENT_HEAD.size + len(payload)
    raw = _PLUGIN_EVENT_HEAD.pack(ts, tid, length, PPME_PLUGINEVENT_E, 2, 4, len(payload), plugin_id) + payload
    return Event(raw, 0, ts, tid, length, PPME_PLUGINEVENT_E, 2, -1, num, 0)


def plugin_id_of(evt: Event) -> int:
    """The plugin id of a plugin (322) or async (402) event."""
    return struct.unpack_from("<I", evt.buf, evt.off + 26 + 4 * evt.nparams)[0]


def event_payload(evt: Event) -> bytes:
    """The data of a plugin event (its second parameter)."""
    return evt.raw_param(1)


def copy_event(plugin: str, ptr: Any, num: int, plugin_id: int, only_plugin_events: bool) -> Event:
    """A libscap Event from the bytes at ``ptr`` (an ss_plugin_event*), fixed up as upstream."""
    ts, tid, length, etype, nparams = HEADER.unpack(ffi.buffer(ptr, HEADER.size))
    if length < HEADER.size:
        raise PluginError(plugin, f"event of {length} bytes is shorter than its header")
    raw = ffi.buffer(ptr, length)[:]
    if etype in (PPME_PLUGINEVENT_E, PPME_ASYNCEVENT_E) and nparams >= 1:
        pid_off = HEADER.size + 4 * nparams
        if length < pid_off + 4:
            raise PluginError(plugin, f"plugin event of {length} bytes has no plugin id")
        if struct.unpack_from("<I", raw, pid_off)[0] == 0 and plugin_id:
            raw = raw[:pid_off] + struct.pack("<I", plugin_id) + raw[pid_off + 4:]
    elif only_plugin_events:
        raise PluginError(plugin, f"returned an event of type {etype}; a plugin with its own event source "
                                  f"may only return plugin events ({PPME_PLUGINEVENT_E})")
    if ts == NO_VALUE:
        ts = time.time_ns()
        raw = struct.pack("<Q", ts) + raw[8:]
    evt = Event(raw, 0, ts, tid, length, etype, nparams, -1, num, 0)
    try:
        evt.validate()
    except ScapError as e:  # the plugin's bug: reported as the plugin's error
        raise PluginError(plugin, f"returned a malformed event: {e}") from None
    return evt


class CSourceInstance:
    """An open capture of a C source plugin (``plugin_open``'s instance)."""

    def __init__(self, plugin: "CPlugin", params: str = "") -> None:
        self.plugin = plugin
        self._nevts = ffi.new("uint32_t*")
        self._evts = ffi.new("ss_plugin_event***")
        rc = ffi.new("ss_plugin_rc*", RC_FAILURE)
        self.handle = plugin.lib.plugin_open(plugin.state, params.encode(), rc)
        if rc[0] != RC_SUCCESS:
            raise PluginError(plugin.name, f"could not open with params {params!r}: {plugin.last_error()}")
        self._num = 0

    def next_batch(self) -> list[Event] | None:
        """Events of the next batch; [] on timeout; None at end of stream."""
        p = self.plugin
        rc = p.lib.plugin_next_batch(p.state, self.handle, self._nevts, self._evts)
        if rc == RC_FAILURE or rc not in (RC_SUCCESS, RC_TIMEOUT, RC_EOF):
            raise PluginError(p.name, f"plugin_next_batch failed (rc {rc}): {p.last_error()}")
        n = self._nevts[0] if rc != RC_TIMEOUT else 0
        evts = self._evts[0]
        out = []
        pid, strict, name = p.info.id, bool(p.info.event_source), p.name
        for i in range(n):
            self._num += 1
            out.append(copy_event(name, evts[i], self._num, pid, strict))
        if rc == RC_EOF and not out:
            return None
        return out

    def progress(self) -> tuple[float, str]:
        """(percent 0..100, the plugin's text) when the plugin reports progress, else (0, "")."""
        fn = self.plugin.sym("get_progress")
        if fn is None:
            return 0.0, ""
        pct = ffi.new("uint32_t*")
        text = fn(self.plugin.state, self.handle, pct)
        return pct[0] / 100, ffi.string(text).decode() if text != ffi.NULL else ""

    def close(self) -> None:
        if self.handle is not None:
            self.plugin.lib.plugin_close(self.plugin.state, self.handle)
            self.handle = None


def iterate(instance: Any, poll_interval: float = 0.01) -> Iterator[Event]:
    """Every event of an open source until EOF, sleeping ``poll_interval`` on a timeout."""
    while True:
        batch = instance.next_batch()
        if batch is None:
            return
        if not batch:
            time.sleep(poll_interval)
        yield from batch


def list_open_params(plugin: "CPlugin") -> list[dict]:
    """The plugin's suggested open parameters ([] when it lists none)."""
    fn = plugin.sym("list_open_params")
    if fn is None:
        return []
    rc = ffi.new("ss_plugin_rc*", RC_FAILURE)
    text = fn(plugin.state, rc)
    if rc[0] != RC_SUCCESS:
        raise PluginError(plugin.name, f"plugin_list_open_params failed: {plugin.last_error()}")
    try:
        params = json.loads(ffi.string(text).decode()) if text != ffi.NULL else []
    except ValueError:
        params = None
    if not isinstance(params, list) or not all(isinstance(p, dict) and "value" in p for p in params):
        raise PluginError(plugin.name, "plugin_list_open_params did not return a JSON array of {value, desc}")
    return params


def event_to_string(plugin: "CPlugin", evt: Event, num: int = 0, source: str = "") -> str:
    """The plugin's text for one of its events ("" when it has no event_to_string)."""
    fn = plugin.sym("event_to_string")
    if fn is None:
        return ""
    inp = ffi.new("ss_plugin_event_input*")
    inp.evt = plugin.owner.event_pointer(evt)
    inp.evtnum = num
    inp.evtsrc = plugin.owner.source_cstr(source or plugin.info.event_source)
    text = fn(plugin.state, inp)
    return ffi.string(text).decode("utf-8", "replace") if text != ffi.NULL else ""
