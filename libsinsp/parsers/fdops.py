"""Calls that close, copy or flag existing fds, and pipes: close, close_range, dup
family, fcntl (F_DUPFD, F_DUPFD_CLOEXEC, F_SETFD), pipe/pipe2 (upstream's
parse_close_exit, parse_close_range_exit, parse_dup_exit, parse_fcntl_exit,
parse_pipe_exit). A closed fd stays the event's ``fdinfo`` so the close
event's fields still describe it."""

from __future__ import annotations

from libscap._events import FAST_CLOSE
from libscap.schema import FLAG_TABLES, PPME

from libsinsp.fdinfo import FdInfo
from libsinsp.fdinfo_lookup import FD_POSITION
from libsinsp.parsers._common import O_CLOEXEC, add_fd, param

_FCNTL = dict(FLAG_TABLES["fcntl_commands"])
F_DUPFD, F_DUPFD_CLOEXEC, F_SETFD = _FCNTL["F_DUPFD"], _FCNTL["F_DUPFD_CLOEXEC"], _FCNTL["F_SETFD"]
FD_CLOEXEC = 1
CLOSE_RANGE_CLOEXEC = dict(FLAG_TABLES["close_range_flags"])["CLOSE_RANGE_CLOEXEC"]


def parse_close_exit(insp, sevt) -> None:
    res = param(sevt.evt, 0)
    t = sevt.tinfo
    if t is None or res is None or res < 0:
        return
    if sevt.fdinfo is not None:
        insp.remove_fd_later(t.tid, sevt.fd)


#: the C loop's spec (libscap._events fast_close): where the closed fd is
parse_close_exit.fast_path = (FAST_CLOSE, FD_POSITION[PPME.SYSCALL_CLOSE_X])


def parse_close_range_exit(insp, sevt) -> None:
    evt, t = sevt.evt, sevt.tinfo
    res = param(evt, 0)
    if t is None or res is None or res < 0:
        return
    first, last, flags = param(evt, 1) or 0, param(evt, 2) or 0, param(evt, 3) or 0
    fds = t.fdtable
    in_range = [fd for fd in fds if first <= fd <= last]
    for fd in in_range:
        if flags & CLOSE_RANGE_CLOEXEC:
            fds[fd].openflags |= O_CLOEXEC
            fds[fd].cloexec = True
        else:
            del fds[fd]


def _dup_to(sevt, newfd: int, src: FdInfo, cloexec: bool) -> None:
    new = src.copy()
    new.openflags &= ~O_CLOEXEC
    new.cloexec = cloexec
    if cloexec:
        new.openflags |= O_CLOEXEC
    add_fd(sevt, newfd, new)


def parse_dup_exit(insp, sevt) -> None:
    evt = sevt.evt
    res = param(evt, 0)
    src = sevt.fdinfo
    if sevt.tinfo is None or res is None or res < 0 or src is None:
        return
    cloexec = evt[5] == PPME.SYSCALL_DUP3_X and bool((param(evt, 3) or 0) & O_CLOEXEC)
    _dup_to(sevt, res, src, cloexec)


def parse_fcntl_exit(insp, sevt) -> None:
    evt = sevt.evt
    cmd = param(evt, 2)
    if cmd not in (F_DUPFD, F_DUPFD_CLOEXEC, F_SETFD):
        return
    res = param(evt, 0)
    fdi = sevt.fdinfo
    if sevt.tinfo is None or res is None or res < 0 or fdi is None:
        return
    if cmd == F_SETFD:
        fdi.cloexec = bool((param(evt, 3) or 0) & FD_CLOEXEC)
        fdi.openflags = (fdi.openflags | O_CLOEXEC) if fdi.cloexec else (fdi.openflags & ~O_CLOEXEC)
        return
    _dup_to(sevt, res, fdi, cmd == F_DUPFD_CLOEXEC)


def parse_pipe_exit(insp, sevt) -> None:
    evt, t = sevt.evt, sevt.tinfo
    res = param(evt, 0)
    if t is None or res is None or res < 0:
        return
    fd1, fd2 = param(evt, 1), param(evt, 2)
    if fd1 is None or fd2 is None:
        return
    flags = param(evt, 4) or 0 if evt[5] == PPME.SYSCALL_PIPE2_X else 0
    for fd in (fd1, fd2):  # fd2 last: it is the event's fd, as upstream's add_pipe calls leave it
        fdi = FdInfo(fd, "p")
        fdi.ino = param(evt, 3) or 0
        fdi.openflags = flags
        fdi.cloexec = bool(flags & O_CLOEXEC)
        add_fd(sevt, fd, fdi)


PARSERS = {
    PPME.SYSCALL_CLOSE_X: parse_close_exit,
    PPME.SYSCALL_CLOSE_RANGE_X: parse_close_range_exit,
    PPME.SYSCALL_DUP_1_X: parse_dup_exit,
    PPME.SYSCALL_DUP2_X: parse_dup_exit,
    PPME.SYSCALL_DUP3_X: parse_dup_exit,
    PPME.SYSCALL_FCNTL_X: parse_fcntl_exit,
    PPME.SYSCALL_PIPE_X: parse_pipe_exit,
    PPME.SYSCALL_PIPE2_X: parse_pipe_exit,
}
