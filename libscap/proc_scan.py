"""The initial state of a live capture, read from /proc and /etc.

A live engine only sees what happens after it starts, so the threads, their
fds, the users and the machine are read once from procfs (as upstream libscap
does in ``scap_procs.c``, ``scap_fds.c``, ``scap_userlist.c``) and handed to
libsinsp, or written as the state blocks at the start of a capture so that its
replay is self-contained.

Public functions (``proc`` / ``etc`` are the roots to read, for containers'
host mounts or tests):

* ``scan_processes(proc)`` -> every user-space thread as a ``ProcessInfo``
  (kernel threads, which have neither cmdline nor exe, are skipped as upstream);
* ``scan_process(tid, proc)`` -> one thread (for a thread first seen later), or None if gone;
* ``scan_fds(pid, proc, sockets=None)`` -> the fds of a process as ``FdInfo``;
* ``scan_all_fds(processes, proc)`` -> {pid: fds} for every main thread, parsing
  each network namespace's socket tables once;
* ``scan_users(etc)`` -> (users, groups) from ``passwd`` and ``group``;
* ``machine_info(proc)`` -> ``MachineInfo``.

Where this differs from upstream's scan, on purpose:

* ``clone_ts`` is the thread's start time from ``stat`` (boot time + starttime
  ticks); upstream takes the ctime of the procfs ``cmdline`` inode, which is
  when procfs first instantiated it, not when the thread started.
* ``vpgid`` is the process group id as seen in the process's pid namespace
  (= ``pgid`` in the root namespace), the value the execve exit event carries;
  upstream's scan leaves it 0 for processes of the root namespace.
* exe inode/ctime/mtime come from ``stat(/proc/<tid>/exe)``, which reaches the
  executable even inside another mount namespace or when it was deleted.
* ``exe_writable`` is decided from the file's owner and mode bits (uid 0
  counts as writable), not by switching this thread's euid as upstream does:
  ACLs and read-only mounts are not taken into account.
* ``exe_upper_layer``/``exe_lower_layer`` (overlayfs) are not computed (False).

Threads and processes that disappear while being read are skipped; files a
process does not let us read (e.g. ``environ`` without CAP_SYS_PTRACE) leave
their fields empty.
"""

from __future__ import annotations

import os
import resource
import socket
import stat as st
import struct
import time
from typing import Iterable

from libscap.savefile.blocks import (
    SCAP_FD_BPF, SCAP_FD_DIRECTORY, SCAP_FD_EVENT, SCAP_FD_EVENTPOLL, SCAP_FD_FIFO, SCAP_FD_FILE_V2,
    SCAP_FD_INOTIFY, SCAP_FD_IOURING, SCAP_FD_IPV4_SERVSOCK, SCAP_FD_IPV4_SOCK, SCAP_FD_IPV6_SERVSOCK,
    SCAP_FD_IPV6_SOCK, SCAP_FD_MEMFD, SCAP_FD_NETLINK, SCAP_FD_PIDFD, SCAP_FD_SIGNALFD,
    SCAP_FD_TIMERFD, SCAP_FD_UNIX_SOCK, SCAP_FD_UNSUPPORTED, SCAP_FD_USERFAULTFD,
    FdInfo, GroupInfo, MachineInfo, ProcessInfo, UserInfo,
)
from libscap.schema import FLAG_TABLES

#: Upstream's caps on the saved command line and environment (SCAP_MAX_ARGS_SIZE/ENV_SIZE).
MAX_ARGS_SIZE = 4096
MAX_ENV_SIZE = 4096

# scap_l4_proto
SCAP_L4_TCP, SCAP_L4_UDP, SCAP_L4_RAW = 2, 3, 5

