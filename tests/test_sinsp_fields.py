"""Field classes: coverage of the official rules, registry behaviour, and values
extracted from hand-built state (expected values written out by hand)."""

from __future__ import annotations

import ipaddress
import re
import struct
from pathlib import Path

import pytest
import yaml

from libscap.event import Event
from libscap.schema import PPME
from libscap.savefile import GroupInfo, UserInfo
from libsinsp.event import SinspEvent
from libsinsp.fdinfo import FdInfo
from libsinsp.fields import FieldError, registry
from libsinsp.filter import compile_filter, parse
from libsinsp.filter.fields import ArgRule, FieldInfo, FieldType
from libsinsp.threadinfo import ThreadInfo
from libsinsp.users import GroupTable, UserTable

RULES = sorted(Path(__file__).resolve().parents[2].joinpath("shared", "rules").glob("*.yaml"))
_CLASSES = ("evt", "proc", "thread", "fd", "user", "group", "container", "k8s", "fs", "syscall")
_FIELD = re.compile(r"(?<![\w.])((?:" + "|".join(_CLASSES) + r")\.[A-Za-z0-9_.]*[A-Za-z0-9_])")


def _rule_fields() -> set[str]:
    """Field names used by the official rules: conditions, outputs and exception fields."""
    names: set[str] = set()
    for path in RULES:
        for item in yaml.safe_load(path.read_text()) or ():
            texts = [item.get("condition") or "", item.get("output") or ""]
            for ex in item.get("exceptions") or ():
                fields = ex.get("fields") or ()
                texts.extend([fields] if isinstance(fields, str) else fields)
            for text in texts:
                names.update(m.group(1) for m in _FIELD.finditer(text))
    return names


def test_every_field_of_the_official_rules_is_known() -> None:
    assert RULES, "official rules not found"
    used = _rule_fields()
    assert {"proc.aname", "fd.sip", "evt.arg.flags", "container.image.repository", "k8s.ns.name"} <= used
    missing = sorted(n for n in used if registry().lookup(n) is None)
    assert missing == []


def test_lookup_dotted_and_dynamic_arguments() -> None:
    reg = registry()
    assert reg.lookup("evt.arg.fd").name == "evt.arg"
    assert reg.lookup("proc.name").type == FieldType.CHARBUF
    assert reg.lookup("evt.rawarg.res").type == FieldType.INT64
    assert reg.lookup("evt.rawarg.name").type == FieldType.FSPATH
    assert reg.lookup("proc.name.foo") is None  # proc.name takes no argument
    assert reg.lookup("nosuch.field") is None
    with pytest.raises(FieldError, match="no event parameter called 'nosuchparam'"):
        reg.bind("evt.rawarg", "nosuchparam")


def test_add_fields_rejects_overlapping_names() -> None:
    from libsinsp.fields.registry import SinspFieldRegistry

    reg = SinspFieldRegistry()
    infos = [FieldInfo("myplug.count", FieldType.UINT64, ArgRule.NONE, False, "a counter")]
    reg.add_fields("myplug", infos, lambda info, arg: (lambda e: 7), ["myplug_source"])
    assert reg.make_extractor(reg.lookup("myplug.count"), None)(None) == 7
    assert reg.sources_of("myplug.count") == ("myplug_source",)
    with pytest.raises(FieldError, match="myplug.count"):
        reg.add_fields("other", infos, lambda info, arg: (lambda e: 0), ["x"])
    with pytest.raises(FieldError, match="proc.name"):
        registry().add_fields("bad", [FieldInfo("proc.name", FieldType.CHARBUF)], lambda i, a: (lambda e: 0), ["x"])


def test_listing_has_classes_types_and_descriptions() -> None:
    classes = {fc.name: fc for fc in registry().fields_by_class()}
    assert {"evt", "process", "user", "group", "container", "fd", "fs.path"} <= set(classes)
    for spec in registry():
        assert spec.info.description, spec.name
        d = spec.as_dict()
        assert d["name"] == spec.name and d["class"] == spec.cls and d["type"]


# -- extraction on hand-built state -------------------------------------------------------


class _Threads:
    def __init__(self, *threads: ThreadInfo) -> None:
        self.map = {t.tid: t for t in threads}

    def get(self, tid: int) -> ThreadInfo | None:
        return self.map.get(tid)


class _Inspector:
    def __init__(self, *threads: ThreadInfo) -> None:
        self.threads = _Threads(*threads)
        self.users = UserTable([UserInfo(1000, 1000, "alice", "/home/alice", "/bin/zsh")])
        self.groups = GroupTable([GroupInfo(1000, "staff")])


def _thread(tid: int, ptid: int, comm: str, args: tuple[str, ...] = (), pid: int | None = None) -> ThreadInfo:
    t = ThreadInfo(tid, pid, ptid)
    t.comm, t.exe, t.exepath, t.args = comm, comm, f"/usr/bin/{comm}", args
    t.vtid = t.tid
    t.vpid = t.pid
    return t


