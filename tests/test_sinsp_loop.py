"""The Inspector's event loop in C (libscap._events.SinspLoop, Inspector._run) against
the same loop in Python (Inspector._run_py): the same events returned with the same
context (num, thread, fd), the same counters and the same state at the end, on every
shared capture, with a filter, a listener, parse errors and crafted bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

import libsinsp.inspector as inspector_mod
from libscap import _events
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
    state = sorted((t.tid, t.pid, t.comm, t.exepath, t.lastaccess_ts, _rows(t.fdtable)) for t in insp.threads)
    return out, seen, insp.stats(), state


def _rows(fdtable) -> list[tuple]:
    """Every value of every fd row: the C loop's fast paths (open, close) must make
    the rows the Python parsers make."""
    from libsinsp.fdinfo import FdInfo

    return sorted((fd, tuple(repr(getattr(fi, slot)) for slot in FdInfo.__slots__)) for fd, fi in fdtable.items())


@pytest.mark.parametrize("filt", [None, "evt.type in (open, openat, close, read)"])
def test_c_loop_equals_python_loop(shared_capture: Path, filt: str | None) -> None:
    c = _snapshot(Inspector(), shared_capture, filt, use_py=False)
    py = _snapshot(Inspector(), shared_capture, filt, use_py=True)
    assert c == py


def _returned_only(shared_capture: Path, use_py: bool, codes, return_at_num: int | None):
    """(num, type) of the events returned with return_only(codes); from event number
    return_at_num on, return_at = that event's time (all later events come back)."""
    insp = Inspector()
    if use_py:
        insp._run = insp._run_py  # type: ignore[method-assign]
    insp.open_file(shared_capture)
    insp.return_only(codes)
    out = []
    while (s := insp.next()) is not None:
        out.append((s.num, s.evt[5]))
        if return_at_num is not None and s.num >= return_at_num and insp.return_at is None:
            insp.return_at = s.evt[2]
    return out, insp.skipped, insp.stats()


@pytest.mark.parametrize("return_at_num", [None, 40])
def test_return_only_in_c_equals_python(shared_capture: Path, return_at_num: int | None) -> None:
    """Only the wanted codes come back (until return_at: then every event), the rest
    is counted as skipped, and state is the same as when every event comes back."""
    from libscap.schema import PPME

    codes = {int(PPME.SYSCALL_OPEN_X), int(PPME.SYSCALL_OPENAT_2_X), int(PPME.SYSCALL_EXECVE_19_X)}
    c = _returned_only(shared_capture, False, codes, return_at_num)
    py = _returned_only(shared_capture, True, codes, return_at_num)
    assert c == py
    out, skipped, stats = c
    everything = _returned_only(shared_capture, False, None, None)
    assert len(out) + skipped == len(everything[0])
    assert stats["events_returned"] == len(out) and stats["threads"] == everything[2]["threads"]
    if return_at_num is None:
        assert all(t in codes for _, t in out)
        if skipped:
            assert len(out) < len(everything[0])


def test_return_at_zero_returns_the_next_event() -> None:
    insp = Inspector()
    insp.open_file(CAPTURES / "curl_google.scap")
    insp.return_only(())
    insp.return_at = 0
    first = insp.next()
    assert first is not None and first.num == 1
    insp.return_at = None
    with pytest.raises(ValueError, match="70000 is no event code"):
        insp.return_only([3, 70000])
    every = Inspector()
    every.open_file(CAPTURES / "curl_google.scap")
    assert insp.next() is None and insp.skipped == sum(1 for _ in every) - 1


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