_CLONE = dict(FLAG_TABLES["clone_flags"])
#: flags of a non-main thread found by the scan (upstream assumes pthread_create's clone flags).
THREAD_FLAGS = _CLONE["CLONE_THREAD"] | _CLONE["CLONE_FILES"]
_PPM_O = dict(FLAG_TABLES["file_flags"])
# O_* bit (x86_64) -> PPM_O_* bit, for fdinfo "flags:" (access mode handled apart).
_OPEN_FLAGS = (
    (os.O_CREAT, _PPM_O["O_CREAT"]), (os.O_APPEND, _PPM_O["O_APPEND"]), (os.O_DSYNC, _PPM_O["O_DSYNC"]),
    (os.O_EXCL, _PPM_O["O_EXCL"]), (os.O_NONBLOCK, _PPM_O["O_NONBLOCK"]), (os.O_TRUNC, _PPM_O["O_TRUNC"]),
    (os.O_DIRECT, _PPM_O["O_DIRECT"]), (os.O_DIRECTORY, _PPM_O["O_DIRECTORY"]),
    (0o100000, _PPM_O["O_LARGEFILE"]), (os.O_CLOEXEC, _PPM_O["O_CLOEXEC"]),
)
_O_SYNC_ONLY = os.O_SYNC & ~os.O_DSYNC  # __O_SYNC: O_SYNC includes O_DSYNC
_O_TMPFILE_ONLY = getattr(os, "O_TMPFILE", 0o20200000) & ~os.O_DIRECTORY

#: anon_inode:<name> -> fd type (upstream's classify_anon_inode_file).
_ANON_TYPES = {
    "[eventfd]": SCAP_FD_EVENT, "[eventpoll]": SCAP_FD_EVENTPOLL, "inotify": SCAP_FD_INOTIFY,
    "[signalfd]": SCAP_FD_SIGNALFD, "[timerfd]": SCAP_FD_TIMERFD, "[io_uring]": SCAP_FD_IOURING,
    "[userfaultfd]": SCAP_FD_USERFAULTFD, "[pidfd]": SCAP_FD_PIDFD, "bpf-map": SCAP_FD_BPF,
    "bpf-prog": SCAP_FD_BPF, "bpf-link": SCAP_FD_BPF, "bpf_iter": SCAP_FD_BPF,
}

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb", buffering=0) as f:
            return f.read()
    except OSError:
        return None


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _nul_list(data: bytes, cap: int) -> tuple[str, ...]:
    """A NUL-separated list (cmdline, environ), truncated to ``cap`` bytes as upstream."""
    data = data[:cap]
    if data.endswith(b"\0"):
        data = data[:-1]
    return tuple(_text(s) for s in data.split(b"\0")) if data else ()


def open_flags_to_scap(flags: int) -> int:
    """Kernel O_* flags (as in /proc/<pid>/fdinfo) -> PPM_O_* flags, as upstream's open_flags_to_scap."""
    acc = flags & os.O_ACCMODE
    res = _PPM_O["O_WRONLY"] if acc == os.O_WRONLY else _PPM_O["O_RDWR"] if acc == os.O_RDWR else _PPM_O["O_RDONLY"]
    for bit, ppm in _OPEN_FLAGS:
        if flags & bit:
            res |= ppm
    if flags & _O_SYNC_ONLY:
        res |= _PPM_O["O_SYNC"]
    if flags & _O_TMPFILE_ONLY:
        res |= _PPM_O["O_TMPFILE"]
    return res


def _boot_time_ns(proc: str) -> int:
    """Boot time in ns since the epoch: ``btime`` of <proc>/stat (as upstream), else the clocks."""
    data = _read(f"{proc}/stat") or b""
    for line in data.splitlines():
        if line.startswith(b"btime "):
            return int(line.split()[1]) * 1_000_000_000
    return time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


# -- processes -------------------------------------------------------------------


