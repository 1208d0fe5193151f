"""Initial state: libscap's state records (a capture's process/fd/user blocks, or the
/proc scan of a live start) into libsinsp's tables.

One loader for both sources: ``load_state`` takes the same dataclasses
(libscap.savefile.ProcessInfo, FdInfo, UserInfo, GroupInfo) whichever gave
them. fd names are built as upstream's add_fd_from_scap: "sip:sport->dip:dport"
for connected inet sockets, "ip:port" for listening ones, the stored name for
everything else.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Mapping

from libscap.savefile import FdInfo as ScapFd, GroupInfo, ProcessInfo, UserInfo
from libscap.savefile import blocks as B

from libsinsp.containers import container_id
from libsinsp.fdinfo import FdInfo
from libsinsp.parsers._common import O_CLOEXEC, cgroup_pairs, tuple_name
from libsinsp.threadinfo import ThreadInfo
from libsinsp.threadtable import ThreadTable
from libsinsp.users import GroupTable, UserTable

_TYPECHAR = {
    B.SCAP_FD_FILE: "f", B.SCAP_FD_FILE_V2: "f", B.SCAP_FD_DIRECTORY: "d",
    B.SCAP_FD_IPV4_SOCK: "4", B.SCAP_FD_IPV4_SERVSOCK: "4",
    B.SCAP_FD_IPV6_SOCK: "6", B.SCAP_FD_IPV6_SERVSOCK: "6",
    B.SCAP_FD_FIFO: "p", B.SCAP_FD_UNIX_SOCK: "u", B.SCAP_FD_EVENT: "e",
    B.SCAP_FD_SIGNALFD: "s", B.SCAP_FD_EVENTPOLL: "l", B.SCAP_FD_INOTIFY: "i",
    B.SCAP_FD_TIMERFD: "t", B.SCAP_FD_NETLINK: "n", B.SCAP_FD_BPF: "b",
    B.SCAP_FD_USERFAULTFD: "r", B.SCAP_FD_IOURING: "o", B.SCAP_FD_MEMFD: "m",
    B.SCAP_FD_PIDFD: "c",
}  # fmt: skip
#: SCAP_L4_* -> the fd.l4proto text
_L4 = {0: "", 1: "tcp", 2: "udp", 3: "icmp", 4: "raw"}


def _ip(text: str):
    try:
        return ipaddress.ip_address(text) if text else None
    except ValueError:
        return None


def fdinfo_from_scap(s: ScapFd) -> FdInfo:
    """One fd of a state block as libsinsp keeps it."""
    fdi = FdInfo(s.fd, _TYPECHAR.get(s.type, "?"), s.name)
    fdi.ino, fdi.dev, fdi.openflags = s.ino, s.dev, s.open_flags
    fdi.cloexec = bool(s.open_flags & O_CLOEXEC)
    if s.type in (B.SCAP_FD_IPV4_SOCK, B.SCAP_FD_IPV6_SOCK):
        fdi.sip, fdi.dip, fdi.sport, fdi.dport = _ip(s.sip), _ip(s.dip), s.sport, s.dport
        fdi.l4proto = _L4.get(s.l4proto, "")
        fdi.name = tuple_name(s.sip, s.sport, s.dip, s.dport)
    elif s.type in (B.SCAP_FD_IPV4_SERVSOCK, B.SCAP_FD_IPV6_SERVSOCK):
        fdi.sip, fdi.sport = _ip(s.sip), s.sport
        fdi.l4proto = _L4.get(s.l4proto, "")
        fdi.role = "server"
        fdi.name = f"{s.sip}:{s.sport}"
    elif s.type == B.SCAP_FD_UNIX_SOCK:
        fdi.source, fdi.dest = s.source, s.destination
        fdi.role = "client" if not s.name else "server"
    return fdi


def threadinfo_from_scap(p: ProcessInfo) -> ThreadInfo:
    """One process-list entry as libsinsp keeps it (fd table and cwd not linked yet)."""
    t = ThreadInfo(p.tid, p.pid, p.ptid)
    t.sid, t.vpgid, t.pgid, t.vtid, t.vpid = p.sid, p.vpgid, p.pgid, p.vtid, p.vpid
    t.comm, t.exe, t.exepath = p.comm, p.exe, p.exepath
    t.args, t.env = tuple(p.args), tuple(p.env)
    t.fdlimit, t.flags = p.fdlimit, p.flags
    t.uid = t.euid = p.uid
    t.gid = t.egid = p.gid
    t.loginuid = p.loginuid
    t.cap_permitted, t.cap_effective, t.cap_inheritable = p.cap_permitted, p.cap_effective, p.cap_inheritable
    t.cgroups = cgroup_pairs(p.cgroups) or ()
    t.container_id = container_id(t.cgroups)
    t.tty, t.pidns_init_start_ts, t.clone_ts = p.tty, p.pidns_init_start_ts, p.clone_ts
    t.exe_ino, t.exe_ino_ctime, t.exe_ino_mtime = p.exe_ino, p.exe_ino_ctime, p.exe_ino_mtime
    t.exe_writable, t.exe_upper_layer = p.exe_writable, p.exe_upper_layer
    t.exe_lower_layer, t.exe_from_memfd = p.exe_lower_layer, p.exe_from_memfd
    t.vmsize_kb, t.vmrss_kb, t.vmswap_kb = p.vmsize_kb, p.vmrss_kb, p.vmswap_kb
    t.pfmajor, t.pfminor = p.pfmajor, p.pfminor
    t.root = p.root or "/"
    if p.cwd:
        t.set_cwd(p.cwd)
    return t


def load_state(threads: ThreadTable, users: UserTable, groups: GroupTable,
               processes: Iterable[ProcessInfo], fds: Mapping[int, Iterable[ScapFd]],
               user_list: Iterable[UserInfo] = (), group_list: Iterable[GroupInfo] = ()) -> None:
    """Fill the tables: leaders first so their threads share their fd table and cwd."""
    rows = [threadinfo_from_scap(p) for p in processes]
    rows.sort(key=lambda t: t.tid != t.pid)
    for t in rows:
        if t.tid == t.pid:
            t.fdtable = {f.fd: fdinfo_from_scap(f) for f in fds.get(t.tid, ())}
        threads.add(t)
    for t in threads:
        parent = threads.get(t.ptid)
        if parent is not None and parent is not t:
            parent.children.add(t.tid)
    users.replace(user_list)
    groups.replace(group_list)
