"""The converter on the real (old-layout, enter/exit) captures of ../shared/captures.

Expectations come from the raw records themselves (pairing each exit with the
enter event before it on the same thread) and from the schema, not from the
converter's own rules.
"""

from __future__ import annotations

import pytest

from conftest import CAPTURES
from libscap.event import Event
from libscap.savefile import open_capture
from libscap.savefile.converter import convert
from libscap.schema import CONVERSIONS, EF, EVENTS

OLD_CAPTURES = ["cat_write", "curl_google", "single_ipv6_conn", "syscall", "test_ipv6_client"]

#: Enter events current libs still delivers: events the converter does not manage
#: (procinfo, sched switch, procexit) and layouts whose rule is to pass them on.
PASSED_ENTER = {"PPME_PROCINFO_E", "PPME_SCHEDSWITCH_6_E", "PPME_PROCEXIT_1_E",
                "PPME_SYSCALL_OPEN_E", "PPME_SOCKET_CONNECT_E"}


def _raw_and_converted(name: str) -> tuple[list[Event], list[Event]]:
    path = CAPTURES / f"{name}.scap"
    raw = list(open_capture(path).events())
    return raw, list(convert(open_capture(path).events()))


@pytest.fixture(scope="module", params=OLD_CAPTURES)
def streams(request) -> tuple[str, list[Event], list[Event]]:
    return (request.param, *_raw_and_converted(request.param))


def test_captures_are_old_layouts(streams):
    name, raw, _ = streams
    assert any(e.info.is_enter and e.info.flags & EF.CONVERTER_MANAGED for e in raw), name


def test_only_passed_enter_events_remain(streams):
    _, _, converted = streams
    left = {e.info.code for e in converted if e.info.is_enter}
    assert left <= PASSED_ENTER
    # ... and each of those really is let through per the schema
    for e in converted:
        if e.info.is_enter and e.info.flags & EF.CONVERTER_MANAGED:
            rule = next(c for c in CONVERSIONS if c["event"] == e.info.code and c["nparams"] == e.nparams)
            assert rule["action"] in ("pass", "store_and_pass")


def test_exit_events_have_the_current_layout(streams):
    """Exit events the converter manages come out with every parameter of today's
    table. Upstream passes events it does not manage unchanged, whatever their
    parameter count (these captures' setsockopt/getsockopt exits have none)."""
    _, raw, converted = streams
    raw_by_num = {e.num: e for e in raw}
    exits = [e for e in converted if not e.info.is_enter]
    assert exits
    for e in exits:
        assert not e.info.flags & EF.OLD_VERSION, e
        if e.info.flags & EF.CONVERTER_MANAGED:
            assert e.nparams == len(EVENTS[e.type].params), e
        else:
            assert e.raw == raw_by_num[e.num].raw
        e.validate()


def test_converted_events_keep_order_time_thread_and_cpu(streams):
    _, raw, converted = streams
    by_num = {e.num: e for e in raw}
    nums = [e.num for e in converted]
    assert nums == sorted(nums)
    for e in converted:
        src = by_num[e.num]
        assert (e.ts, e.tid, e.cpu) == (src.ts, src.tid, src.cpu)


def _enter_before(raw: list[Event]) -> dict[int, Event]:
    """Exit event number -> the enter event right before it on its thread, if it is its enter."""
    last: dict[int, Event] = {}
    pairs = {}
    for e in raw:
        if e.info.is_enter:
            last[e.tid] = e
        else:
            enter = last.pop(e.tid, None)
            if enter is not None and enter.type == e.type - 1:
                pairs[e.num] = enter
    return pairs


def test_exit_values_match_the_raw_pair(streams):
    """Every parameter of a converted exit equals the raw exit's parameter of the
    same name, or else (a parameter only the enter event had) the raw enter's."""
    _, raw, converted = streams
    raw_by_num = {e.num: e for e in raw}
    pairs = _enter_before(raw)
    from_enter = 0
    for conv in converted:
        if conv.info.is_enter:
            continue
        exit_raw = raw_by_num[conv.num]
        enter = pairs.get(conv.num)
        for i, p in enumerate(conv.info.params):
            j = exit_raw.param_index(p.name)
            if j is not None:
                assert conv.raw_param(i) == exit_raw.raw_param(j), (conv, p.name)
            elif enter is not None and enter.param_index(p.name) is not None:
                assert conv.param(i) == enter.get(p.name), (conv, p.name)
                from_enter += 1
    assert from_enter > 0


def test_open_exit_name_equals_enter_name_where_given():
    raw, converted = _raw_and_converted("cat_write")
    names = [e.get("name") for e in converted if e.info.code == "PPME_SYSCALL_OPEN_X"]
    assert "/etc/ld.so.cache" in names and "/dev/null" in names


def test_read_exit_carries_enter_fd_and_size():
    raw, converted = _raw_and_converted("cat_write")
    reads = [(e.get("fd"), e.get("size")) for e in converted if e.info.code == "PPME_SYSCALL_READ_X"]
    # sysdig -r cat_write.scap: "> read fd=3(<f>/lib/x86_64-linux-gnu/libc.so.6) size=832"
    assert (3, 832) in reads


def test_exit_after_a_stale_enter_is_delivered():
    """curl_google twice in a row (as the benchmark capture is built): curl's execve exit
    opens the second copy while its thread's last stored enter is the exit_group of the
    first copy. The execve is delivered, with the exit's own values."""
    events = list(open_capture(CAPTURES / "curl_google.scap").events())
    converted = list(convert(events + events))
    execs = [e for e in converted if e.info.code == "PPME_SYSCALL_EXECVE_19_X" and e.tid == 17497]
    assert len(execs) == 2
    assert execs[0].raw == execs[1].raw
    assert (execs[1].get("res"), execs[1].get("exe")) == (0, "curl")