class _Scan:
    """What one scan computes once: boot time, cgroup v2 controllers, the
    per-process part of a thread (shared by the threads of a process)."""

    def __init__(self, proc: str):
        self.proc = proc
        self.boot_ns = _boot_time_ns(proc)
        self._v2_controllers: tuple[str, ...] | None = None

    def v2_controllers(self) -> tuple[str, ...]:
        """Controllers of the cgroup v2 hierarchy (each becomes one ``ctrl=path`` entry)."""
        if self._v2_controllers is None:
            ctrls: tuple[str, ...] = ()
            for line in (_read(f"{self.proc}/self/mountinfo") or b"").splitlines():
                fields = line.split(b" - ", 1)
                if len(fields) == 2 and fields[1].startswith(b"cgroup2 "):
                    mnt = _text(fields[0].split()[4])
                    ctrls = tuple((_read(f"{mnt}/cgroup.controllers") or b"").decode().split())
                    break
            self._v2_controllers = ctrls
        return self._v2_controllers

    def cgroups(self, task: str) -> tuple[str, ...]:
        """``subsys=path`` entries as upstream saves them (v1 lines by subsystem, v2 by controller)."""
        out = []
        for line in (_read(f"{task}/cgroup") or b"").splitlines():
            parts = line.split(b":", 2)
            if len(parts) != 3:
                continue
            path = _text(parts[2])
            if parts[1]:
                out.extend(f"{_text(sub)}={path}" for sub in parts[1].split(b","))
            else:
                out.extend(f"{ctrl}={path}" for ctrl in self.v2_controllers())
        return tuple(out)


def _exe_writable(path: str, uid: int, gid: int) -> bool:
    try:
        s = os.stat(path)
    except OSError:
        return False
    if uid == 0 or s.st_uid == uid:
        return uid == 0 or bool(s.st_mode & st.S_IWUSR)
    if s.st_gid == gid:
        return bool(s.st_mode & st.S_IWGRP)
    return bool(s.st_mode & st.S_IWOTH)


def _fdlimit(tid: int, task: str) -> int:
    try:
        return resource.prlimit(tid, resource.RLIMIT_NOFILE)[0]
    except OSError:  # another user's process without CAP_SYS_RESOURCE: /proc still tells
        for line in (_read(f"{task}/limits") or b"").splitlines():
            if line.startswith(b"Max open files"):
                soft = line.split()[3]
                return -1 if soft == b"unlimited" else int(soft)
    return -1


def _process_part(sc: _Scan, piddir: str, pid: int) -> dict | None:
    """Fields every thread of process ``pid`` shares; None for a kernel thread or a process gone."""
    cmdline = _read(f"{piddir}/cmdline")
    exepath = _readlink(f"{piddir}/exe")
    if cmdline is None or (not cmdline and not exepath):
        return None
    argv = _nul_list(cmdline, MAX_ARGS_SIZE)
    part: dict = {
        "exe": argv[0] if argv else "", "args": argv[1:], "exepath": exepath,
        "env": _nul_list(_read(f"{piddir}/environ") or b"", MAX_ENV_SIZE),
        "exe_from_memfd": exepath.startswith("/memfd:"),
    }
    try:
        s = os.stat(f"{piddir}/exe")
        part.update(exe_ino=s.st_ino, exe_ino_ctime=s.st_ctime_ns, exe_ino_mtime=s.st_mtime_ns)
    except OSError:
        pass
    try:
        part["pidns_init_start_ts"] = os.stat(f"{piddir}/root/proc/1/cmdline").st_ctime_ns
    except OSError:
        pass
    return part


def _status(data: bytes) -> dict[bytes, list[bytes]]:
    out = {}
    for line in data.splitlines():
        key, _, value = line.partition(b":")
        out[key] = value.split()
    return out


