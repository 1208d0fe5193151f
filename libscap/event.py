"""The event: a lazy view over PPM wire-format bytes.

An event is ``{u64 ts; u64 tid; u32 len; u16 type; u32 nparams}`` (26 bytes,
packed, little-endian), then ``nparams`` parameter lengths (u16, or u32 for
EF_LARGE_PAYLOAD events), then the parameter bytes. ``Event`` keeps the buffer
and offset it came from; parameter lengths are read on the first parameter
access and each value is decoded on first access and cached.

``param(i)`` itself is C (``libscap._events.EventBase``): numeric and C-string
parameters -- what parsers read most -- are decoded from the buffer in place on
every call (cheaper than a cache), everything else and every malformed event
goes to ``_param_slow``, the reference implementation below.
"""

from __future__ import annotations

import struct
from operator import itemgetter
from typing import Any, Callable, Iterator

from . import _events
from .errors import ScapError
from .params import CSTRING_TYPES, STRUCT_FORMATS, decoder_of
from .schema import EVENT_HEADER_LEN, EVENTS, PPM_EVENT_MAX, PT, EventInfo, ParamInfo

HEADER = struct.Struct("<QQIHI")

# The decoder kinds of _events.c's param(i) (0: _param_slow decodes).
_KIND_OF_FORMAT = {"b": 1, "h": 2, "i": 3, "q": 4, "B": 5, "H": 6, "I": 7, "Q": 8, "d": 10}
_KIND_BOOL, _KIND_CSTR = 9, 11


def _c_kind(pinfo: ParamInfo) -> int:
    if pinfo.type in STRUCT_FORMATS:
        return _KIND_OF_FORMAT[STRUCT_FORMATS[pinfo.type]]
    if pinfo.type == PT.BOOL:
        return _KIND_BOOL
    if pinfo.type in CSTRING_TYPES:
        return _KIND_CSTR
    return 0


#: per event type of the table: the width of its parameter lengths (4 for
#: EF_LARGE_PAYLOAD types, else 2)
PARAM_LEN_WIDTH: tuple[int, ...] = tuple(4 if info.large_payload else 2 for info in EVENTS)
#: an event as the C modules hand it over (_scan.h SCAN_RECORD_SIZE): the Event
#: fields after ``buf`` (off, ts, tid, len, type, nparams, cpu, num, flags), packed
RECORD = struct.Struct("<QQQIHIHQI")
assert RECORD.size == _events.SCAN_RECORD_SIZE


def _c_tables() -> tuple[bytes, bytes]:
    width = _events.MAX_PARAMS
    kinds = bytearray(len(EVENTS) * width)
    for info in EVENTS:
        for i, pinfo in enumerate(info.params[:width]):
            kinds[info.id * width + i] = _c_kind(pinfo)
    return bytes(w == 4 for w in PARAM_LEN_WIDTH), bytes(kinds)


assert all(info.id == i for i, info in enumerate(EVENTS))
_events.set_schema(*_c_tables())
#: per event type, its parameters' positions by name
_POSITIONS: tuple[dict[str, int], ...] = tuple(info.param_positions for info in EVENTS)
_PARAMS: tuple[tuple[ParamInfo, ...], ...] = tuple(info.params for info in EVENTS)
#: per event type, the decoder of each parameter (of its non-empty bytes), chosen once
_DECODERS: tuple[tuple[Callable[[bytes], Any], ...], ...] = tuple(
    tuple(decoder_of(p) for p in info.params) for info in EVENTS)


