"""Formatter: token parsing, rendering rules, Falco's output_fields map, errors."""

from __future__ import annotations

import struct

import pytest

from libscap.event import Event
from libscap.schema import PPME
from libsinsp.event import SinspEvent
from libsinsp.fdinfo import FdInfo
from libsinsp.formatter import FormatError, Formatter
from libsinsp.threadinfo import ThreadInfo
from libsinsp.users import GroupTable, UserTable


class _Insp:
    def __init__(self, *threads: ThreadInfo) -> None:
        self.threads = {t.tid: t for t in threads}
        self.users = UserTable()
        self.groups = GroupTable()


@pytest.fixture()
def sevt() -> SinspEvent:
    parent = ThreadInfo(10, 10, 1)
    parent.comm = "bash"
    t = ThreadInfo(20, 20, 10)
    t.comm, t.exe, t.args = "cat", "cat", ("/etc/ld.so.cache",)
    t.fdtable[3] = FdInfo(3, "f", "/etc/ld.so.cache")
    t.fdtable[3].dev = 0x803
    q = lambda v: struct.pack("<q", v)  # noqa: E731
    evt = Event.build(1_600_000_000_000000007, 20, PPME.SYSCALL_OPENAT_2_X,
                      [q(3), q(-100), b"/etc/ld.so.cache\0", struct.pack("<I", 4097), struct.pack("<I", 0),
                       struct.pack("<I", 0x803), struct.pack("<Q", 77)], cpu=1)
    s = SinspEvent(_Insp(parent, t))  # type: ignore[arg-type]
    s.reset(evt, 5, t)
    s.fdinfo = t.fdtable[3]
    return s


def test_args_with_resolved_fds(sevt: SinspEvent) -> None:
    line = Formatter("%evt.num %proc.name (%thread.tid) %evt.dir %evt.type %evt.args").format(sevt)
    assert line == ("5 cat (20) < openat fd=3(<f>/etc/ld.so.cache) dirfd=-100(AT_FDCWD) name=/etc/ld.so.cache "
                    "flags=4097(O_RDONLY|O_CLOEXEC) mode=0 dev=803 ino=77")


def test_missing_values_and_the_star(sevt: SinspEvent) -> None:
    assert Formatter("%proc.name %fd.sip").render(sevt) is None  # sysdig skips the line
    assert Formatter("*%proc.name %fd.sip").render(sevt) == "cat <NA>"
    assert Formatter("%proc.name %fd.sip").format(sevt) == "cat <NA>"  # Falco always prints


def test_print_formats_widths_and_transformers(sevt: SinspEvent) -> None:
    f = Formatter("%evt.rawtime.ns|%fd.dev|%6proc.name|%2proc.pname|%toupper(proc.name)|%proc.name.|%evt.cpu")
    assert f.format(sevt) == "000000007|803|cat   |ba|CAT|cat.|1"
    assert f.field_names == ["evt.rawtime.ns", "fd.dev", "proc.name", "proc.pname", "evt.cpu"]


def test_values_are_falcos_output_fields(sevt: SinspEvent) -> None:
    f = Formatter("%proc.name %proc.aname[1] %fd.num %evt.rawarg.flags %evt.is_open_read %fd.sip %fd.dev %evt.arg.fd")
    # flags print in hex (their PF_HEX format), so upstream's JSON has them as a hex string
    assert f.values(sevt) == {
        "proc.name": "cat", "proc.aname[1]": "bash", "fd.num": 3, "evt.rawarg.flags": "1001",
        "evt.is_open_read": True, "fd.sip": None, "fd.dev": "803", "evt.arg.fd": "<f>/etc/ld.so.cache",
    }  # fmt: skip
    assert f.to_json(sevt).startswith('{"proc.name":"cat","proc.aname[1]":"bash","fd.num":3,')


@pytest.mark.parametrize(
    ("fmt", "message", "pos"),
    [
        ("%proc.name %proc.nosuch", "unknown field 'proc.nosuch'", 11),
        ("abc %", "format ends with '%'", 4),
        ("%evt.arg", "requires an argument", 0),
        ("x %proc.aname[zz]", "numeric index", 2),
        ("", "empty format", 0),
    ],
)
def test_format_errors_name_field_and_position(fmt: str, message: str, pos: int) -> None:
    with pytest.raises(FormatError, match=message) as ei:
        Formatter(fmt)
    assert ei.value.pos == pos