def _thread(sc: _Scan, task: str, tid: int, part: dict) -> ProcessInfo | None:
    status = _read(f"{task}/status")
    stat = _read(f"{task}/stat")
    if not status or not stat:
        return None
    s = _status(status)
    pid = int(s[b"Tgid"][0])
    p = ProcessInfo(tid, pid, int(s[b"PPid"][0]), **part)
    p.comm = _text((_read(f"{task}/comm") or b"").rstrip(b"\n"))
    p.uid = int(s[b"Uid"][1])  # the effective ids, as upstream saves them
    p.gid = int(s[b"Gid"][1])
    ns_pid, ns_tgid = s.get(b"NSpid", [b"%d" % tid]), s.get(b"NStgid", [b"%d" % pid])
    p.vtid, p.vpid = int(ns_pid[-1]), int(ns_tgid[-1])
    for key, name in ((b"VmSize", "vmsize_kb"), (b"VmRSS", "vmrss_kb"), (b"VmSwap", "vmswap_kb")):
        if key in s:
            setattr(p, name, int(s[key][0]))
    for key, name in ((b"CapInh", "cap_inheritable"), (b"CapPrm", "cap_permitted"), (b"CapEff", "cap_effective")):
        if key in s:
            setattr(p, name, int(s[key][0], 16))
    # stat: "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt ... starttime"
    f = stat[stat.rindex(b")") + 2:].split()
    p.pgid, p.sid, p.tty = int(f[2]), int(f[3]), int(f[4])
    p.pfminor, p.pfmajor = int(f[7]), int(f[9])
    p.clone_ts = sc.boot_ns + int(f[19]) * 1_000_000_000 // _CLK_TCK
    ns_pgid = s.get(b"NSpgid")
    p.vpgid = int(ns_pgid[-1]) if ns_pgid else p.pgid
    p.cwd = _readlink(f"{task}/cwd")
    p.root = _readlink(f"{task}/root")
    loginuid = _read(f"{task}/loginuid")
    p.loginuid = int(loginuid) if loginuid and loginuid.strip().isdigit() else 0xFFFFFFFF
    p.fdlimit = _fdlimit(tid, task)
    p.cgroups = sc.cgroups(task)
    p.flags = 0 if tid == pid else THREAD_FLAGS
    if p.exepath:
        p.exe_writable = _exe_writable(f"{task}/root{p.exepath}", p.uid, p.gid)
    return p


def _pid_dirs(proc: str) -> list[int]:
    try:
        return sorted(int(n) for n in os.listdir(proc) if n.isdigit())
    except OSError as exc:
        raise OSError(exc.errno, f"cannot list {proc}: {exc.strerror}") from None


def _scan_pid(sc: _Scan, pid: int) -> list[ProcessInfo]:
    piddir = f"{sc.proc}/{pid}"
    part = _process_part(sc, piddir, pid)
    if part is None:
        return []
    try:
        tids = sorted(int(n) for n in os.listdir(f"{piddir}/task"))
    except OSError:
        return []
    out = []
    for tid in tids:
        try:
            p = _thread(sc, f"{piddir}/task/{tid}", tid, part)
        except (ValueError, IndexError, KeyError):  # exited while read (truncated files)
            p = None
        if p is not None:
            out.append(p)
    return out


def scan_processes(proc: str = "/proc") -> list[ProcessInfo]:
    """Every user-space thread under ``proc``, main threads first within a process, by pid."""
    sc = _Scan(proc)
    out: list[ProcessInfo] = []
    for pid in _pid_dirs(proc):
        out.extend(_scan_pid(sc, pid))
    return out


def scan_process(tid: int, proc: str = "/proc") -> ProcessInfo | None:
    """One thread (any tid, main or not); None if it does not exist (any more) or is a kernel thread."""
    sc = _Scan(proc)
    task = f"{proc}/{tid}"  # /proc/<tid> resolves for non-main threads too (hidden from listings)
    status = _read(f"{task}/status")
    if not status:
        return None
    try:
        pid = int(_status(status)[b"Tgid"][0])
        part = _process_part(sc, f"{proc}/{pid}", pid)
        return _thread(sc, f"{proc}/{pid}/task/{tid}", tid, part) if part is not None else None
    except (ValueError, IndexError, KeyError):
        return None


# -- fds -------------------------------------------------------------------------


def _ipv4(hexaddr: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(hexaddr, 16)))


def _ipv6(hexaddr: bytes) -> str:
    words = [int(hexaddr[i:i + 8], 16) for i in range(0, 32, 8)]
    return socket.inet_ntop(socket.AF_INET6, struct.pack("<4I", *words))


