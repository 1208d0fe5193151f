"""Capture listening: plugin_capture_open / plugin_capture_close, and the routines
plugins subscribe through the input's ``routine`` vtable.

As upstream's sinsp, the framework tells every plugin with this capability when a
capture opens (live or replay) and when it closes; the input carries the owner,
the table reader/writer vtables and the routine vtable. A routine
(``ss_plugin_routine_fn_t``) is called again and again, as upstream's thread pool
re-queues it, until it returns false or is unsubscribed; here each routine runs
in its own Python thread (the cffi call releases the GIL while the plugin runs).
``subscribe`` returns an opaque nonzero id; ``unsubscribe`` stops a routine after
its current call (SS_PLUGIN_FAILURE for an unknown id). Routines still running
when the plugin is destroyed are stopped and joined first.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import TYPE_CHECKING, Any

from libsinsp.plugin import owner as _owner
from libsinsp.plugin.cdefs import ffi
from libsinsp.plugin.errors import PluginError

if TYPE_CHECKING:
    from libsinsp.plugin.loader import CPlugin

_ids = itertools.count(1)


class Routines:
    """The routines one C plugin subscribed (its owner's ``routines``)."""

    def __init__(self, plugin: "CPlugin") -> None:
        self.plugin = plugin
        self._running: dict[int, threading.Event] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Any, state: Any) -> int:
        rid = next(_ids)
        stop = threading.Event()
        t = threading.Thread(target=self._run, args=(rid, fn, state, stop), daemon=True,
                             name=f"plugin-routine-{self.plugin.name}-{rid}")
        with self._lock:
            self._running[rid] = stop
            self._threads.append(t)
        t.start()
        return rid

    def _run(self, rid: int, fn: Any, state: Any, stop: threading.Event) -> None:
        pstate = self.plugin.state
        try:
            while not stop.is_set() and fn(pstate, state):
                time.sleep(0)  # let other Python threads in between calls
        finally:
            with self._lock:
                self._running.pop(rid, None)

    def unsubscribe(self, rid: int) -> bool:
        with self._lock:
            stop = self._running.pop(rid, None)
        if stop is None:
            return False
        stop.set()
        return True

    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def stop_all(self, timeout: float = 5.0) -> None:
        """Stop every routine and join their threads (not from a routine itself)."""
        with self._lock:
            stops, threads = list(self._running.values()), list(self._threads)
            self._running.clear()
            self._threads.clear()
        for s in stops:
            s.set()
        me = threading.current_thread()
        for t in threads:
            if t is not me:
                t.join(timeout)


def _routines_of(o: Any) -> Routines | None:
    try:
        return ffi.from_handle(o).routines
    except Exception:  # noqa: BLE001 - not one of our owners
        return None


@ffi.callback("ss_plugin_routine_t*(ss_plugin_owner_t*, ss_plugin_routine_fn_t, ss_plugin_routine_state_t*)")
def _subscribe(o: Any, fn: Any, state: Any) -> Any:
    try:
        routines = _routines_of(o)
        if routines is None or fn == ffi.NULL:
            return ffi.NULL
        return ffi.cast("ss_plugin_routine_t*", routines.subscribe(fn, state))
    except Exception:  # noqa: BLE001 - nothing may unwind through C
        return ffi.NULL


@ffi.callback("ss_plugin_rc(ss_plugin_owner_t*, ss_plugin_routine_t*)")
def _unsubscribe(o: Any, r: Any) -> int:
    try:
        routines = _routines_of(o)
        ok = routines is not None and routines.unsubscribe(int(ffi.cast("uintptr_t", r)))
        return 0 if ok else 1
    except Exception:  # noqa: BLE001
        return 1


_VTABLE = ffi.new("ss_plugin_routine_vtable*")
_VTABLE.subscribe = _subscribe
_VTABLE.unsubscribe = _unsubscribe


class CaptureListener:
    """Calls one C plugin's capture_open/capture_close with the framework's input."""

    def __init__(self, plugin: "CPlugin") -> None:
        self.plugin = plugin
        self.routines = plugin.owner.routines = Routines(plugin)
        inp = self._input = ffi.new("ss_plugin_capture_listen_input*")
        inp.owner = plugin.owner.handle
        inp.routine = _VTABLE
        inp.table_reader_ext = _owner._READER_EXT
        inp.table_writer_ext = _owner._WRITER_EXT
        inp.get_owner_last_error = _owner.get_owner_last_error
        self.opened = False

    def open(self) -> None:
        p = self.plugin
        if p.lib.plugin_capture_open(p.state, self._input) != 0:
            raise PluginError(p.name, f"capture_open error: {p.last_error()}")
        self.opened = True

    def close(self) -> None:
        if not self.opened:
            return
        self.opened = False
        p = self.plugin
        if p.lib.plugin_capture_close(p.state, self._input) != 0:
            raise PluginError(p.name, f"capture_close error: {p.last_error()}")