@pytest.fixture()
def world() -> tuple[_Inspector, ThreadInfo]:
    init = _thread(1, 0, "systemd")
    sshd = _thread(100, 1, "sshd", ("-D",))
    bash = _thread(200, 100, "bash", ("-l",))
    cat = _thread(300, 200, "cat", ("/etc/shadow", "-n"))
    worker = _thread(301, 300, "cat", pid=300)  # a second thread of cat
    for t in (init, sshd, bash, cat, worker):
        t.sid = 100
    cat.uid, cat.gid, cat.loginuid = 1000, 1000, 1000
    cat.set_cwd("/home/alice")
    cat.env = ("HOME=/home/alice", "LANG=C")
    cat.cap_effective = (1 << 0) | (1 << 21)  # CAP_CHOWN, CAP_SYS_ADMIN
    cat.cgroups = (("cpu", "/user.slice"), ("memory", "/user.slice/x"))
    cat.fdtable[3] = FdInfo(3, "f", "/etc/shadow")
    sock = FdInfo(4, "4", "10.0.0.5:40000->93.184.216.34:443")
    sock.sip, sock.sport = ipaddress.ip_address("10.0.0.5"), 40000
    sock.dip, sock.dport = ipaddress.ip_address("93.184.216.34"), 443
    sock.l4proto, sock.role = "tcp", "client"
    cat.fdtable[4] = sock
    worker.fdtable = cat.fdtable
    return _Inspector(init, sshd, bash, cat, worker), cat


def _openat(tid: int, fd: int, dirfd: int, name: str, flags: int, mode: int = 0) -> Event:
    q = lambda v: struct.pack("<q", v)  # noqa: E731
    params = [q(fd), q(dirfd), name.encode() + b"\0", struct.pack("<I", flags), struct.pack("<I", mode),
              struct.pack("<I", 0), struct.pack("<Q", 0)]
    return Event.build(1_700_000_000_123456789, tid, PPME.SYSCALL_OPENAT_2_X, params)


def _sevt(insp: _Inspector, evt: Event, fdinfo: FdInfo | None) -> SinspEvent:
    s = SinspEvent(insp)  # type: ignore[arg-type]
    s.reset(evt, 42, insp.threads.get(evt.tid))
    s.fdinfo = fdinfo
    return s


def _x(name: str, sevt: SinspEvent) -> object:
    reg = registry()
    info = reg.lookup(name.split("[")[0])
    assert info is not None, name
    arg = name[name.index("[") + 1 : -1] if "[" in name else (name[len(info.name) + 1 :] or None)
    return reg.make_extractor(info, arg)(sevt)


def test_process_fields(world: tuple[_Inspector, ThreadInfo]) -> None:
    insp, cat = world
    s = _sevt(insp, _openat(300, 3, -100, "../../etc/shadow", 1), cat.fdtable[3])
    expected = {
        "proc.name": "cat", "proc.pname": "bash", "proc.aname[2]": "sshd", "proc.aname[3]": "systemd",
        "proc.aname[9]": None, "proc.aname": "bash sshd systemd", "proc.apid[2]": 100,
        "proc.cmdline": "cat /etc/shadow -n", "proc.args": "/etc/shadow -n", "proc.args[1]": "-n",
        "proc.pcmdline": "bash -l", "proc.exepath": "/usr/bin/cat", "proc.pexepath": "/usr/bin/bash",
        "proc.aexepath[2]": "/usr/bin/sshd", "proc.ppid": 200, "proc.pid": 300, "proc.cwd": "/home/alice/",
        "proc.env": "HOME=/home/alice LANG=C", "proc.env[LANG]": "C", "proc.sname": "sshd",
        "thread.cap_effective": "CAP_CHOWN CAP_SYS_ADMIN", "thread.cgroup[memory]": "/user.slice/x",
        "thread.cgroups": "cpu=/user.slice memory=/user.slice/x", "proc.fdopencount": 2,
        "thread.ismain": True, "proc.cmdnargs": 2, "proc.cmdlenargs": 13,
        "user.name": "alice", "user.homedir": "/home/alice", "user.shell": "/bin/zsh", "user.uid": 1000,
        "user.loginuid": 1000, "user.loginname": "alice", "group.name": "staff", "group.gid": 1000,
        "container.id": "host",
    }  # fmt: skip
    assert {k: _x(k, s) for k in expected} == expected


def test_thread_of_a_process_uses_the_process_for_parents(world: tuple[_Inspector, ThreadInfo]) -> None:
    insp, _ = world
    s = _sevt(insp, _openat(301, 3, -100, "/x", 1), None)
    assert _x("proc.pname", s) == "bash"  # the process's parent, not the thread's creator
    assert _x("thread.tid", s) == 301 and _x("proc.pid", s) == 300 and _x("thread.ismain", s) is False
    assert _x("proc.env", s) == "HOME=/home/alice LANG=C"


