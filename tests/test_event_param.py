"""Event.param(i) in C (libscap._events.EventBase) against its Python reference
(Event._param_slow): the same value, type and error for every parameter of every
shared capture (as stored and converted) and for events with arbitrary bytes."""

from __future__ import annotations

import math
import struct
import warnings

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import CAPTURES
from libscap.errors import ScapError
from libscap.event import Event
from libscap.params import CSTRING_TYPES, STRUCT_FORMATS, decode_value
from libscap.savefile import ScapWarning, open_capture
from libscap.savefile.converter import Converter
from libscap.schema import EVENTS, PT

CAPTURE_FILES = sorted(CAPTURES.glob("*.scap"))


def _reference(evt: Event, i):
    """What the pure-Python decoding gives on a fresh copy (no shared caches): the
    value or the exception (Python bounds, params.decode_value, as before C)."""
    copy = type(evt)(*evt)
    try:
        raw = copy._raw_param_slow(i)
        pinfo = copy.param_info(i)
        if pinfo is None:
            return ("ok", raw)
        try:
            return ("ok", decode_value(pinfo, raw))
        except (ValueError, IndexError, struct.error) as exc:
            raise ScapError(f"{copy.name} event, parameter {pinfo.name!r} ({pinfo.type.name}): {exc}") from None
    except Exception as exc:  # noqa: BLE001 - compared below
        return ("err", type(exc), str(exc))


def _c(evt: Event, i, method="param"):
    copy = type(evt)(*evt)
    try:
        return ("ok", getattr(copy, method)(i))
    except Exception as exc:  # noqa: BLE001
        return ("err", type(exc), str(exc))


def _raw_reference(evt: Event, i):
    return _c(evt, i, "_raw_param_slow")


def _check(evt: Event, i) -> None:
    ref, got = _reference(evt, i), _c(evt, i)
    assert _same(ref, got), (evt, i, ref, got)
    # twice on one event: a cached (slow-path) value and a fresh C decoding agree
    twice = type(evt)(*evt)
    for _ in range(2):
        try:
            again = ("ok", twice.param(i))
        except Exception as exc:  # noqa: BLE001
            again = ("err", type(exc), str(exc))
        assert _same(ref, again), (evt, i, ref, again)
    ref, got = _raw_reference(evt, i), _c(evt, i, "raw_param")
    assert _same(ref, got), (evt, i, ref, got)
    # opt_param (the parsers' param(evt, i)): None past nparams, else param(i)
    opt = _c(evt, i, "opt_param")
    assert _same(("ok", None) if i >= evt.nparams else _reference(evt, i), opt), (evt, i, opt)


def _same(a, b) -> bool:
    if a[0] == "ok" and b[0] == "ok":
        x, y = a[1], b[1]
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x):
            return math.isnan(y)
        return type(x) is type(y) and x == y
    return a == b


@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("converted", [False, True], ids=["stored", "converted"])
def test_every_parameter_of_the_shared_captures(path, converted):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScapWarning)
        with open_capture(path) as cap:
            events = list(cap.events(Converter(strict=False) if converted else None))
    n = 0
    for evt in events:
        for i in range(-1, evt.nparams + 1):
            _check(evt, i)
            n += 1
    assert n > len(events)


def test_cached_and_fresh_agree():
    """A value decoded by the slow path (cached) and by C read alike, in any order."""
    info = next(e for e in EVENTS if [p.type for p in e.params[:2]] == [PT.FD, PT.FSPATH])
    evt = Event.build(1, 2, info.id, [struct.pack("<q", 7), b"/etc/x\0"] +
                      [b""] * (len(info.params) - 2))
    assert evt.param(0) == 7 and evt.param(1) == "/etc/x"
    assert evt._param_slow(1) == "/etc/x" and evt.param(1) == "/etc/x"


def _fast_types():
    return sorted((i for i, e in enumerate(EVENTS)
                   if any(p.type in STRUCT_FORMATS or p.type in CSTRING_TYPES or p.type == PT.BOOL
                          for p in e.params)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(etype=st.sampled_from(_fast_types()) | st.integers(0, (1 << 16) - 1),
       params=st.lists(st.binary(max_size=12) | st.sampled_from([b"a\xffb\0c", b"\0", b"x" * 8]), max_size=8),
       nparams_delta=st.integers(-2, 2), len_delta=st.integers(-6, 3), lens_override=st.binary(max_size=6))
def test_arbitrary_events_agree(etype, params, nparams_delta, len_delta, lens_override):
    """Well-formed, short, overrun and beyond-the-table events: same values, same errors."""
    evt = Event.build(5, 6, etype, params)
    raw = bytearray(evt.raw)
    raw[26:26 + len(lens_override)] = lens_override
    raw = bytes(raw[:max(0, len(raw) + min(len_delta, 0))]) + bytes(max(len_delta, 0))
    nparams = max(0, evt.nparams + nparams_delta)
    length = len(raw)
    for buf, off in ((raw, 0), (b"\x01" * 5 + raw, 5)):
        e = Event(buf, off, 5, 6, length, etype, nparams)
        for i in range(-1, nparams + 2):
            _check(e, i)


def test_savefile_errors_keep_their_context(tmp_path):
    """A malformed event read from a file: C's param raises through the savefile's
    _param_slow, so the ScapError names the file and the offset."""
    from libscap.savefile.reader import SavefileEvent

    class Buf(bytes):
        path, base, gz = "x.scap", 100, False

    info = next(e for e in EVENTS if e.params and e.params[0].type == PT.FD)
    good = Event.build(1, 2, info.id, [struct.pack("<q", 3)] + [b""] * (len(info.params) - 1))
    bad = bytearray(good.raw)
    bad[26:28] = (4).to_bytes(2, "little")  # the fd parameter claims 4 bytes: wrong size
    evt = SavefileEvent(Buf(bytes(bad)), 0, 1, 2, len(bad), info.id, good.nparams)
    with pytest.raises(ScapError) as err:
        evt.param(0)
    assert err.value.path == "x.scap" and err.value.offset == 100
    bad[26:28] = (0xFFFF).to_bytes(2, "little")  # overruns the event
    evt = SavefileEvent(Buf(bytes(bad)), 0, 1, 2, len(bad), info.id, good.nparams)
    with pytest.raises(ScapError) as err:
        evt.param(1)
    assert err.value.path == "x.scap" and "overrun" in err.value.message