class Event(_events.EventBase):
    """One event over ``buf[off:off+len]``.

    ``cpu`` is the CPU the event was captured on (-1 if unknown), ``num`` its
    number in the stream it came from, ``flags`` the EVF block flags (0 otherwise).

    A tuple ``(buf, off, ts, tid, len, type, nparams, cpu, num, flags)`` with
    read-only named fields: the reader builds events from packed records with
    ``tuple.__new__`` and no Python code per event. The lazy parameter caches
    live in the instance ``__dict__``, created only on the first parameter
    access (the class attributes below are the "not yet" defaults). Equality
    and hashing stay by identity, as for any event object.
    """

    buf: bytes = property(itemgetter(0))  # type: ignore[assignment]
    off: int = property(itemgetter(1))  # type: ignore[assignment]
    ts: int = property(itemgetter(2))  # type: ignore[assignment]
    tid: int = property(itemgetter(3))  # type: ignore[assignment]
    len: int = property(itemgetter(4))  # type: ignore[assignment]
    type: int = property(itemgetter(5))  # type: ignore[assignment]
    nparams: int = property(itemgetter(6))  # type: ignore[assignment]
    cpu: int = property(itemgetter(7))  # type: ignore[assignment]
    num: int = property(itemgetter(8))  # type: ignore[assignment]
    flags: int = property(itemgetter(9))  # type: ignore[assignment]
    _bounds: tuple[tuple[int, int], ...] | None = None
    _values: dict[int, Any] | None = None

    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    def __new__(cls, buf: bytes, off: int, ts: int, tid: int, length: int, etype: int,
                nparams: int, cpu: int = -1, num: int = 0, flags: int = 0) -> "Event":
        return tuple.__new__(cls, (buf, off, ts, tid, length, etype, nparams, cpu, num, flags))

    def __getnewargs__(self) -> tuple:
        """Copy and pickle through the positional constructor (tuple's would pass one tuple)."""
        return tuple(self)

    @classmethod
    def from_bytes(cls, raw: bytes, cpu: int = -1, num: int = 0, flags: int = 0) -> "Event":
        """An event over a standalone byte string (validated)."""
        if len(raw) < EVENT_HEADER_LEN:
            raise ScapError(f"event of {len(raw)} bytes is shorter than its {EVENT_HEADER_LEN}-byte header")
        ts, tid, length, etype, nparams = HEADER.unpack_from(raw, 0)
        if length != len(raw):
            raise ScapError(f"event header says {length} bytes but {len(raw)} were given")
        evt = cls(raw, 0, ts, tid, length, etype, nparams, cpu, num, flags)
        evt.validate()
        return evt

    @classmethod
    def build(cls, ts: int, tid: int, etype: int, params: list[bytes], cpu: int = -1,
              num: int = 0, flags: int = 0) -> "Event":
        """Encode an event from raw parameter bytes (length width from the table)."""
        info = EVENTS[etype] if 0 <= etype < PPM_EVENT_MAX else None
        large = info is not None and info.large_payload
        lens = struct.pack("<%d%s" % (len(params), "I" if large else "H"), *(len(p) for p in params))
        length = EVENT_HEADER_LEN + len(lens) + sum(len(p) for p in params)
        raw = HEADER.pack(ts, tid, length, etype, len(params)) + lens + b"".join(params)
        return cls(raw, 0, ts, tid, length, etype, len(params), cpu, num, flags)

    # -- schema ---------------------------------------------------------------

    @property
    def info(self) -> EventInfo | None:
        """This event's table entry (None for a type beyond the table)."""
        etype = self[5]
        return EVENTS[etype] if etype < PPM_EVENT_MAX else None

    @property
    def name(self) -> str:
        info = self.info
        return info.name if info is not None else "NA"

    @property
    def direction(self) -> str:
        return ">" if self.type & 1 == 0 else "<"

    @property
    def raw(self) -> bytes:
        """The event's bytes exactly as stored."""
        return bytes(self.buf[self.off:self.off + self.len])

    # -- parameters -----------------------------------------------------------

    def _param_bounds(self) -> tuple[tuple[int, int], ...]:
        """(start, end) in ``buf`` of every parameter, computed once per event."""
        bounds = self._bounds
        if bounds is None:
            info = self.info
            width = 4 if info is not None and info.large_payload else 2
            data = EVENT_HEADER_LEN + width * self.nparams
            if data > self.len:
                raise ScapError(f"{self.name} event: {self.nparams} parameter lengths overrun its {self.len} bytes")
            lens = struct.unpack_from("<%d%s" % (self.nparams, "I" if width == 4 else "H"),
                                      self.buf, self.off + EVENT_HEADER_LEN)
            if data + sum(lens) > self.len:
                raise ScapError(f"{self.name} event: parameter lengths {list(lens)} overrun its {self.len} bytes")
            start = self.off + data
            spans = []
            for n in lens:
                spans.append((start, start + n))
                start += n
            bounds = self._bounds = tuple(spans)
        return bounds

    def validate(self) -> None:
        """Raise ScapError if the parameter lengths do not fit the event."""
        self._param_bounds()

    # raw_param(i), inherited from _events.EventBase (C), reads well-formed events
    # and calls this for the rest (the reference, raising the errors).

    def _raw_param_slow(self, i: int) -> bytes:
        """The bytes of parameter ``i`` as stored."""
        bounds = self._param_bounds()
        if not 0 <= i < len(bounds):
            raise IndexError(f"{self.name} event has {len(bounds)} parameters, not {i + 1}")
        start, end = bounds[i]
        return bytes(self.buf[start:end])

    def raw_params(self) -> list[bytes]:
        """Every parameter's bytes, in order."""
        return [self.raw_param(i) for i in range(self.nparams)]

    def param_info(self, i: int) -> ParamInfo | None:
        """The schema entry of parameter ``i`` (None where the table has none)."""
        etype = self[5]
        params = _PARAMS[etype] if etype < PPM_EVENT_MAX else ()
        return params[i] if i < len(params) else None

    # param(i), inherited from _events.EventBase (C), decodes what it can in place
    # and calls this for the rest.

    def _param_slow(self, i: int) -> Any:
        """Parameter ``i`` decoded by its PT_* type (bytes where the table has no entry);
        cached per event. The reference for, and fallback of, the C ``param``."""
        values = self._values
        if values is None:
            values = self._values = {}
        elif i in values:
            return values[i]
        raw = self.raw_param(i)
        etype = self[5]
        decoders = _DECODERS[etype] if etype < PPM_EVENT_MAX else ()
        if i >= len(decoders):  # no table entry: the bytes
            value: Any = raw
        elif not raw:
            value = None
        else:
            try:
                value = decoders[i](raw)
            except (ValueError, IndexError, struct.error) as exc:
                pinfo = EVENTS[etype].params[i]
                raise ScapError(f"{self.name} event, parameter {pinfo.name!r} ({pinfo.type.name}): {exc}") from None
        values[i] = value
        return value

    def param_index(self, name: str) -> int | None:
        """Index of the parameter called ``name`` in this event's table entry."""
        etype = self[5]  # fields ask per event: no property on the way
        i = _POSITIONS[etype].get(name) if etype < PPM_EVENT_MAX else None
        return i if i is not None and i < self[6] else None

    def get(self, name: str, default: Any = None) -> Any:
        """Parameter ``name`` decoded, or ``default`` if this event has none."""
        i = self.param_index(name)
        return default if i is None else self.param(i)

    def params(self) -> Iterator[tuple[ParamInfo | None, Any]]:
        """(schema entry, decoded value) for every parameter present."""
        for i in range(self.nparams):
            yield self.param_info(i), self.param(i)

    def __repr__(self) -> str:
        return f"<Event {self.num} ts={self.ts} tid={self.tid} {self.direction} {self.name} nparams={self.nparams}>"
