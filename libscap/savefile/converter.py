"""Savefile event converter: old capture layouts to today's exit-only events.

Captures written by older drivers hold enter/exit pairs and older event layouts
(fewer parameters, since-renamed event types). Current falcosecurity/libs turns
them, on read, into the stream a current driver would have produced: enter
parameters are merged into the matching exit event of the same thread, enter
events are dropped and old layouts are upgraded. Doing the same here means rules
and fields see one layout whatever the capture's age.

The conversion rules are data (``libscap.schema.CONVERSIONS``, keyed by event
type and parameter count); this module only implements their semantics:

* eligibility, checked on every event and again after every conversion step:
  EF_UNUSED events are dropped; events without EF_CONVERTER_MANAGED pass when
  current and are dropped when they are old enter events (an old exit event
  without it is a table bug); managed enter events always go through the table;
  managed exit events go through it when EF_OLD_VERSION or when their parameter
  count differs from the table's (more parameters than the table is an error);
* actions: ``store`` keeps the event as the thread's pending enter event and
  drops it, ``pass`` lets it through, ``store_and_pass`` does both,
  ``add_params`` appends one parameter per instruction, ``change_type`` builds
  an event of type ``to`` from the instructions alone;
* instructions: ``from_old`` copies a parameter of the event being converted,
  ``from_enter`` one of the thread's stored enter event (which must be the enter
  of this very event type; without a stored enter event the parameter falls back
  to empty or to the type's default), ``from_empty`` writes a zero-length
  parameter, ``from_default`` the type's default value (all-ones for uid/gid,
  zeros of the type's fixed width otherwise, nothing for variable-length types),
  ``from_callback`` computes it (``container_json`` only);
* a stored enter event is forgotten once an exit event took a parameter from it;
* at most ``MAX_CONVERSIONS`` steps per event, as upstream's guard against loops.

Converted events keep the timestamp, thread, CPU, number and flags of the event
they came from. Event types beyond the table are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from ..errors import ScapError
from ..event import Event
from ..schema import CONVERSIONS, EF, EVENTS, PPM_EVENT_MAX, PPME, PT

#: Upstream's bound on conversion steps for one event (MAX_CONVERSION_BOUNDARY).
MAX_CONVERSIONS = 50

_FIXED_WIDTH: dict[PT, int] = {
    **dict.fromkeys((PT.INT8, PT.UINT8, PT.FLAGS8, PT.ENUMFLAGS8, PT.SIGTYPE), 1),
    **dict.fromkeys((PT.INT16, PT.UINT16, PT.FLAGS16, PT.ENUMFLAGS16, PT.SYSCALLID, PT.PORT), 2),
    **dict.fromkeys((PT.INT32, PT.UINT32, PT.FLAGS32, PT.ENUMFLAGS32, PT.UID, PT.GID, PT.MODE,
                     PT.SIGSET, PT.FD32, PT.PID32, PT.IPV4ADDR), 4),
    **dict.fromkeys((PT.INT64, PT.UINT64, PT.RELTIME, PT.ABSTIME, PT.ERRNO, PT.FD, PT.PID), 8),
    PT.IPV6ADDR: 16,
}
_VARIABLE = frozenset((PT.BYTEBUF, PT.CHARBUF, PT.SOCKTUPLE, PT.FDLIST, PT.FSPATH, PT.CHARBUFARRAY,
                       PT.CHARBUF_PAIR_ARRAY, PT.FSRELPATH, PT.DYN, PT.SOCKADDR))


def _len_bounds(ptype: PT, large: bool) -> tuple[int, int]:
    """(min, max) byte length a parameter of this type may have in a converted event."""
    if ptype in _FIXED_WIDTH:
        width = _FIXED_WIDTH[ptype]
        return width, width
    if ptype in _VARIABLE:
        return 0, 0xFFFFFFFF if large else 0xFFFF
    raise ScapError(f"the converter has no length rule for parameter type {ptype.name}")


def default_param(ptype: PT) -> bytes:
    """The value ``from_default`` writes: the type's minimal length, uid/gid all-ones."""
    width = _len_bounds(ptype, False)[0]
    fill = 0xFF if ptype in (PT.UID, PT.GID) else 0
    return bytes([fill]) * width


def _container_json(old: Event, max_len: int) -> bytes:
    """PPME_CONTAINER_E (id, type, name, image) as the JSON PPME_CONTAINER_JSON_E carries.

    Raises ValueError where upstream's reader fails (then the instruction falls back).
    """
    params = old.raw_params()
    if len(params) < 4 or any(len(p) > max_len for p in params) or len(params[1]) > 4:
        raise ValueError("container event without readable id/type/name/image")
    text: list[bytes] = []
    for i in (0, 2, 3):
        if not params[i]:
            raise ValueError("empty container string")
        text.append(params[i][:-1])  # drop the NUL terminator
    ctype = int.from_bytes(params[1], "little")
    cid, name, image = text
    return (b'{"id":"' + cid + b'","type":' + str(ctype).encode() + b',"name":"' + name
            + b'","image":"' + image + b'"}\0')


_CALLBACKS: dict[str, Callable[[Event, int], bytes]] = {"container_json": _container_json}


@dataclass(frozen=True, slots=True)
class _Instr:
    kind: str
    param: int
    fallback_empty: bool
    callback: str | None


@dataclass(frozen=True, slots=True)
class _Rule:
    action: str
    to: int | None
    instrs: tuple[_Instr, ...]


