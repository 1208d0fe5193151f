"""Async events: plugins push PPME_ASYNCEVENT_E events from their own threads.

``CAsync`` installs the framework's handler with plugin_set_async_event_handler.
The handler (a cffi callback, run in the plugin's thread with the GIL taken)
checks the event (type 402, a name the plugin declared in get_async_events),
copies it, stamps the plugin id of the source it is injected into and the
time if the plugin left them unset, and queues it; the stream consumer drains
the queue between events (``drain``). Errors go back to the plugin through the
``err`` buffer, as the API specifies.
"""

from __future__ import annotations

import queue
from typing import TYPE_CHECKING, Any

from libscap.event import Event
from libsinsp.plugin.cdefs import ffi
from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.source import PPME_ASYNCEVENT_E, copy_event

if TYPE_CHECKING:
    from libsinsp.plugin.loader import CPlugin

_ERRLEN = 1024


def async_event_name(evt: Event) -> str:
    """The name parameter of an async event."""
    return evt.raw_param(1).rstrip(b"\0").decode("utf-8", "surrogateescape")


@ffi.callback("ss_plugin_rc(ss_plugin_owner_t*, const ss_plugin_event*, char*)")
def _handler(o: Any, evt: Any, err: Any) -> int:
    owner = ffi.from_handle(o)
    sink: CAsync | None = getattr(owner, "async_sink", None)
    try:
        if sink is None:
            raise PluginError(owner.plugin_name, "no async event handler is installed")
        sink.push(evt)
        return 0
    except Exception as exc:  # noqa: BLE001 - never unwind through the plugin's thread
        if err != ffi.NULL:
            msg = str(exc).encode()[: _ERRLEN - 1]
            ffi.memmove(err, msg + b"\0", len(msg) + 1)
        return 1


class CAsync:
    """The async event stream of one C plugin while a capture runs."""

    def __init__(self, plugin: "CPlugin", source_id: int = 0) -> None:
        self.plugin = plugin
        self.source_id = source_id  # plugin id of the open source (0: syscall)
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.rejected = 0

    def push(self, ptr: Any) -> None:
        p = self.plugin
        evt = copy_event(p.name, ptr, 0, self.source_id, False)
        if evt.type != PPME_ASYNCEVENT_E or evt.nparams < 3:
            self.rejected += 1
            raise PluginError(p.name, f"async events must be of type {PPME_ASYNCEVENT_E} with 3 parameters")
        name = async_event_name(evt)
        if name not in p.info.async_events:
            self.rejected += 1
            raise PluginError(p.name, f"async event {name!r} is not one of those plugin_get_async_events lists")
        self.events.put(evt)

    def start(self) -> None:
        """Install the handler: the plugin may push events from now on."""
        p = self.plugin
        p.owner.async_sink = self
        if p.lib.plugin_set_async_event_handler(p.state, p.owner.handle, _handler) != 0:
            raise PluginError(p.name, f"plugin_set_async_event_handler failed: {p.last_error()}")

    def stop(self) -> None:
        """Set a NULL handler: the plugin stops (and joins) its producers."""
        p = self.plugin
        if p.lib.plugin_set_async_event_handler(p.state, p.owner.handle, ffi.NULL) != 0:
            raise PluginError(p.name, f"plugin_set_async_event_handler(NULL) failed: {p.last_error()}")
        p.owner.async_sink = None

    def drain(self) -> list[Event]:
        """The events pushed since the last drain, in arrival order."""
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out
