"""evt.pluginname, evt.plugininfo and evt.asynctype: the generic event fields about
plugins and async events (upstream's sinsp_filter_check_gen_event, class ``evt``
"All event types": usable with every event source).

* ``evt.pluginname``: for a plugin event (PPME_PLUGINEVENT_E), the name of the loaded
  plugin whose id it carries; unset for other events and for ids of no loaded plugin.
* ``evt.plugininfo``: for such an event, the plugin's ``plugin_event_to_string`` text.
* ``evt.asynctype``: for meta events (async, container, user/group added...), the
  async event's name parameter (PPME_ASYNCEVENT_E) or else the event's name; unset for
  other events.

The plugins are those of the PluginManager attached to the event's Inspector
(``PluginManager.attach`` sets ``inspector.plugin_manager``).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from libscap.schema import EC, EVENTS, PPME

from libsinsp.fields.registry import FieldClass, simple, spec

if TYPE_CHECKING:
    from libsinsp.event import SinspEvent

_PLUGINEVENT = PPME.PLUGINEVENT_E
_ASYNCEVENT = PPME.ASYNCEVENT_E
_U32 = struct.Struct("<I")
_META_NAMES = {i: e.name for i, e in enumerate(EVENTS) if e.category & EC.METAEVENT}


def _plugin(sevt: "SinspEvent") -> Any:
    evt = sevt.evt
    if evt.type != _PLUGINEVENT or evt.nparams < 1:
        return None
    manager = getattr(sevt.inspector, "plugin_manager", None)
    if manager is None:
        return None
    return manager.plugin_by_id(_U32.unpack_from(evt.buf, evt.off + 26 + 4 * evt.nparams)[0])


def _plugin_name(sevt: "SinspEvent") -> str | None:
    p = _plugin(sevt)
    return p.name if p is not None else None


def _plugin_info(sevt: "SinspEvent") -> str | None:
    p = _plugin(sevt)
    return p.event_to_string(sevt.evt, sevt.num) if p is not None else None


def _async_type(sevt: "SinspEvent") -> str | None:
    etype = sevt.evt.type
    name = _META_NAMES.get(etype)
    if name is None or etype != _ASYNCEVENT:
        return name
    return sevt.evt.raw_param(1).split(b"\0", 1)[0].decode("utf-8", "replace")


def _C(name: str, desc: str, fn: Any):  # noqa: N802
    return spec("evt", name, "CHARBUF", desc, simple(fn))


GEN_EVT = FieldClass("evt", "All event types: fields usable with the events of every source.", (
    _C("evt.pluginname", "for an event of a plugin-defined event source, the name of the (loaded) plugin "
       "that generated it", _plugin_name),
    _C("evt.plugininfo", "for an event of a plugin-defined event source, a summary of the event as the "
       "(loaded) plugin formats it", _plugin_info),
    _C("evt.asynctype", "for asynchronous (meta) events, their type: an async event's name "
       "(e.g. 'container'), else the event's name", _async_type),
))  # fmt: skip

CLASSES = (GEN_EVT,)
