"""Dumper (upstream's sinsp_dumper): a .scap file that starts with the
inspector's *current* state — machine info, users and groups, every thread of
the thread table, each process's fd table — followed by the events dumped, so a
capture cut out of a running stream replays self-contained (in this project's
reader and in sysdig).

State goes back to libscap's dataclasses, the inverse of
``libsinsp.scap_state``: fd type letters to SCAP_FD_* (inet sockets without a
peer and with the server role as the *_SERVSOCK types), cgroups as
``subsys=path``. fd types newer than sysdig 0.29 are written as that reader knew
them (``libscap.engine.capture.legacy_fd``), as ``libscap capture`` does.
Placeholder rows (pid unknown) are not written.

The file is created with mode 0600: a capture holds command lines, environments
and I/O buffers.
"""

from __future__ import annotations

import os
from typing import Any

from libscap.event import Event
from libscap.savefile import CaptureWriter, FdInfo as ScapFd, ProcessInfo
from libscap.savefile import blocks as B

from libsinsp.fdinfo import FdInfo
from libsinsp.threadinfo import ThreadInfo

_TYPES = {
    "f": B.SCAP_FD_FILE_V2, "d": B.SCAP_FD_DIRECTORY, "4": B.SCAP_FD_IPV4_SOCK, "6": B.SCAP_FD_IPV6_SOCK,
    "p": B.SCAP_FD_FIFO, "u": B.SCAP_FD_UNIX_SOCK, "e": B.SCAP_FD_EVENT, "s": B.SCAP_FD_SIGNALFD,
    "l": B.SCAP_FD_EVENTPOLL, "i": B.SCAP_FD_INOTIFY, "t": B.SCAP_FD_TIMERFD, "n": B.SCAP_FD_NETLINK,
    "b": B.SCAP_FD_BPF, "r": B.SCAP_FD_USERFAULTFD, "o": B.SCAP_FD_IOURING, "m": B.SCAP_FD_MEMFD,
    "c": B.SCAP_FD_PIDFD,
}  # fmt: skip
_SERV = {B.SCAP_FD_IPV4_SOCK: B.SCAP_FD_IPV4_SERVSOCK, B.SCAP_FD_IPV6_SOCK: B.SCAP_FD_IPV6_SERVSOCK}
_L4 = {"tcp": 1, "udp": 2, "icmp": 3, "raw": 4}


def scap_fd(f: FdInfo) -> ScapFd:
    """One libsinsp fd as a fd-list entry."""
    ftype = _TYPES.get(f.type, B.SCAP_FD_UNKNOWN)
    out = ScapFd(f.fd, ino=f.ino, type=ftype, name=f.name, open_flags=f.openflags, dev=f.dev)
    if ftype in _SERV:
        out.sip, out.sport, out.l4proto = str(f.sip or ""), f.sport, _L4.get(f.l4proto, 0)
        if f.role == "server" and f.dip is None:
            out.type = _SERV[ftype]
        else:
            out.dip, out.dport = str(f.dip or ""), f.dport
    elif ftype == B.SCAP_FD_UNIX_SOCK:
        out.source, out.destination = f.source, f.dest
    return out


def scap_process(t: ThreadInfo) -> ProcessInfo:
    """One thread as a process-list entry."""
    return ProcessInfo(
        t.tid, pid=t.pid, ptid=t.ptid, sid=t.sid, vpgid=t.vpgid, comm=t.comm, exe=t.exe, exepath=t.exepath,
        args=tuple(t.args), cwd=t.get_cwd(), fdlimit=t.fdlimit, flags=t.flags, uid=t.uid, gid=t.gid,
        vmsize_kb=t.vmsize_kb, vmrss_kb=t.vmrss_kb, vmswap_kb=t.vmswap_kb, pfmajor=t.pfmajor,
        pfminor=t.pfminor, env=tuple(t.env), vtid=t.vtid, vpid=t.vpid,
        cgroups=tuple(f"{k}={v}" for k, v in t.cgroups), root=t.root,
        pidns_init_start_ts=t.pidns_init_start_ts, tty=t.tty, loginuid=t.loginuid,
        exe_writable=t.exe_writable, cap_inheritable=t.cap_inheritable, cap_permitted=t.cap_permitted,
        cap_effective=t.cap_effective, exe_upper_layer=t.exe_upper_layer, exe_ino=t.exe_ino,
        exe_ino_ctime=t.exe_ino_ctime, exe_ino_mtime=t.exe_ino_mtime, exe_from_memfd=t.exe_from_memfd,
        exe_lower_layer=t.exe_lower_layer, pgid=t.pgid, clone_ts=t.clone_ts)


class Dumper:
    """Events of ``inspector`` into ``path`` (gzip unless ``compress=False``), after
    the inspector's state at the time of opening. Raises OSError if ``path`` exists."""

    def __init__(self, inspector: Any, path: str | os.PathLike[str], compress: bool = True) -> None:
        from libscap.engine.capture import legacy_fd

        self.path = os.fspath(path)
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._w = CaptureWriter(self.path, compress=compress)
        if inspector.machine_info is not None:
            self._w.write_machine_info(inspector.machine_info)
        self._w.write_users(list(inspector.users), list(inspector.groups))
        threads = [t for t in inspector.threads if t.tid >= 0 and t.pid >= 0]
        if threads:
            self._w.write_processes(scap_process(t) for t in threads)
        for t in threads:
            if t.tid == t.pid and t.fdtable:
                self._w.write_fds(t.tid, [legacy_fd(scap_fd(f)) for f in t.fdtable.values()])

    @property
    def events_written(self) -> int:
        return self._w.events_written

    def dump(self, event: Event) -> None:
        self._w.write_event(event)

    def close(self) -> None:
        self._w.close()

    def __enter__(self) -> "Dumper":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