def _load_rules() -> dict[tuple[int, int], _Rule]:
    rules: dict[tuple[int, int], _Rule] = {}
    for entry in CONVERSIONS:
        instrs = []
        for raw in entry.get("instrs", ()):
            extra = raw[2:]
            instrs.append(_Instr(raw[0], raw[1], "fallback_empty" in extra,
                                 next((x for x in extra if x in _CALLBACKS), None)))
        to = entry.get("to")
        rules[(PPME[entry["event"][5:]], entry["nparams"])] = _Rule(
            entry["action"], PPME[to[5:]] if to else None, tuple(instrs))
    return rules


RULES: dict[tuple[int, int], _Rule] = _load_rules()

_PASS, _DROP, _CONTINUE = "pass", "drop", "continue"


def eligibility(etype: int, nparams: int) -> str:
    """'pass', 'drop' or 'continue' (needs a conversion step) for an event; ScapError if invalid."""
    if not 0 <= etype < PPM_EVENT_MAX:
        return _DROP
    info = EVENTS[etype]
    if info.flags & EF.UNUSED:
        return _DROP
    if not info.flags & EF.CONVERTER_MANAGED:
        if not info.flags & EF.OLD_VERSION:
            return _PASS
        if info.is_enter:
            return _DROP
        raise ScapError(f"event table bug: old exit event {info.code} is not converter-managed")
    if info.is_enter:
        return _CONTINUE
    if nparams > len(info.params):
        raise ScapError(f"{info.code} has {nparams} parameters, more than the {len(info.params)} expected")
    if info.flags & EF.OLD_VERSION or nparams != len(info.params):
        return _CONTINUE
    return _PASS


class Converter:
    """Stateful converter: keeps each thread's pending enter event between events."""

    def __init__(self) -> None:
        self._stored: dict[int, Event] = {}

    def convert(self, evt: Event) -> Event | None:
        """The event as current libs delivers it, or None where it is dropped."""
        verdict = eligibility(evt.type, evt.nparams)
        for _ in range(MAX_CONVERSIONS):
            if verdict != _CONTINUE:
                return evt if verdict == _PASS else None
            evt, verdict = self._step(evt)
        if verdict == _CONTINUE:
            raise ScapError(f"event #{evt.num} ({EVENTS[evt.type].code}) still needs conversion "
                            f"after {MAX_CONVERSIONS} steps")
        raise ScapError(f"event #{evt.num} reached the limit of {MAX_CONVERSIONS} conversion steps")

    def _step(self, old: Event) -> tuple[Event, str]:
        rule = RULES.get((old.type, old.nparams))
        if rule is None:
            raise ScapError(f"event #{old.num}: no conversion rule for {EVENTS[old.type].code} "
                            f"with {old.nparams} parameters")
        if rule.action in ("store", "store_and_pass"):
            old.validate()
            self._stored[old.tid] = old
            return old, _DROP if rule.action == "store" else _PASS
        if rule.action == "pass":
            return old, _PASS
        if rule.action == "add_params":
            new_type, params = old.type, old.raw_params()
        elif rule.action == "change_type" and rule.to is not None:
            new_type, params = rule.to, []
        else:
            raise ScapError(f"unknown conversion action {rule.action!r} for {EVENTS[old.type].code}")

        target = EVENTS[new_type]
        used_enter = False
        for instr in rule.instrs:
            ptype = target.params[len(params)].type
            params.append(self._param(old, instr, ptype, target.large_payload))
            used_enter |= instr.kind == "from_enter" and old.tid in self._stored
        if used_enter:
            del self._stored[old.tid]
        new = Event.build(old.ts, old.tid, new_type, params, cpu=old.cpu, num=old.num, flags=old.flags)
        return new, eligibility(new.type, new.nparams)

    def _param(self, old: Event, instr: _Instr, ptype: PT, large: bool) -> bytes:
        """The bytes one instruction puts in the converted event's next parameter."""
        min_len, max_len = _len_bounds(ptype, large)
        fallback = b"" if instr.fallback_empty else default_param(ptype)
        if instr.kind == "from_empty":
            return b""
        if instr.kind == "from_default":
            return default_param(ptype)
        if instr.kind == "from_old":
            source = old
        elif instr.kind == "from_enter":
            enter = self._stored.get(old.tid)
            if enter is None:
                return fallback
            if enter.type != old.type - 1:
                raise ScapError(f"event #{old.num}: the stored enter event of {EVENTS[old.type].code} "
                                f"on thread {old.tid} is {EVENTS[enter.type].code}")
            source = enter
        elif instr.kind == "from_callback" and instr.callback is not None:
            try:
                value = _CALLBACKS[instr.callback](old, max_len)
            except (ValueError, ScapError):
                return fallback
            if not min_len <= len(value) <= max_len:
                raise ScapError(f"event #{old.num}: {instr.callback} gave {len(value)} bytes, "
                                f"outside [{min_len}, {max_len}]")
            return value
        else:
            raise ScapError(f"unknown conversion instruction {instr.kind!r}")
        if source.nparams <= instr.param:
            raise ScapError(f"event #{old.num}: conversion wants parameter {instr.param} of "
                            f"{EVENTS[source.type].code}, which has {source.nparams}")
        return source.raw_param(instr.param)[:max_len]


def convert(events: Iterable[Event]) -> Iterator[Event]:
    """The events as current libs delivers them from a savefile (see module docs)."""
    converter = Converter()
    for evt in events:
        out = converter.convert(evt)
        if out is not None:
            yield out
