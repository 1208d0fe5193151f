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
cap). All plans are handed once to C (libscap/_convert.c), which runs them per
event and keeps the stored enter events: ``Converter.convert_records`` turns a
batch of the reader's packed records into converted records (an event passed
unchanged keeps its record, so it stays a view into the reader's chunk; a
converted one is built in an arena shared by its batch), and
``Capture.events(converter)`` uses it, so no Python code runs per event.
``Converter.convert`` does the same for one event from memory. Converted events
keep the timestamp, thread, CPU, number and flags of the event they came from.
Event types beyond the table are dropped.
"""

from __future__ import annotations

import struct
import threading
from typing import Any, Callable, Iterable, Iterator, NamedTuple

try:
    from .. import _events, _scan
except ImportError as exc:  # the compiled half is built by CMake, not found on sys.path
    raise ImportError(f"libscap._scan is not built ({exc}): run `pip install -e .` "
                      "(or `make scap` in a CMake build directory)") from exc
from ..errors import ScapError
from ..event import PARAM_LEN_WIDTH, RECORD, Event
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


#: per event type, plain ints (no IntFlag operations per lookup while plans compile)
_FLAGS: tuple[int, ...] = tuple(int(e.flags) for e in EVENTS)
_EF_UNUSED, _EF_MANAGED, _EF_OLD = int(EF.UNUSED), int(EF.CONVERTER_MANAGED), int(EF.OLD_VERSION)


def eligibility(etype: int, nparams: int) -> str:
    """'pass', 'drop' or 'continue' (needs a conversion step) for an event; ScapError if invalid."""
    if not 0 <= etype < PPM_EVENT_MAX:
        return _DROP
    flags = _FLAGS[etype]
    if flags & _EF_UNUSED:
        return _DROP
    is_enter = not etype & 1
    if not flags & _EF_MANAGED:
        if not flags & _EF_OLD:
            return _PASS
        if is_enter:
            return _DROP
        raise ScapError(f"event table bug: old exit event {EVENTS[etype].code} is not converter-managed")
    if is_enter:
        return _CONTINUE
    expected = len(EVENTS[etype].params)
    if nparams > expected:
        raise ScapError(f"{EVENTS[etype].code} has {nparams} parameters, more than the {expected} expected")
    if flags & _EF_OLD or nparams != expected:
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
        min_len, max_len = _len_bounds(ptype, PARAM_LEN_WIDTH[new_type] == 4)
        if source == FROM_OLD and param >= nparams:
            raise ScapError(f"conversion wants parameter {param} of {EVENTS[etype].code}, "
                            f"which has {nparams}")
        if source == FROM_CALLBACK:
            param = next((_CALLBACK_INDEX[x] for x in extra if x in _CALLBACK_INDEX), -1)
            if param < 0:
                raise ScapError(f"no known callback in conversion instruction {raw!r}")
        fallback = b"" if source == FROM_EMPTY or "fallback_empty" in extra else default_param(ptype)
        instrs.append(Instr(source, param, fallback, min_len, max_len))
    return Step(kind, etype, nparams, PARAM_LEN_WIDTH[etype], new_type,
                first + len(instrs), PARAM_LEN_WIDTH[new_type], tuple(instrs))


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
                store = PARAM_LEN_WIDTH[etype] if rule.action != "pass" else 0
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


# -- the per-event loop, in C (libscap/_convert.c) -------------------------------

_ffi, _lib = _scan.ffi, _scan.lib
_NSLOTS = _lib.CONV_NPARAMS_SLOTS
_RSIZE = RECORD.size
_VERDICT_PASS, _VERDICT_DROP = _lib.CONV_PASS, _lib.CONV_DROP
_tables_lock = threading.Lock()
#: per (type * CONV_NPARAMS_SLOTS + min(nparams, 33)): the plan's CONV_* verdict
#: (pass, drop, error, steps), for the one-event path; set by _load_tables
_verdicts = b""


def _load_tables() -> None:
    """Compile every plan and hand them to C (once per process, ~50 ms)."""
    global _verdicts
    with _tables_lock:
        if _verdicts:
            return
        plans = _ffi.new("struct conv_plan[]", PPM_EVENT_MAX * _NSLOTS)
        steps: list[Step] = []
        instrs: list[tuple[Instr, int]] = []
        fallbacks = bytearray()
        offsets: dict[bytes, int] = {}
        verdicts = bytearray(PPM_EVENT_MAX * _NSLOTS)
        for etype in range(PPM_EVENT_MAX):
            for n in range(_NSLOTS):  # the last slot stands for every larger count
                p = plan(etype, n)
                slot = etype * _NSLOTS + n
                if p is PASS_THROUGH:
                    verdict = _lib.CONV_PASS
                elif p.error:
                    verdict = _lib.CONV_ERROR
                elif not p.steps and not p.store and not p.deliver:
                    verdict = _lib.CONV_DROP
                else:
                    verdict = _lib.CONV_STEPS
                    cp = plans[slot]
                    cp.first_step, cp.n_steps = len(steps), len(p.steps)
                    cp.store, cp.deliver = p.store, p.deliver
                    for k, step in enumerate(p.steps):
                        if any(i.source == FROM_CALLBACK for i in step.instrs):
                            if k:
                                raise ScapError(f"conversion of {EVENTS[etype].code}: a from_callback "
                                                "instruction after the first step is not supported")
                            cp.callbacks = 1
                        steps.append(step)
                        for instr in step.instrs:
                            off = offsets.get(instr.fallback)
                            if off is None:
                                off = offsets[instr.fallback] = len(fallbacks)
                                fallbacks += instr.fallback
                            instrs.append((instr, off))
                plans[slot].verdict = verdicts[slot] = verdict
        c_steps = _ffi.new("struct conv_step[]", max(len(steps), 1))
        c_instrs = _ffi.new("struct conv_instr[]", max(len(instrs), 1))
        first = 0
        for cs, step in zip(c_steps, steps):
            cs.first_instr, cs.n_instrs = first, len(step.instrs)
            cs.old_type, cs.new_type, cs.kind = step.old_type, step.new_type, step.kind
            cs.old_nparams, cs.width = step.old_nparams, step.width
            cs.new_nparams, cs.new_width = step.new_nparams, step.new_width
            first += len(step.instrs)
        for ci, (instr, off) in zip(c_instrs, instrs):
            ci.source, ci.param, ci.max_len = instr.source, instr.param, instr.max_len
            ci.fallback_off, ci.fallback_len = off, len(instr.fallback)
        if _lib.conv_init(PPM_EVENT_MAX, plans, c_steps, len(steps), c_instrs, len(instrs),
                          bytes(fallbacks), len(fallbacks)):
            raise ScapError("the converter's C tables were refused (inconsistent plans or out of memory)")
        _verdicts = bytes(verdicts)


class Converter:
    """Stateful converter: keeps each thread's pending enter event between events.

    The per-event work runs in C (libscap/_convert.c) over the plans of
    ``plan()``; the stored enter events live there too, bounded: past
    ``STORED_MAX`` events or ``STORED_MAX_BYTES`` bytes the older half (by
    timestamp) is forgotten (a real capture has one per thread inside a
    syscall). Where upstream's converter fails (see ``plan`` errors, parameter
    lengths overrunning the event, an enter event without the parameter asked
    for), the event is rejected: ``strict`` converters raise ScapError, others
    skip it and count it in ``rejected``. ``from_callback`` values are computed
    in Python (``CALLBACKS``), for the rare events whose plan has one."""

    STORED_MAX = _lib.CONV_STORED_MAX
    STORED_MAX_BYTES = _lib.CONV_STORED_MAX_BYTES

    def __init__(self, strict: bool = True) -> None:
        if not _verdicts:
            _load_tables()
        c = _lib.conv_new()
        if c == _ffi.NULL:
            raise MemoryError("cannot allocate the converter's state")
        self._c = _ffi.gc(c, _lib.conv_free)
        self.strict = strict
        #: events rejected (non-strict converters; see the class docs)
        self.rejected = 0
        self._counts = _ffi.new("size_t[2]")
        self._size = _ffi.new("size_t *")
        self._u64 = _ffi.new("uint64_t *")

    @property
    def stored(self) -> int:
        """How many threads have a pending enter event."""
        return _lib.conv_stored(self._c, self._u64)

    @property
    def evicted(self) -> int:
        """Pending enter events forgotten by the bound on their number or bytes."""
        _lib.conv_stored(self._c, self._u64)
        return self._u64[0]

    def convert(self, evt: Event) -> Event | None:
        """The event as current libs delivers it, or None where it is dropped
        (a rejected event: ScapError when strict, None otherwise)."""
        etype, n = evt[5], evt[6]
        verdict = _verdicts[etype * _NSLOTS + (n if n < _NSLOTS else _NSLOTS - 1)] \
            if etype < PPM_EVENT_MAX else _VERDICT_DROP
        if verdict == _VERDICT_PASS:
            return evt
        if verdict == _VERDICT_DROP:
            return None
        try:
            rec = bytearray(RECORD.pack(evt[1], evt[2], evt[3], evt[4], etype, n, evt[7] & 0xFFFF,
                                         evt[8], evt[9]))
        except struct.error:
            return self._reject(f"event #{evt[8]}: header fields out of range")
        records = _ffi.from_buffer("uint8_t[]", rec)
        nout, arena = self._run(type(evt), evt[0], rec, records, 1)
        if not nout:
            return None
        off, ts, tid, length, new_type, new_n = RECORD.unpack_from(rec)[:6]
        if not off & _lib.CONV_ARENA_BIT:
            return evt  # stored and passed unchanged
        return tuple.__new__(Event, (arena, off & ~_lib.CONV_ARENA_BIT, ts, tid, length, new_type, new_n,
                                     evt[7], evt[8], evt[9]))

    def convert_records(self, cls: type, buf: Any, records: bytearray, n: int) -> list[Event]:
        """The converted events of ``n`` packed records (``_scan.h``) over ``buf``:
        unchanged events as ``cls`` over ``buf``, converted ones as ``Event`` over
        a new bytes object. ``records`` is rewritten in place. The reader's path."""
        nout, arena = self._run(cls, buf, records, _ffi.from_buffer("uint8_t[]", records), n)
        return _events.make_events(cls, buf, records, nout, False, Event, arena)

    def _run(self, cls: type, buf: Any, records: bytearray, rec_c: Any, n: int) -> tuple[int, bytes]:
        """conv_run over the records, rejects and callbacks handled; (records out, arena)."""
        c, counts, lib = self._c, self._counts, _lib
        src = _ffi.from_buffer("uint8_t[]", buf)
        done = nout = 0
        while True:
            rc = lib.conv_run(c, src, len(src), rec_c + done * _RSIZE, n - done, rec_c + nout * _RSIZE,
                              counts, counts + 1)
            done += counts[0]
            nout += counts[1]
            if rc == lib.CONV_OK:
                break
            if rc == lib.CONV_CALLBACK:
                if self._callbacks(cls, buf, records, done):
                    continue
            else:
                self._reject(self._message(records, done))
            done += 1
        size = self._size
        ptr = lib.conv_arena(c, size)
        return nout, (_ffi.buffer(ptr, size[0])[:] if size[0] else b"")

    def _callbacks(self, cls: type, buf: Any, records: bytearray, i: int) -> bool:
        """Compute the from_callback values of record ``i`` for C; False if it is rejected."""
        old = _events.make_events(cls, buf, records[i * _RSIZE:(i + 1) * _RSIZE], 1)[0]
        values: list[tuple[int, bytes | None]] = []
        for k, instr in enumerate(plan(old[5], old[6]).steps[0].instrs):
            if instr.source != FROM_CALLBACK:
                continue
            try:
                value = CALLBACKS[instr.param](old, instr.max_len)
            except (ValueError, ScapError):
                values.append((k, None))
                continue
            if not instr.min_len <= len(value) <= instr.max_len:
                self._reject(f"event #{old[8]}: a conversion callback gave {len(value)} bytes, "
                             f"outside [{instr.min_len}, {instr.max_len}]")
                return False
            values.append((k, value))
        for k, value in values:
            if _lib.conv_set_callback(self._c, k, value or b"", len(value or b""), value is None):
                raise MemoryError("cannot keep a conversion callback's value")
        return True

    def _message(self, records: bytearray, i: int) -> str:
        _, _, _, length, etype, n, _, num, _ = RECORD.unpack_from(records, i * _RSIZE)
        err = _lib.conv_error(self._c)
        code, name = err.code, EVENTS[etype].code
        if code == _lib.CONV_ERR_PLAN:
            return f"event #{num}: {plan(etype, n).error}"
        if code == _lib.CONV_ERR_OVERRUN:
            return f"event #{num} ({name}): parameter lengths overrun its {length} bytes"
        if code == _lib.CONV_ERR_ENTER_PARAM:
            return (f"event #{num}: conversion wants parameter {err.a} of {EVENTS[err.b].code}, "
                    f"which has {err.c}")
        if code == _lib.CONV_ERR_TOO_LARGE:
            return f"event #{num} ({name}): the converted event would exceed 4 GiB"
        if code == _lib.CONV_ERR_NOMEM:
            raise MemoryError(f"event #{num} ({name}): out of memory converting it")
        raise ScapError(f"event #{num} ({name}): converter internal error {err.a}")

    def _reject(self, message: str) -> None:
        self.rejected += 1
        if self.strict:
            raise ScapError(message)


def convert(events: Iterable[Event]) -> Iterator[Event]:
    """The events as current libs delivers them from a savefile (see module docs);
    ScapError where upstream's converter fails."""
    converter = Converter()
    for evt in events:
        out = converter.convert(evt)
        if out is not None:
            yield out
