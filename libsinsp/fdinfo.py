"""FdInfo: what libsinsp knows about one file descriptor (a row of a fd table).

The contract between the parsers (which fill it) and the fd.* fields (which read
it). ``type`` is the fd.typechar letter upstream uses, so ``fd.typechar`` is the
attribute and ``fd.type`` a lookup in ``FD_TYPE_NAMES``.
"""

from __future__ import annotations

#: fd.typechar -> fd.type, as upstream names them.
FD_TYPE_NAMES: dict[str, str] = {
    "f": "file", "d": "directory", "4": "ipv4", "6": "ipv6", "u": "unix",
    "p": "pipe", "e": "event", "s": "signalfd", "l": "eventpoll", "i": "inotify",
    "t": "timerfd", "n": "netlink", "b": "bpf", "r": "userfaultfd", "o": "io_uring",
    "m": "memfd", "c": "pidfd", "?": "unknown",
}  # fmt: skip


class FdInfo:
    """One fd.

    * ``fd`` number, ``type`` (a key of FD_TYPE_NAMES), ``name`` (the resolved,
      normalized name as fd.name shows it: a path for files and directories, the
      "sip:sport->dip:dport" tuple text for inet sockets, the path for unix
      sockets...), ``nameraw`` (the path as the program passed it, for
      fd.nameraw), ``openflags`` (PPM_O_* of the open), ``mode``, ``dev``,
      ``ino``, ``mount_id``;
    * sockets: ``sip``, ``dip`` (ipaddress objects or None), ``sport``,
      ``dport`` (int), ``l4proto`` ("tcp", "udp", "icmp", "raw" or "" unknown),
      ``role`` ("client", "server" or "" unknown; servers are the accept/listen
      side), for unix sockets ``source``/``dest`` (kernel pointers as ints) and
      the path in ``name``; listening IPv4/IPv6 sockets keep only sip/sport;
    * ``cloexec``: closed at exec (O_CLOEXEC / FD_CLOEXEC);
    * ``pid``: for a pidfd, the process it refers to (-1 otherwise);
    * ``pipe_ino`` etc. are not separate: ``ino`` serves.
    """

    __slots__ = (
        "fd", "type", "name", "nameraw", "openflags", "mode", "dev", "ino", "mount_id",
        "sip", "dip", "sport", "dport", "l4proto", "role", "source", "dest", "cloexec", "pid",
    )  # fmt: skip

    def __init__(self, fd: int, type: str = "?", name: str = "") -> None:
        self.fd = fd
        self.type = type
        self.name = name
        self.nameraw = ""
        self.openflags = self.mode = self.dev = self.ino = self.mount_id = 0
        self.sip = self.dip = None
        self.sport = self.dport = 0
        self.l4proto = ""
        self.role = ""
        self.source = self.dest = 0
        self.cloexec = False
        self.pid = -1

    @property
    def type_name(self) -> str:
        return FD_TYPE_NAMES.get(self.type, "unknown")

    def copy(self) -> "FdInfo":
        """An independent copy (fork copies the fd table; dup copies one entry)."""
        new = FdInfo.__new__(FdInfo)
        for slot in FdInfo.__slots__:
            setattr(new, slot, getattr(self, slot))
        return new

    def __repr__(self) -> str:
        return f"FdInfo(fd={self.fd}, type={self.type!r}, name={self.name!r})"
