"""fd-creating calls that are not sockets: the open family (paths resolved against
the cwd or the dirfd and normalized as upstream), memfd_create, pidfd_open and
pidfd_getfd, and the one-fd calls (eventfd, signalfd, timerfd, inotify, epoll,
bpf, userfaultfd, io_uring) — upstream's parse_open_openat_creat_exit,
parse_memfd_create_exit, parse_pidfd_*_exit, parse_single_param_fd_exit."""

from __future__ import annotations

from libscap._events import FAST_OPEN
from libscap.schema import FLAG_TABLES, PPME

from libsinsp.fdinfo import FdInfo
from libsinsp.parsers._common import (
    FD_LOWER_LAYER, FD_UPPER_LAYER, O_CLOEXEC, O_DIRECTORY, add_fd, concatenate_paths,
    dir_of_fd, on_new_fd, param, pos,
)

_CREAT = dict(FLAG_TABLES["creat_flags"])


def _fast_open(name: int, flags: int, mode: int, dev: int, ino: int, dirfd: int, dev_needs_ino: bool) -> tuple:
    """The C loop's spec for the parsers below (libscap._events fast_open): parameter
    positions (dirfd -1: resolved against the cwd), the flag bits it reads, the type
    letters, and whether dev counts only with an ino."""
    return (FAST_OPEN, name, flags, mode, dev, ino, dirfd, O_DIRECTORY, O_CLOEXEC, "f", "d", dev_needs_ino)


def _file(sevt, fd: int, name: str, fullpath: str, flags: int, mode: int, dev: int, ino: int) -> None:
    fdi = FdInfo(fd, "d" if flags & O_DIRECTORY else "f", fullpath)
    fdi.nameraw = name
    fdi.openflags = flags
    fdi.mode = mode
    fdi.dev = dev
    fdi.ino = ino
    fdi.cloexec = bool(flags & O_CLOEXEC)
    add_fd(sevt, fd, fdi)


@on_new_fd
def parse_open_exit(insp, sevt, evt, t, fd) -> None:
    name = param(evt, 1) or ""
    _file(sevt, fd, name, concatenate_paths(t.get_cwd(), name), param(evt, 2) or 0,
          param(evt, 3) or 0, param(evt, 4) or 0, param(evt, 5) or 0)


parse_open_exit.fast_path = _fast_open(1, 2, 3, 4, 5, -1, False)


_CREAT_DEV, _CREAT_INO, _CREAT_FLAGS = (pos("SYSCALL_CREAT_X", n) for n in ("dev", "ino", "creat_flags"))


@on_new_fd
def parse_creat_exit(insp, sevt, evt, t, fd) -> None:
    name = param(evt, 1) or ""
    cflags = param(evt, _CREAT_FLAGS) or 0
    flags = (FD_UPPER_LAYER if cflags & _CREAT["FD_UPPER_LAYER_CREAT"]
             else FD_LOWER_LAYER if cflags & _CREAT["FD_LOWER_LAYER_CREAT"] else 0)
    _file(sevt, fd, name, concatenate_paths(t.get_cwd(), name), flags, param(evt, 2) or 0,
          param(evt, _CREAT_DEV) or 0, param(evt, _CREAT_INO) or 0)


def _openat(dev_i: int, ino_i: int):
    @on_new_fd
    def parse_openat_exit(insp, sevt, evt, t, fd) -> None:
        name = param(evt, 2)
        name = "<NA>" if name is None else name
        dirfd = param(evt, 1)
        sdir = "" if dirfd is None else dir_of_fd(t, name, dirfd)
        fullpath = concatenate_paths(sdir, name)
        ino = param(evt, ino_i)
        _file(sevt, fd, name, fullpath, param(evt, 3) or 0, param(evt, 4) or 0,
              (param(evt, dev_i) or 0) if ino is not None else 0, ino or 0)
    parse_openat_exit.fast_path = _fast_open(2, 3, 4, dev_i, ino_i, 1, True)
    return parse_openat_exit


@on_new_fd
def parse_open_by_handle_at_exit(insp, sevt, evt, t, fd) -> None:
    name = param(evt, 3) or ""
    _file(sevt, fd, name, concatenate_paths("", name), param(evt, 2) or 0, 0,
          param(evt, 4) or 0, param(evt, 5) or 0)


@on_new_fd
def parse_memfd_create_exit(insp, sevt, evt, t, fd) -> None:
    fdi = FdInfo(fd, "m", param(evt, 1) or "")
    fdi.openflags = param(evt, 2) or 0
    add_fd(sevt, fd, fdi)


@on_new_fd
def parse_pidfd_open_exit(insp, sevt, evt, t, fd) -> None:
    pid = param(evt, 1)
    fdi = FdInfo(fd, "c", f"/proc/{pid}")
    fdi.openflags = param(evt, 2) or 0
    fdi.pid = pid if pid is not None else -1
    add_fd(sevt, fd, fdi)


@on_new_fd
def parse_pidfd_getfd_exit(insp, sevt, evt, t, fd) -> None:
    """A copy of another process's fd: the target process is the one the pidfd names."""
    pidfd = t.fdtable.get(param(evt, 1))
    if pidfd is None or pidfd.type != "c":
        return
    target = insp.threads.get(pidfd.pid)
    src = target.fdtable.get(param(evt, 2)) if target is not None else None
    if src is not None:
        new = src.copy()
        new.openflags |= O_CLOEXEC
        new.cloexec = True
        add_fd(sevt, fd, new)


def _single_fd(typechar: str):
    @on_new_fd
    def parse_single_fd_exit(insp, sevt, evt, t, fd) -> None:
        add_fd(sevt, fd, FdInfo(fd, typechar))
    return parse_single_fd_exit


PARSERS = {
    PPME.SYSCALL_OPEN_X: parse_open_exit,
    PPME.SYSCALL_CREAT_X: parse_creat_exit,
    PPME.SYSCALL_OPENAT_2_X: _openat(pos("SYSCALL_OPENAT_2_X", "dev"), pos("SYSCALL_OPENAT_2_X", "ino")),
    PPME.SYSCALL_OPENAT2_X: _openat(pos("SYSCALL_OPENAT2_X", "dev"), pos("SYSCALL_OPENAT2_X", "ino")),
    PPME.SYSCALL_OPEN_BY_HANDLE_AT_X: parse_open_by_handle_at_exit,
    PPME.SYSCALL_MEMFD_CREATE_X: parse_memfd_create_exit,
    PPME.SYSCALL_PIDFD_OPEN_X: parse_pidfd_open_exit,
    PPME.SYSCALL_PIDFD_GETFD_X: parse_pidfd_getfd_exit,
    PPME.SYSCALL_EVENTFD_X: _single_fd("e"),
    PPME.SYSCALL_EVENTFD2_X: _single_fd("e"),
    PPME.SYSCALL_SIGNALFD_X: _single_fd("s"),
    PPME.SYSCALL_SIGNALFD4_X: _single_fd("s"),
    PPME.SYSCALL_TIMERFD_CREATE_X: _single_fd("t"),
    PPME.SYSCALL_INOTIFY_INIT_X: _single_fd("i"),
    PPME.SYSCALL_INOTIFY_INIT1_X: _single_fd("i"),
    PPME.SYSCALL_EPOLL_CREATE_X: _single_fd("l"),
    PPME.SYSCALL_EPOLL_CREATE1_X: _single_fd("l"),
    PPME.SYSCALL_BPF_2_X: _single_fd("b"),
    PPME.SYSCALL_USERFAULTFD_X: _single_fd("r"),
    PPME.SYSCALL_IO_URING_SETUP_X: _single_fd("o"),
}
