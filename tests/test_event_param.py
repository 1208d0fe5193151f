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
from libscap.params import CSTRING_TYPES, STRUCT_FORMATS
from libscap.savefile import ScapWarning, open_capture
from libscap.savefile.converter import Converter
from libscap.schema import EVENTS, PT

CAPTURE_FILES = sorted(CAPTURES.glob("*.scap"))


def _reference(evt: Event, i):
    """What the pure-Python path gives on a fresh copy (no shared caches): (value) or the exception."""
    copy = type(evt)(*evt)
    try:
        return ("ok", copy._param_slow(i))
    except Exception as exc:  # noqa: BLE001 - compared below
        return ("err", type(exc), str(exc))


def _c(evt: Event, i):
    copy = type(evt)(*evt)
    try:
        return ("ok", copy.param(i))
    except Exception as exc:  # noqa: BLE001
        return ("err", type(exc), str(exc))


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
            ref, got = _reference(evt, i), _c(evt, i)
            assert _same(ref, got), (evt, i, ref, got)
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
            ref, got = _reference(e, i), _c(e, i)
            assert _same(ref, got), (etype, raw, nparams, i, ref, got)


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