class SocketTables:
    """inode -> socket FdInfo (fd 0, to be copied) per network namespace, each
    namespace's /proc/<pid>/net tables parsed once, the first time one of its
    processes is scanned."""

    def __init__(self, proc: str = "/proc"):
        self.proc = proc
        self._by_ns: dict[int, dict[int, FdInfo]] = {}

    def for_pid(self, pid: int) -> dict[int, FdInfo]:
        try:
            ns = os.stat(f"{self.proc}/{pid}/ns/net").st_ino
        except OSError:
            ns = -1
        table = self._by_ns.get(ns)
        if table is None:
            table = self._by_ns[ns] = self._parse(f"{self.proc}/{pid}/net")
        return table

    def _parse(self, net: str) -> dict[int, FdInfo]:
        out: dict[int, FdInfo] = {}
        for name, l4 in (("tcp", SCAP_L4_TCP), ("udp", SCAP_L4_UDP), ("raw", SCAP_L4_RAW)):
            self._inet(out, f"{net}/{name}", l4, False)
            self._inet(out, f"{net}/{name}6", l4, True)
        for line in (_read(f"{net}/unix") or b"").splitlines()[1:]:
            # Num: RefCount Protocol Flags Type St Inode [Path]
            f = line.split(None, 7)
            if len(f) >= 7 and f[0].endswith(b":"):
                ino = int(f[6])
                out[ino] = FdInfo(0, ino, SCAP_FD_UNIX_SOCK, _text(f[7]) if len(f) > 7 else "",
                                  source=int(f[0][:-1], 16))
        for line in (_read(f"{net}/netlink") or b"").splitlines()[1:]:
            f = line.split()
            if len(f) >= 10:
                ino = int(f[9])
                out[ino] = FdInfo(0, ino, SCAP_FD_NETLINK)
        return out

    @staticmethod
    def _inet(out: dict[int, FdInfo], path: str, l4: int, v6: bool) -> None:
        ip = _ipv6 if v6 else _ipv4
        any_ip = "::" if v6 else "0.0.0.0"
        for line in (_read(path) or b"").splitlines()[1:]:
            # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            f = line.split()
            if len(f) < 10:
                continue
            (la, lp), (ra, rp) = f[1].split(b":"), f[2].split(b":")
            ino = int(f[9])
            dip = ip(ra)
            if dip == any_ip:  # not connected: listening (or an unconnected UDP/raw socket)
                out[ino] = FdInfo(0, ino, SCAP_FD_IPV6_SERVSOCK if v6 else SCAP_FD_IPV4_SERVSOCK,
                                  sip=ip(la), sport=int(lp, 16), l4proto=l4)
            else:
                out[ino] = FdInfo(0, ino, SCAP_FD_IPV6_SOCK if v6 else SCAP_FD_IPV4_SOCK, sip=ip(la),
                                  dip=dip, sport=int(lp, 16), dport=int(rp, 16), l4proto=l4)


class _Mounts:
    """mnt_id -> device number (glibc makedev, as upstream) per process's mountinfo, read on demand."""

    def __init__(self, proc: str, pid: int):
        self.path = f"{proc}/{pid}/mountinfo"
        self._devs: dict[int, int] | None = None

    def dev(self, mnt_id: int) -> int:
        if self._devs is None:
            self._devs = {}
            for line in (_read(self.path) or b"").splitlines():
                f = line.split(None, 3)
                if len(f) >= 3:
                    major, _, minor = f[2].partition(b":")
                    self._devs[int(f[0])] = os.makedev(int(major), int(minor))
        return self._devs.get(mnt_id, 0)


def _fdinfo(path: str) -> tuple[int, int]:
    """(open flags, mnt_id) from /proc/<pid>/fdinfo/<fd>."""
    flags = mnt = 0
    for line in (_read(path) or b"").splitlines():
        if line.startswith(b"flags:"):
            flags = int(line[6:].strip(), 8)
        elif line.startswith(b"mnt_id:"):
            mnt = int(line[7:].strip())
    return flags, mnt