def test_unknown_ids_print_na_and_root(world: tuple[_Inspector, ThreadInfo]) -> None:
    insp, _ = world
    t = _thread(500, 1, "x")
    t.uid, t.gid, t.loginuid = 4242, 0, 0xFFFFFFFF
    insp.threads.map[500] = t
    s = _sevt(insp, _openat(500, 3, -100, "/x", 1), None)
    assert (_x("user.name", s), _x("group.name", s), _x("user.loginuid", s)) == ("<NA>", "root", -1)


def test_event_and_fd_fields_of_an_open(world: tuple[_Inspector, ThreadInfo]) -> None:
    insp, cat = world
    s = _sevt(insp, _openat(300, 3, -100, "../../etc/shadow", 1 | 16384), cat.fdtable[3])
    expected = {
        "evt.type": "openat", "evt.dir": "<", "evt.num": 42, "evt.rawres": 3, "evt.res": "SUCCESS",
        "evt.failed": False, "evt.is_open_read": True, "evt.is_open_write": False,
        "evt.is_open_create": True, "evt.arg.fd": "<f>/etc/shadow", "evt.arg[0]": "<f>/etc/shadow",
        "evt.arg.dirfd": "AT_FDCWD", "evt.arg.name": "/etc/shadow", "evt.arg.flags": "O_RDONLY|O_F_CREATED",
        "evt.rawarg.flags": 1 | 16384, "evt.rawarg.name": "../../etc/shadow", "evt.category": "file",
        "syscall.type": "openat", "evt.rawtime": 1_700_000_000_123456789, "evt.rawtime.s": 1_700_000_000,
        "evt.rawtime.ns": 123456789, "evt.time.iso8601": "2023-11-14T22:13:20.123456789Z",
        "fd.num": 3, "fd.name": "/etc/shadow", "fd.directory": "/etc", "fd.filename": "shadow", "fd.type": "file",
        "fd.typechar": "f", "fd.l4proto": "<NA>", "fd.sip": None, "fs.path.name": "/etc/shadow",
        "fs.path.nameraw": "../../etc/shadow", "fd.types": ("file", "ipv4"),
    }  # fmt: skip
    assert {k: _x(k, s) for k in expected} == expected


def test_failed_open_takes_the_name_from_the_event(world: tuple[_Inspector, ThreadInfo]) -> None:
    insp, _ = world
    s = _sevt(insp, _openat(300, -2, -100, "nofile", 2), None)
    assert _x("evt.res", s) == "ENOENT" and _x("evt.rawres", s) == -2 and _x("evt.failed", s) is True
    assert _x("fd.name", s) == "/home/alice/nofile" and _x("fd.directory", s) == "/home/alice"
    assert _x("fd.nameraw", s) == "nofile" and _x("fd.typechar", s) == "f" and _x("fd.type", s) is None
    assert _x("evt.is_open_write", s) is True


def test_socket_fields(world: tuple[_Inspector, ThreadInfo]) -> None:
    insp, cat = world
    read = Event.build(5, 300, PPME.SYSCALL_READ_X, [struct.pack("<q", 10), b"HTTP/1.1 2",
                                                     struct.pack("<q", 4), struct.pack("<I", 10)])
    s = _sevt(insp, read, cat.fdtable[4])
    expected = {
        "fd.cip": ipaddress.ip_address("10.0.0.5"), "fd.sip": ipaddress.ip_address("93.184.216.34"),
        "fd.cport": 40000, "fd.sport": 443, "fd.l4proto": "tcp", "fd.sockfamily": "ip", "fd.typechar": "4",
        "fd.name": "10.0.0.5:40000->93.184.216.34:443", "fd.directory": None, "fd.filename": None,
        # no interface list: the client end is local only when it is loopback, so this is remote
        "fd.lip": ipaddress.ip_address("93.184.216.34"), "fd.rport": 40000, "fd.is_server": False,
        "evt.buflen": 10, "evt.buffer": b"HTTP/1.1 2", "evt.is_io_read": True, "evt.io_dir": "read",
        "evt.arg.fd": "<4t>10.0.0.5:40000->93.184.216.34:443", "evt.category": "net",
    }  # fmt: skip
    assert {k: _x(k, s) for k in expected} == expected


def test_filter_over_the_registry(world: tuple[_Inspector, ThreadInfo]) -> None:
    insp, cat = world
    s = _sevt(insp, _openat(300, 3, -100, "/etc/shadow", 1), cat.fdtable[3])
    check = compile_filter(parse("evt.type=openat and fd.name startswith /etc and proc.aname[2]=sshd "
                                 "and evt.rawarg.fd >= 3 and not user.name in (root, bob)"), registry())
    assert check(s) is True
    assert compile_filter(parse("proc.pname=sshd"), registry())(s) is False


def test_bad_arguments_are_field_errors() -> None:
    reg = registry()
    with pytest.raises(FieldError, match="numeric index"):
        reg.bind("proc.aname", "x")
    with pytest.raises(FieldError, match="requires"):
        reg.bind("evt.arg", None)
