"""evt.* fields added for upstream parity, on crafted events: evt.reltime from the first
event that is no metaevent, evt.buffer present (empty) on an empty read, evt.deltatime
per field instance, the evt.count.error family, the deprecated latency fields (0 in
current libs)."""

from __future__ import annotations

from test_sinsp_parsers import base, ev

from libsinsp import Inspector
from libsinsp.fields import registry
from libsinsp.filter import compile_filter, parse
from libsinsp.formatter import Formatter


def lines(events, fmt):
    insp = Inspector()
    insp.open_events(events)
    f = Formatter(fmt)
    return {s.evt.ts: f.format(s) for s in insp}


EVENTS = base() + [
    ev(10, 100, "SYSCALL_READ_X", res=0, data=b"", fd=3, size=10),
    ev(15, 100, "SYSCALL_OPEN_X", fd=-2, name="/nope", flags=1),
    ev(30, 100, "SYSCALL_BRK_4_X", res=0x1000),
]


def test_reltime_deltatime_latency():
    r = lines(EVENTS, "%evt.reltime %evt.deltatime %evt.deltatime.ns %evt.latency %evt.latency.human")
    assert r[1] == "000000000 0 000000000 0 0ns"
    assert r[10] == "000000009 6 000000006 0 0ns"
    assert r[30] == "000000029 15 000000015 0 0ns"


def test_empty_read_has_a_buffer():
    flt = compile_filter(parse("evt.buffer exists"), registry())
    insp = Inspector()
    insp.open_events(EVENTS)
    assert [s.evt.ts for s in insp if flt(s)] == [10]


def test_error_counts():
    r = lines(EVENTS, "*%evt.count.error %evt.count.error.file %evt.count.error.net %evt.count.error.memory "
                      "%evt.count.error.other")
    assert r[10] == "0 0 <NA> <NA> <NA>"  # a read on a file that succeeded
    assert r[15] == "1 1 <NA> <NA> <NA>"  # a failed open: no fd, a file by its event type
    assert r[30] == "0 <NA> <NA> 0 <NA>"  # brk: memory
