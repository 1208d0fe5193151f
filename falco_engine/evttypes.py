"""Event-type names <-> PPM event codes and syscall names, for rule indexing and
for the capture layer's interesting sets.

As libsinsp's names_to_event_set: a name stands for every event code carrying it
(all versions, enter and exit); a syscall without a dedicated event (ppm_sc name
only) is carried by the generic events.
"""

from __future__ import annotations

from collections.abc import Iterable

from libscap.schema import EVENTS, PPM_SC_NAMES, PPME

_BY_NAME: dict[str, set[int]] = {}
for _e in EVENTS:
    if _e.name != "NA":
        _BY_NAME.setdefault(_e.name, set()).add(_e.id)
#: the generic events: their evt.type is the syscall name, not the event name
GENERIC_CODES = frozenset({int(PPME.GENERIC_E), int(PPME.GENERIC_X)})
SYSCALL_NAMES: frozenset[str] = frozenset(n for n in PPM_SC_NAMES.values() if n and n != "unknown")

#: codes of each event-type name a filter can test with ``evt.type``
CODES_BY_NAME: dict[str, frozenset[int]] = {
    **{n: GENERIC_CODES for n in SYSCALL_NAMES if n not in _BY_NAME},
    **{n: frozenset(c) for n, c in _BY_NAME.items()},
}
ALL_NAMES: frozenset[str] = frozenset(CODES_BY_NAME)
ALL_CODES: frozenset[int] = frozenset(c for cs in CODES_BY_NAME.values() for c in cs)


def codes_of(names: Iterable[str]) -> frozenset[int]:
    """Event codes for event-type names (unknown names contribute none)."""
    out: set[int] = set()
    for n in names:
        out |= CODES_BY_NAME.get(n, frozenset())
    return frozenset(out)


def syscalls_of(names: Iterable[str]) -> frozenset[str]:
    """The syscall names among event-type names."""
    return frozenset(n for n in names if n in SYSCALL_NAMES)


#: codes whose evt.type is read from the event: the syscall of generic events, the
#: name carried by async events (upstream's extract of TYPE_TYPE)
_VARYING_NAME = GENERIC_CODES | {int(PPME.ASYNCEVENT_E)}


def type_name(code: int) -> str | None:
    """The ``evt.type`` of every event of ``code``; None when it varies or the code
    is unknown."""
    if code in _VARYING_NAME or not 0 <= code < len(EVENTS) or EVENTS[code].name == "NA":
        return None
    return EVENTS[code].name
