"""Each default rule (falco_engine/rules/falco_py_rules.yaml) fires on a crafted
capture exactly where it should and not on near-miss events.

Every scenario is written to a .scap with libscap's CaptureWriter (a process
list block for the threads already running, then exit events with the
parameters of the current event table) and replayed through libsinsp's
Inspector and the Engine, all rules enabled, ``rule_matching: all``. The
expected alerts are (rule, event timestamp) pairs chosen when writing the
events; every other event is a near miss of one of the rules' conditions.
"""

from __future__ import annotations

import socket
import struct
from importlib import resources
from pathlib import Path

from falco_engine import Engine
from libscap.event import Event
from libscap.savefile import CaptureWriter, ProcessInfo
from libsinsp import Inspector
from test_sinsp_parsers import ev

CID = "3ad7b26ded6d" + "0" * 52  # a docker container id (64 hex digits)
IN_CONTAINER = (f"cpuset=/docker/{CID}",)
ON_HOST = ("cpuset=/user.slice",)

# PPM open flags (schema flag table file_flags) and execve flags (execve_flags)
O_RDONLY, O_WRONLY, O_CREAT, O_APPEND, O_TRUNC = 1, 2, 4, 8, 256
EXE_FROM_MEMFD = 4
PTRACE_PEEKDATA, PTRACE_ATTACH, PTRACE_SEIZE = 2, 11, 20
AT_FDCWD = -100

SHELL = "Shell spawned in a container"
BINDIR = "Write below binary directory"
SENSITIVE = "Sensitive file read by untrusted program"
OUTBOUND = "Unexpected outbound connection from system binary"
SETUID = "Setuid to root by non-root"
KMOD = "Kernel module loaded"
PTRACE = "Ptrace attach"
MEMFD = "Fileless execution"
LOGS = "Log file tampering"


def proc(tid: int, comm: str, *, uid: int = 1000, loginuid: int = 1000,
         cgroups: tuple[str, ...] = ON_HOST, cwd: str = "/home/u/") -> ProcessInfo:  # fmt: skip
    return ProcessInfo(tid=tid, pid=tid, ptid=1, comm=comm, exe=comm, exepath=f"/usr/bin/{comm}",
                       cwd=cwd, uid=uid, gid=uid, loginuid=loginuid, cgroups=cgroups, vtid=tid, vpid=tid)  # fmt: skip


def execve(ts: int, tid: int, comm: str, *, res: int = 0, cgroups: tuple[str, ...] = ON_HOST,
           flags: int = 0) -> Event:  # fmt: skip
    return ev(ts, tid, "SYSCALL_EXECVE_19_X", res=res, exe=comm, args=b"-i\0", tid=tid, pid=tid, ptid=1,
              cwd="/", comm=comm, cgroups="\0".join(cgroups).encode() + b"\0", flags=flags, uid=1000,
              loginuid=1000, filename=f"/usr/bin/{comm}")  # fmt: skip


def openat(ts: int, tid: int, name: str, flags: int, fd: int = 5) -> Event:
    return ev(ts, tid, "SYSCALL_OPENAT_2_X", fd=fd, dirfd=AT_FDCWD, name=name, flags=flags, mode=0o644)


def tcp(dip: str, dport: int) -> bytes:
    return (b"\x02" + socket.inet_aton("10.0.0.5") + struct.pack("<H", 40000)
            + socket.inet_aton(dip) + struct.pack("<H", dport))  # fmt: skip


def replay(tmp_path: Path, processes: list[ProcessInfo], events: list[Event]) -> list[tuple[str, int]]:
    """Write the capture, replay it through the Inspector and the default rules."""
    path = tmp_path / "crafted.scap"
    with CaptureWriter(path) as w:
        w.write_processes(processes)
        w.write_events(events)
    engine = Engine()
    engine.set_rule_matching("all")
    res = engine.load_rules_file(str(resources.files("falco_engine").joinpath("rules/falco_py_rules.yaml")))
    assert res.successful, res.as_text()
    alerts = []
    with Inspector() as insp:
        insp.open_file(path)
        for sevt in insp:
            alerts.extend((m.rule, m.time) for m in engine.process_event(sevt))
    return alerts