def _crafted_open_close_events() -> list:
    """open/openat/openat2/close exits covering the C fast paths' common cases and
    every case they leave to the Python parsers."""
    import struct

    from libscap.event import Event
    from libscap.schema import PPME
    from libsinsp.parsers._common import O_CLOEXEC, O_DIRECTORY

    def fd(v):
        return struct.pack("<q", v)

    def u32(v):
        return struct.pack("<I", v)

    def path(p):
        return p.encode() + b"\0"

    open_x, openat_x, openat2_x, close_x = (PPME.SYSCALL_OPEN_X, PPME.SYSCALL_OPENAT_2_X, PPME.SYSCALL_OPENAT2_X,
                                            PPME.SYSCALL_CLOSE_X)
    ino = struct.pack("<Q", 77)
    specs = [
        (open_x, [fd(3), path("/etc/passwd"), u32(O_CLOEXEC), u32(0o644), u32(5), ino]),
        (open_x, [fd(4), path("rel/x"), u32(0), u32(0), u32(5), ino]),  # relative: Python
        (open_x, [fd(5), path("/a/./b//c/"), u32(0), u32(0), u32(5), ino]),  # not normal: Python
        (open_x, [fd(6), path("/dev/null"), u32(0), u32(0), u32(5), b""]),  # no ino: dev kept
        (open_x, [fd(7), b"", u32(0), u32(0), b"", b""]),  # no name: Python
        (open_x, [fd(-2), path("/nope"), u32(0), u32(0), u32(0), ino]),  # failed: nothing
        (open_x, [fd(8), path("/short")]),  # an old layout: Python
        (openat_x, [fd(9), fd(-100), path("/tmp/d"), u32(O_DIRECTORY), u32(0), u32(9), b""]),  # dev 0
        (openat_x, [fd(10), fd(9), path("inner"), u32(0), u32(0), u32(9), ino]),  # dirfd-relative: Python
        (openat_x, [fd(11), b"", path("/x"), u32(0), u32(0), u32(9), ino]),  # no dirfd: Python
        (openat2_x, [fd(12), fd(-100), path("/etc/hosts"), u32(O_CLOEXEC | O_DIRECTORY), u32(0), u32(0), u32(3), ino]),
        (open_x, [fd(13), path("/" + "x" * 4095), u32(0), u32(0), u32(0), ino]),  # too long: Python
        (close_x, [fd(0), fd(3)]),
        (close_x, [fd(-9), fd(4)]),  # failed close: the row stays
        (close_x, [fd(0), fd(99)]),  # an fd never seen
        (close_x, [fd(0), b""]),  # no fd
        (close_x, [fd(0)]),  # an old layout
        (close_x, [fd(0), fd(6)]),
        (close_x, [fd(0), fd(12)]),  # removals of consecutive closes
        (open_x, [fd(3), path("/etc/group"), u32(0), u32(0), u32(1), ino]),  # the fd reused
    ]
    return [Event.build(1000 + i, 100, etype, params) for i, (etype, params) in enumerate(specs)]


def test_c_fast_paths_equal_python_parsers() -> None:
    """The C loop's open/close fast paths leave every fd row, event fd and fdinfo
    exactly as the Python parsers do, case by case."""
    events = _crafted_open_close_events()
    runs = []
    for use_py in (False, True):
        insp = Inspector()
        if use_py:
            insp._run = insp._run_py  # type: ignore[method-assign]
        insp.open_events([type(e)(*e) for e in events], convert=False)
        per_event = []
        while (s := insp.next()) is not None:
            fi = s.fdinfo
            per_event.append((s.evt[5], s.fd, None if fi is None else tuple(repr(getattr(fi, n)) for n in fi.__slots__)))
        runs.append((per_event, sorted((t.tid, _rows(t.fdtable)) for t in insp.threads), insp.stats()))
    assert runs[0] == runs[1]
    rows = dict(dict(runs[0][1])[100])
    assert "'/etc/group'" in rows[3]  # closed, then reopened
    assert 6 not in rows and 12 not in rows and 4 in rows  # closed; a failed close keeps its row
    assert rows[9][1:3] == ("'d'", "'/tmp/d'") and rows[9][6] == "0"  # a directory; no ino: dev 0


@pytest.mark.parametrize("spec", [("not a kind",), (_events.FAST_CLOSE,), (_events.FAST_OPEN, 1, 2, 3),
                                  (_events.FAST_OPEN, 1, -1, 3, 4, 5, -1, 0, 0, "f", "d", False)])
def test_malformed_fast_path_spec_is_refused_at_open(spec: tuple) -> None:
    """A parser's fast_path spec is read once, when a source opens: a malformed one
    (wrong kind or length, a missing position) is an error there, not per event."""
    from libscap.schema import PPME
    from libsinsp.parsers import PARSERS

    def parser(_insp, _sevt):
        pass

    parser.fast_path = spec  # type: ignore[attr-defined]
    saved = PARSERS[PPME.SYSCALL_CLOSE_X]
    PARSERS[PPME.SYSCALL_CLOSE_X] = parser
    try:
        with pytest.raises(ValueError, match="fast path spec"):
            Inspector().open_events([])
    finally:
        PARSERS[PPME.SYSCALL_CLOSE_X] = saved