def _fd(pdir: str, fd: int, sockets: SocketTables, pid: int, mounts: _Mounts) -> FdInfo | None:
    path = f"{pdir}/fd/{fd}"
    try:
        target = os.readlink(path)
        s = os.stat(path)
    except OSError:  # closed meanwhile, or a link to something stat cannot reach
        return None
    mode = s.st_mode
    if st.S_ISSOCK(mode):
        if not target.startswith("socket:["):
            return FdInfo(fd, s.st_ino, SCAP_FD_UNSUPPORTED, target)
        known = sockets.for_pid(pid).get(s.st_ino)
        if known is None:  # a family the tables do not list (packet, vsock, ...)
            return None
        return FdInfo(fd, known.ino, known.type, known.name, sip=known.sip, dip=known.dip, sport=known.sport,
                      dport=known.dport, l4proto=known.l4proto, source=known.source)
    if st.S_ISFIFO(mode):
        return FdInfo(fd, s.st_ino, SCAP_FD_FIFO, target)
    if st.S_ISREG(mode) or st.S_ISBLK(mode) or st.S_ISCHR(mode) or st.S_ISLNK(mode):
        if target.startswith("/memfd:"):
            return FdInfo(fd, s.st_ino, SCAP_FD_MEMFD, target)
        flags, mnt = _fdinfo(f"{pdir}/fdinfo/{fd}")
        return FdInfo(fd, s.st_ino, SCAP_FD_FILE_V2, target, open_flags=open_flags_to_scap(flags),
                      dev=mounts.dev(mnt))
    if st.S_ISDIR(mode):
        return FdInfo(fd, s.st_ino, SCAP_FD_DIRECTORY, target)
    # anonymous inodes (eventfd, epoll, ...): typed by their link name, no name kept (as upstream)
    kind = SCAP_FD_UNSUPPORTED
    if target.startswith("anon_inode:"):
        kind = _ANON_TYPES.get(target[11:], SCAP_FD_UNSUPPORTED)
    return FdInfo(fd, s.st_ino, kind)


def scan_fds(pid: int, proc: str = "/proc", sockets: SocketTables | None = None) -> list[FdInfo]:
    """The open fds of process ``pid`` in fd order ([] if it is gone or unreadable).

    Pass one ``SocketTables`` to many calls so each network namespace's
    tables are parsed only once."""
    pdir = f"{proc}/{pid}"
    try:
        fds = sorted(int(n) for n in os.listdir(f"{pdir}/fd"))
    except OSError:
        return []
    sockets = sockets or SocketTables(proc)
    mounts = _Mounts(proc, pid)
    out = []
    for fd in fds:
        info = _fd(pdir, fd, sockets, pid, mounts)
        if info is not None:
            out.append(info)
    return out


def scan_all_fds(processes: Iterable[ProcessInfo], proc: str = "/proc") -> dict[int, list[FdInfo]]:
    """{pid: fds} for the main threads of ``processes`` (threads share their process's table)."""
    sockets = SocketTables(proc)
    return {p.pid: scan_fds(p.pid, proc, sockets) for p in processes if p.tid == p.pid}


# -- users, machine --------------------------------------------------------------


def scan_users(etc: str = "/etc") -> tuple[list[UserInfo], list[GroupInfo]]:
    """Users of ``<etc>/passwd`` and groups of ``<etc>/group`` (upstream reads the same
    files when given a host root; malformed lines are skipped, as fgetpwent does)."""
    users = []
    for line in (_read(f"{etc}/passwd") or b"").splitlines():
        f = line.split(b":")
        if len(f) >= 7 and f[2].isdigit() and f[3].isdigit():
            users.append(UserInfo(int(f[2]), int(f[3]), _text(f[0]), _text(f[5]), _text(f[6])))
    groups = []
    for line in (_read(f"{etc}/group") or b"").splitlines():
        f = line.split(b":")
        if len(f) >= 3 and f[2].isdigit():
            groups.append(GroupInfo(int(f[2]), _text(f[0])))
    return users, groups


def machine_info(proc: str = "/proc") -> MachineInfo:
    """This machine as upstream's scap_os_get_machine_info describes it."""
    max_pid = _read(f"{proc}/sys/kernel/pid_max")
    return MachineInfo(
        num_cpus=os.sysconf("SC_NPROCESSORS_ONLN"),
        memory_size_bytes=os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGESIZE"),
        max_pid=int(max_pid) if max_pid and max_pid.strip().isdigit() else 0,
        hostname=os.environ.get("SCAP_HOSTNAME") or socket.gethostname(),
        boot_ts_epoch=_boot_time_ns(proc),
    )


__all__ = ["MAX_ARGS_SIZE", "MAX_ENV_SIZE", "SocketTables", "THREAD_FLAGS", "machine_info",
           "open_flags_to_scap", "scan_all_fds", "scan_fds", "scan_process", "scan_processes",
           "scan_users"]