def test_shell_in_container(tmp_path: Path) -> None:
    procs = [proc(200, "runc", cgroups=IN_CONTAINER), proc(201, "node", cgroups=IN_CONTAINER), proc(100, "tmux")]
    events = [
        execve(10, 200, "bash", cgroups=IN_CONTAINER),  # alert
        execve(11, 100, "bash"),  # a shell on the host
        execve(12, 201, "ls", cgroups=IN_CONTAINER),  # not a shell
        execve(13, 201, "sh", res=-2, cgroups=IN_CONTAINER),  # failed exec
    ]
    assert replay(tmp_path, procs, events) == [(SHELL, 10)]


def test_write_below_binary_dir(tmp_path: Path) -> None:
    procs = [proc(100, "cp"), proc(101, "dpkg", uid=0)]
    events = [
        openat(10, 100, "/usr/bin/evil", O_WRONLY | O_CREAT),  # alert
        openat(11, 101, "/usr/bin/tool", O_WRONLY | O_CREAT),  # package manager
        openat(12, 100, "/usr/share/doc/x", O_WRONLY | O_CREAT),  # not a binary dir
        openat(13, 100, "/usr/bin/ls", O_RDONLY),  # read only
        openat(14, 100, "/usr/bin/ls", O_WRONLY, fd=-13),  # EACCES
        openat(15, 100, "/sbin/init", O_WRONLY | O_TRUNC, fd=6),  # alert
    ]
    assert replay(tmp_path, procs, events) == [(BINDIR, 10), (BINDIR, 15)]


def test_sensitive_file_read(tmp_path: Path) -> None:
    procs = [proc(100, "cat"), proc(101, "sshd", uid=0, loginuid=0xFFFFFFFF)]
    events = [
        openat(10, 100, "/etc/shadow", O_RDONLY),  # alert
        openat(11, 101, "/etc/shadow", O_RDONLY),  # trusted reader
        openat(12, 100, "/etc/passwd", O_RDONLY),  # not sensitive
        openat(13, 100, "/etc/shadow", O_RDONLY, fd=-13),  # EACCES
    ]
    assert replay(tmp_path, procs, events) == [(SENSITIVE, 10)]


def test_outbound_connection_from_system_binary(tmp_path: Path) -> None:
    procs = [proc(100, "cat"), proc(101, "curl")]
    events = []
    for ts, tid in ((10, 100), (20, 101)):
        events.append(ev(ts, tid, "SOCKET_SOCKET_X", fd=4, domain=2, type=1, proto=0))
        events.append(ev(ts + 1, tid, "SOCKET_CONNECT_X", res=0, tuple=tcp("203.0.113.9", 443), fd=4))
    events += [
        ev(30, 100, "SOCKET_SOCKET_X", fd=5, domain=2, type=1, proto=0),
        ev(31, 100, "SOCKET_CONNECT_X", res=-111, tuple=tcp("203.0.113.9", 4444), fd=5),  # refused
        ev(32, 100, "SOCKET_SOCKET_X", fd=6, domain=1, type=1, proto=0),  # AF_UNIX
        ev(33, 100, "SOCKET_CONNECT_X", res=0, tuple=b"\x01" + struct.pack("<QQ", 1, 2) + b"/run/x.sock\0", fd=6),
    ]
    assert replay(tmp_path, procs, events) == [(OUTBOUND, 11)]


