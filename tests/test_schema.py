"""The event schema as data: completeness and internal consistency."""

from __future__ import annotations

import struct

from libscap.schema import (DYNAMIC_PARAMS, EF, EVENTS, FLAG_TABLES, PF, PPM_EVENT_MAX, PPME, PT,
                            SCHEMA_VERSION, SYSCALLS_X86_64, CONVERSIONS)
from libscap.event import Event
from libscap.errors import ScapError

import pytest


def test_table_size_and_version():
    assert PPM_EVENT_MAX == 454
    assert SCHEMA_VERSION.startswith("4.")
    assert [e.id for e in EVENTS] == list(range(PPM_EVENT_MAX))


def test_known_events():
    openx = EVENTS[PPME.SYSCALL_OPEN_X]
    assert openx.name == "open" and not openx.is_enter
    assert [p.name for p in openx.params] == ["fd", "name", "flags", "mode", "dev", "ino"]
    assert openx.params[2].type == PT.FLAGS32 and openx.params[2].info == "file_flags"
    assert openx.params[3].fmt == PF.OCT
    assert openx.flags & EF.CREATES_FD
    execve = EVENTS[PPME.SYSCALL_EXECVE_19_X]
    assert execve.params[1].name == "exe" and execve.params[2].name == "args"
    assert EVENTS[PPME.GENERIC_E].is_enter and EVENTS[PPME.GENERIC_X].direction == "<"


def test_enter_exit_pairs_share_names():
    # the unused half of an enter-only (procexit) or exit-only (close_range) event is NA
    for e in EVENTS[::2]:
        x = EVENTS[e.id + 1]
        assert e.name == x.name or "NA" in (e.name, x.name), (e.code, x.code)
        for half in (e, x):
            assert half.name != "NA" or half.category == 0, half.code


def test_param_references_resolve():
    for e in EVENTS:
        for p in e.params:
            if p.type in (PT.FLAGS8, PT.FLAGS16, PT.FLAGS32, PT.ENUMFLAGS8, PT.ENUMFLAGS16, PT.ENUMFLAGS32, PT.MODE):
                assert p.info in FLAG_TABLES, (e.code, p)
            if p.type == PT.DYN:
                assert p.info in DYNAMIC_PARAMS, (e.code, p)
            if p.type == PT.FSRELPATH:
                assert isinstance(p.info, int) and e.params[p.info].type in (PT.FD, PT.FD32), (e.code, p)


def test_flag_tables():
    ff = dict(FLAG_TABLES["file_flags"])
    assert ff["O_RDONLY"] == 1 << 0 and ff["O_CREAT"] == 1 << 2 and ff["O_CLOEXEC"]
    assert "CLONE_THREAD" in dict(FLAG_TABLES["clone_flags"])
    assert len(FLAG_TABLES) >= 50


def test_syscall_table():
    assert SYSCALLS_X86_64[59].name == "execve"
    assert EVENTS[SYSCALLS_X86_64[257].exit].name == "openat"
    assert EVENTS[SYSCALLS_X86_64[0].exit].name == "read"
    for sc in SYSCALLS_X86_64.values():
        if sc.flags == 0:  # not handled by a dedicated event: the generic pair
            assert sc.enter == PPME.GENERIC_E
            continue
        assert EVENTS[sc.enter].is_enter and not EVENTS[sc.exit].is_enter


def test_conversions_reference_events():
    codes = {e.code for e in EVENTS}
    assert len(CONVERSIONS) > 200
    for c in CONVERSIONS:
        assert c["event"] in codes
        if c["action"] == "change_type":
            assert c["to"] in codes


def test_event_view_decodes_lazily_and_checks_lengths():
    e = Event.build(5, 7, PPME.SYSCALL_OPEN_X,
                    [struct.pack("<q", 3), b"/etc/passwd\0", struct.pack("<I", 1), struct.pack("<I", 0o644),
                     struct.pack("<I", 0x803), struct.pack("<Q", 42)])
    assert e.get("name") == "/etc/passwd" and e.param(0) == 3 and e.get("ino") == 42
    assert Event.from_bytes(e.raw).raw_params() == e.raw_params()
    short = Event.build(5, 7, PPME.SYSCALL_OPEN_X, [struct.pack("<q", 3), b"/x\0"])  # an old layout
    assert short.get("name") == "/x" and short.get("flags", "absent") == "absent"
    broken = bytearray(e.raw)
    struct.pack_into("<H", broken, 26 + 2, 500)  # name length overruns the event
    with pytest.raises(ScapError, match="overrun"):
        Event.from_bytes(bytes(broken))
