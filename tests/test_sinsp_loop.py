"""The Inspector's event loop in C (libscap._events.SinspLoop, Inspector._run) against
the same loop in Python (Inspector._run_py): the same events returned with the same
context (num, thread, fd), the same counters and the same state at the end, on every
shared capture, with a filter, a listener, parse errors and crafted bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

import libsinsp.inspector as inspector_mod
from libscap.errors import ScapError
from libsinsp import Inspector
from tests.conftest import CAPTURE_EVENT_COUNTS, CAPTURES


def _snapshot(insp: Inspector, path: Path, filt: str | None, use_py: bool, raise_on: int | None = None):
    seen: list[tuple] = []
    if use_py:
        insp._run = insp._run_py  # type: ignore[method-assign]
    if filt is not None:
        insp.set_filter(filt)
    insp.add_event_listener(lambda s: seen.append((s.num, s.evt[2], s.tinfo.tid if s.tinfo else None)))
    saved = None
    if raise_on is not None:
        from libsinsp.parsers import PARSERS

        saved = dict(PARSERS)

        def bad(_insp, _sevt):
            raise ScapError("crafted")

        PARSERS[raise_on] = bad
    try:
        insp.open_file(path)
        out = []
        while (s := insp.next()) is not None:
            fi = s.fdinfo
            out.append((s.num, s.evt[2], s.evt[5], s.tinfo.tid if s.tinfo else None,
                        s.tinfo.comm if s.tinfo else None, s.fd, fi.name if fi is not None else None))
    finally:
        if saved is not None:
            from libsinsp.parsers import PARSERS

            PARSERS.clear()
            PARSERS.update(saved)
    state = sorted((t.tid, t.pid, t.comm, t.exepath, t.lastaccess_ts, sorted(t.fdtable)) for t in insp.threads)
    return out, seen, insp.stats(), state


@pytest.mark.parametrize("filt", [None, "evt.type in (open, openat, close, read)"])
def test_c_loop_equals_python_loop(shared_capture: Path, filt: str | None) -> None:
    c = _snapshot(Inspector(), shared_capture, filt, use_py=False)
    py = _snapshot(Inspector(), shared_capture, filt, use_py=True)
    assert c == py


def test_c_loop_parse_errors_counted_like_python(shared_capture: Path) -> None:
    from libscap.schema import PPME

    etype = PPME.SYSCALL_CLOSE_X
    c = _snapshot(Inspector(), shared_capture, None, use_py=False, raise_on=etype)
    py = _snapshot(Inspector(), shared_capture, None, use_py=True, raise_on=etype)
    assert c == py


@pytest.mark.parametrize("stem", [s for s, n in sorted(CAPTURE_EVENT_COUNTS.items()) if n])
def test_c_loop_other_exceptions_end_the_loop(stem: str) -> None:
    class Boom(Exception):
        pass

    def listener(_s):
        raise Boom

    for use_py in (False, True):
        insp = Inspector()
        if use_py:
            insp._run = insp._run_py  # type: ignore[method-assign]
        insp.add_event_listener(listener)
        insp.open_file(CAPTURES / f"{stem}.scap")
        with pytest.raises(Boom):
            insp.next()
        assert insp.next() is None  # a generator is finished after an exception


def test_c_loop_over_iterables_and_bad_events() -> None:
    """open_events (a generator as the one batch), the SinspEvent type checked."""
    from libscap.savefile import open_capture

    with open_capture(CAPTURES / "cat_write.scap") as cap:
        events = list(cap.events())
    res = []
    for use_py in (False, True):
        insp = Inspector()
        if use_py:
            insp._run = insp._run_py  # type: ignore[method-assign]
        insp.open_events(iter(events))
        res.append([(s.num, s.evt[2], s.tinfo.tid if s.tinfo else None) for s in insp])
    assert res[0] == res[1] and res[0]
    assert inspector_mod.SinspLoop is not None
    with pytest.raises(TypeError):
        insp = Inspector()
        insp._start([[("not", "an", "event")]], None)
        insp.next()