def test_setuid_to_root_from_a_user_session(tmp_path: Path) -> None:
    procs = [proc(100, "exploit"), proc(101, "sudo"), proc(102, "daemon", uid=0, loginuid=0)]
    events = [
        ev(10, 100, "SYSCALL_SETUID_X", res=0, uid=0),  # alert
        ev(11, 101, "SYSCALL_SETUID_X", res=0, uid=0),  # a privilege tool
        ev(12, 102, "SYSCALL_SETUID_X", res=0, uid=0),  # root's session, already root
        ev(13, 100, "SYSCALL_SETUID_X", res=-1, uid=0),  # EPERM
        ev(14, 100, "SYSCALL_SETUID_X", res=0, uid=1001),  # not to root
    ]
    assert replay(tmp_path, procs, events) == [(SETUID, 10)]


def test_kernel_module_load(tmp_path: Path) -> None:
    procs = [proc(100, "insmod", uid=0, loginuid=0)]
    events = [
        ev(10, 100, "SYSCALL_FINIT_MODULE_X", res=0, fd=3, uargs="", flags=0),  # alert
        ev(11, 100, "SYSCALL_FINIT_MODULE_X", res=-1, fd=3, uargs="", flags=0),  # EPERM
        ev(12, 100, "SYSCALL_INIT_MODULE_X", res=0, img=b"\x7fELF", length=4, uargs=""),  # alert
    ]
    assert replay(tmp_path, procs, events) == [(KMOD, 10), (KMOD, 12)]


def test_ptrace_attach(tmp_path: Path) -> None:
    procs = [proc(100, "gdb")]

    def ptrace(ts: int, request: int, res: int = 0) -> Event:
        return ev(ts, 100, "SYSCALL_PTRACE_X", res=res, addr=b"\x00" + struct.pack("<Q", 0),
                  data=b"\x00" + struct.pack("<Q", 0), request=request, pid=4242)  # fmt: skip

    events = [ptrace(10, PTRACE_ATTACH), ptrace(11, PTRACE_PEEKDATA), ptrace(12, PTRACE_ATTACH, res=-1),
              ptrace(13, PTRACE_SEIZE)]  # fmt: skip
    assert replay(tmp_path, procs, events) == [(PTRACE, 10), (PTRACE, 13)]


def test_fileless_execution(tmp_path: Path) -> None:
    procs = [proc(100, "python3"), proc(101, "bash")]
    events = [
        execve(10, 100, "payload", flags=EXE_FROM_MEMFD),  # alert
        execve(11, 101, "ls"),  # exe on disk
        execve(12, 100, "payload", res=-8, flags=EXE_FROM_MEMFD),  # ENOEXEC
    ]
    assert replay(tmp_path, procs, events) == [(MEMFD, 10)]


def test_log_tampering(tmp_path: Path) -> None:
    procs = [proc(100, "bash", cwd="/var/log/")]
    events = [
        openat(10, 100, "/var/log/auth.log", O_WRONLY | O_TRUNC),  # alert
        openat(11, 100, "/var/log/auth.log", O_WRONLY | O_APPEND, fd=6),  # appending is what loggers do
        ev(12, 100, "SYSCALL_UNLINKAT_2_X", res=0, dirfd=AT_FDCWD, name="syslog", flags=0),  # alert (cwd /var/log)
        ev(13, 100, "SYSCALL_UNLINK_2_X", res=0, path="/tmp/x.log"),  # not a log of the list
        ev(14, 100, "SYSCALL_UNLINK_2_X", res=-2, path="/var/log/wtmp"),  # ENOENT
        ev(15, 100, "SYSCALL_UNLINK_2_X", res=0, path="/var/log/wtmp"),  # alert
        openat(16, 100, "/var/log/syslog", O_WRONLY | O_TRUNC, fd=-13),  # EACCES
    ]
    assert replay(tmp_path, procs, events) == [(LOGS, 10), (LOGS, 12), (LOGS, 15)]


def test_every_rule_has_a_scenario() -> None:
    """The scenarios above cover every rule of the default file."""
    engine = Engine()
    engine.load_rules_file(str(resources.files("falco_engine").joinpath("rules/falco_py_rules.yaml")))
    assert {r.name for r in engine.rules} == {SHELL, BINDIR, SENSITIVE, OUTBOUND, SETUID, KMOD, PTRACE, MEMFD, LOGS}
