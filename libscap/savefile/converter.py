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
  of this very event type; without one the parameter falls back to empty or to
  the type's default), ``from_empty`` writes a zero-length parameter,
  ``from_default`` the type's default value (all-ones for uid/gid, zeros of the
  type's fixed width otherwise, nothing for variable-length types),
  ``from_callback`` computes it (``container_json`` only);
* a stored enter event is forgotten once an exit event took a parameter from it;
* at most ``MAX_CONVERSIONS`` steps per event, as upstream's guard against loops.

One divergence, on purpose: when the stored enter event of a thread is not the
enter of the exit being converted (an exit whose enter was never captured,
after an unrelated enter on the same thread, e.g. a capture that starts inside
an execve), upstream's converter reports an error and the savefile engine fails
the whole capture (Falco stops with a fatal error). Here the stale enter event
is ignored as if there were none: the exit gets the fallback parameters and the
rest of the capture is read.

Since eligibility depends only on (type, parameter count), the whole chain of
steps an event goes through is known in advance: ``plan()`` compiles it once
per (type, nparams) into a ``Plan`` of plain ints and bytes (step = action,
target type and counts; instruction = source, parameter, fallback bytes, length
cap), and per event only the data moves: converted events are built by
concatenating slices of the original bytes. Converted events keep the
timestamp, thread, CPU, number and flags of the event they came from. Event
types beyond the table are dropped.
"""

from __future__ import annotations

import struct
from typing import Callable, Iterable, Iterator, NamedTuple

from ..errors import ScapError
from ..event import HEADER, Event
from ..schema import CONVERSIONS, EF, EVENT_HEADER_LEN, EVENTS, PPM_EVENT_MAX, PPME, PT

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


#: ``from_callback`` functions, by the index an instruction's ``param`` holds.
CALLBACKS: tuple[Callable[[Event, int], bytes], ...] = (_container_json,)
_CALLBACK_INDEX = {"container_json": 0}

# Instruction sources, as ints (upstream's C_INSTR_* order).
FROM_EMPTY, FROM_DEFAULT, FROM_OLD, FROM_ENTER, FROM_CALLBACK = range(5)
_SOURCES = {"from_empty": FROM_EMPTY, "from_default": FROM_DEFAULT, "from_old": FROM_OLD,
            "from_enter": FROM_ENTER, "from_callback": FROM_CALLBACK}
# Step kinds.
ADD_PARAMS, CHANGE_TYPE = range(2)


class Instr(NamedTuple):
    """One parameter to write: ``source`` (FROM_*), ``param`` (the source parameter,
    or the callback index), ``fallback`` (the bytes written when the source has no
    value), ``min_len``/``max_len`` (the target parameter's length bounds: copies
    are capped at ``max_len``)."""

    source: int
    param: int
    fallback: bytes
    min_len: int
    max_len: int


class Step(NamedTuple):
    """One conversion step from an event of ``old_type``/``old_nparams``: ``kind``
    (ADD_PARAMS keeps the old parameters, CHANGE_TYPE starts from none), the
    result's ``new_type``/``new_nparams``, ``width`` (2 or 4: the old event's
    length field size; ADD_PARAMS keeps the type, so the width too) and the
    instructions."""

    kind: int
    old_type: int
    old_nparams: int
    width: int
    new_type: int
    new_nparams: int
    new_width: int
    instrs: tuple[Instr, ...]


class Plan(NamedTuple):
    """What happens to every event of one (type, nparams): ``steps`` in order,
    then the result is stored as the thread's enter event when ``store`` (the
    result's length field size, 2 or 4; 0: not stored) and delivered
    (``deliver``) or dropped. ``error`` is set when upstream would fail."""

    steps: tuple[Step, ...]
    store: int
    deliver: bool
    error: str = ""


#: The plan of every event current libs passes unchanged.
PASS_THROUGH = Plan((), 0, True)


class _Rule(NamedTuple):
    action: str
    to: int | None
    instrs: tuple[tuple, ...]


def _load_rules() -> dict[tuple[int, int], _Rule]:
    rules: dict[tuple[int, int], _Rule] = {}
    for entry in CONVERSIONS:
        to = entry.get("to")
        rules[(PPME[entry["event"][5:]], entry["nparams"])] = _Rule(
            entry["action"], PPME[to[5:]] if to else None, tuple(tuple(i) for i in entry.get("instrs", ())))
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


def _compile_step(etype: int, nparams: int, rule: _Rule) -> Step:
    if rule.action == "add_params":
        kind, new_type, first = ADD_PARAMS, etype, nparams
    elif rule.action == "change_type" and rule.to is not None:
        kind, new_type, first = CHANGE_TYPE, rule.to, 0
    else:
        raise ScapError(f"unknown conversion action {rule.action!r} for {EVENTS[etype].code}")
    target = EVENTS[new_type]
    if first + len(rule.instrs) > len(target.params):
        raise ScapError(f"the conversion of {EVENTS[etype].code} gives {target.code} more parameters than it has")
    instrs = []
    for i, raw in enumerate(rule.instrs):
        kind_name, param, extra = raw[0], raw[1], raw[2:]
        source = _SOURCES.get(kind_name)
        if source is None:
            raise ScapError(f"unknown conversion instruction {kind_name!r}")
        ptype = target.params[first + i].type
        min_len, max_len = _len_bounds(ptype, target.large_payload)
        if source == FROM_OLD and param >= nparams:
            raise ScapError(f"conversion wants parameter {param} of {EVENTS[etype].code}, "
                            f"which has {nparams}")
        if source == FROM_CALLBACK:
            param = next((_CALLBACK_INDEX[x] for x in extra if x in _CALLBACK_INDEX), -1)
            if param < 0:
                raise ScapError(f"no known callback in conversion instruction {raw!r}")
        fallback = b"" if source == FROM_EMPTY or "fallback_empty" in extra else default_param(ptype)
        instrs.append(Instr(source, param, fallback, min_len, max_len))
    return Step(kind, etype, nparams, 4 if EVENTS[etype].large_payload else 2, new_type,
                first + len(instrs), 4 if target.large_payload else 2, tuple(instrs))


def _compile(etype: int, nparams: int) -> Plan:
    steps: list[Step] = []
    for _ in range(MAX_CONVERSIONS):
        try:
            verdict = eligibility(etype, nparams)
            if verdict != _CONTINUE:
                return PASS_THROUGH if verdict == _PASS and not steps else Plan(tuple(steps), 0, verdict == _PASS)
            rule = RULES.get((etype, nparams))
            if rule is None:
                raise ScapError(f"no conversion rule for {EVENTS[etype].code} with {nparams} parameters")
            if rule.action in ("store", "store_and_pass", "pass"):
                store = (4 if EVENTS[etype].large_payload else 2) if rule.action != "pass" else 0
                return Plan(tuple(steps), store, rule.action != "store")
            step = _compile_step(etype, nparams, rule)
        except ScapError as exc:
            return Plan((), 0, False, str(exc))
        steps.append(step)
        etype, nparams = step.new_type, step.new_nparams
    return Plan((), 0, False, f"{EVENTS[etype].code} still needs conversion after {MAX_CONVERSIONS} steps")


#: (type, nparams) -> Plan, filled on first use (plans depend on the table only).
PLANS: dict[tuple[int, int], Plan] = {}


def plan(etype: int, nparams: int) -> Plan:
    """The Plan for events of this type and parameter count (compiled once)."""
    p = PLANS.get((etype, nparams))
    if p is None:
        p = _compile(etype, nparams)
        if nparams <= 0xFF:  # any real layout; a crafted count must not grow the cache
            PLANS[(etype, nparams)] = p
    return p


class _LensStructs(dict):
    """(count, width) -> the Struct of that many u16 (width 2) or u32 (width 4) lengths."""

    def __missing__(self, key: tuple[int, int]) -> struct.Struct:
        st = self[key] = struct.Struct("<%d%s" % (key[0], "I" if key[1] == 4 else "H"))
        return st


_LENS = _LensStructs()


def _overrun(evt: Event, lens: tuple[int, ...]) -> ScapError:
    return ScapError(f"event #{evt[8]} ({EVENTS[evt[5]].code}): parameter lengths {list(lens)} "
                     f"overrun its {evt[4]} bytes")


class Converter:
    """Stateful converter: keeps each thread's pending enter event between events
    (as its type and parameter bytes)."""

    def __init__(self) -> None:
        self._stored: dict[int, tuple[int, list[bytes]]] = {}

    def convert(self, evt: Event) -> Event | None:
        """The event as current libs delivers it, or None where it is dropped
        (ScapError where upstream's converter fails)."""
        p = PLANS.get((evt[5], evt[6])) or plan(evt[5], evt[6])
        return evt if p is PASS_THROUGH else self.apply(evt, p)

    def apply(self, evt: Event, p: Plan) -> Event | None:
        """``convert`` with the plan of ``evt``'s type and parameter count already at hand."""
        if p.error:
            raise ScapError(f"event #{evt[8]}: {p.error}")
        for step in p.steps:
            evt = self._step(evt, step)
        width = p.store
        if width:
            buf, n, start = evt[0], evt[6], evt[1] + EVENT_HEADER_LEN + width * evt[6]
            lens = _LENS[n, width].unpack_from(buf, evt[1] + EVENT_HEADER_LEN)
            if start + sum(lens) > evt[1] + evt[4]:
                raise _overrun(evt, lens)
            params = []
            for size in lens:
                params.append(buf[start:start + size])
                start += size
            self._stored[evt[3]] = (evt[5], params)
        return evt if p.deliver else None

    def _step(self, old: Event, step: Step) -> Event:
        buf, off, tid = old[0], old[1], old[3]
        data = off + EVENT_HEADER_LEN + step.width * step.old_nparams
        lens = _LENS[step.old_nparams, step.width].unpack_from(buf, off + EVENT_HEADER_LEN)
        end = data + sum(lens)
        if end > off + old[4]:
            raise _overrun(old, lens)
        params: list[bytes] = []
        enter = self._stored.get(tid)
        if enter is not None and enter[0] != step.old_type - 1:
            enter = None  # a stale enter of another syscall: see the module docs
        used_enter = False
        for instr in step.instrs:
            source = instr[0]
            if source == FROM_ENTER:
                if enter is None:
                    params.append(instr[2])
                    continue
                if len(enter[1]) <= instr[1]:
                    raise ScapError(f"event #{old[8]}: conversion wants parameter {instr[1]} of "
                                    f"{EVENTS[enter[0]].code}, which has {len(enter[1])}")
                params.append(enter[1][instr[1]][:instr[4]])
                used_enter = True
            elif source == FROM_OLD:
                start = data + sum(lens[:instr[1]])
                params.append(buf[start:start + min(lens[instr[1]], instr[4])])
            elif source == FROM_CALLBACK:
                params.append(self._callback(old, instr))
            else:  # FROM_EMPTY, FROM_DEFAULT
                params.append(instr[2])
        if used_enter:
            del self._stored[tid]
        new_lens = _LENS[len(params), step.new_width].pack(*map(len, params))
        body = b"".join(params)
        ts, new_type, new_n = old[2], step.new_type, step.new_nparams
        if step.kind == ADD_PARAMS:
            length = data - off + len(new_lens) + (end - data) + len(body)
            raw = b"".join((HEADER.pack(ts, tid, length, new_type, new_n),
                            buf[off + EVENT_HEADER_LEN:data], new_lens, buf[data:end], body))
        else:
            length = EVENT_HEADER_LEN + len(new_lens) + len(body)
            raw = b"".join((HEADER.pack(ts, tid, length, new_type, new_n), new_lens, body))
        return tuple.__new__(Event, (raw, 0, ts, tid, length, new_type, new_n, old[7], old[8], old[9]))

    @staticmethod
    def _callback(old: Event, instr: Instr) -> bytes:
        try:
            value = CALLBACKS[instr[1]](old, instr[4])
        except (ValueError, ScapError):
            return instr[2]
        if not instr[3] <= len(value) <= instr[4]:
            raise ScapError(f"event #{old[8]}: a conversion callback gave {len(value)} bytes, "
                            f"outside [{instr[3]}, {instr[4]}]")
        return value


def convert(events: Iterable[Event]) -> Iterator[Event]:
    """The events as current libs delivers them from a savefile (see module docs)."""
    converter = Converter()
    for evt in events:
        out = converter.convert(evt)
        if out is not None:
            yield out
