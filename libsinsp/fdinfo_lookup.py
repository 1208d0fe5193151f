"""Which parameter of an event is the fd it acts on (upstream's per-event fd location).

Computed once from the schema: for every event type flagged EF_USES_FD, the
parameter called "fd" (or "oldfd" for the dup family, else the first PT_FD
parameter that is not the return value): where ``SinspEvent.fdinfo`` finds the
fd of events no parser handled.
"""

from __future__ import annotations

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

