"""Which parameter of an event is the fd it acts on (upstream's per-event fd location).

Computed once from the schema: for every event type flagged EF_USES_FD, the
parameter called "fd" (or "oldfd" for the dup family, else the first PT_FD
parameter that is not the return value). ``event_fd`` is what
``SinspEvent.fdinfo`` uses to find the fd of events no parser handled.
"""

from __future__ import annotations

from libscap.errors import ScapError
from libscap.schema import EF, EVENTS, PT


def _fd_position(info) -> int:
    if not info.flags & EF.USES_FD:
        return -1
    names = info.param_positions
    for name in ("fd", "oldfd"):
        i = names.get(name)
        if i is not None and info.params[i].type in (PT.FD, PT.FD32):
            return i
    for i, p in enumerate(info.params):
        if p.type in (PT.FD, PT.FD32) and p.name != "res":
            return i
    return -1


#: event type -> index of its fd parameter (-1: none)
FD_POSITION: tuple[int, ...] = tuple(_fd_position(info) for info in EVENTS)


def event_fd(evt) -> int | None:
    """The fd number ``evt`` acts on, or None (no fd parameter, absent, empty or undecodable)."""
    etype = evt[5]
    i = FD_POSITION[etype] if etype < len(FD_POSITION) else -1
    if i < 0 or i >= evt[6]:
        return None
    try:
        return evt.param(i)
    except ScapError:  # a malformed parameter: the event simply has no usable fd
        return None
