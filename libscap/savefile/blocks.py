"""The .scap block types and the state they carry, as plain dataclasses.

A .scap file is a pcapng-like sequence of blocks ``{u32 type, u32
block_total_length, body, padding to 4 bytes, u32 block_total_length}``
(little-endian). Type codes are those of falcosecurity/libs ``scap_savefile.h``,
including the "_INT" codes used before the official pcapng numbers were
assigned. The dataclasses hold what a block carries, in Python terms:

* strings are decoded as UTF-8 with ``surrogateescape`` and kept as stored, so
  writing them back gives the same bytes; NUL-separated lists (args, env,
  cgroups) are tuples of str;
* IPv4/IPv6 addresses are strings (``"10.0.0.1"``, ``"::1"``); the file keeps
  them in network byte order;
* fields a block version does not carry keep upstream's defaults (-1 for
  sid/vpgid/pgid/vtid/vpid, 0xFFFFFFFF for loginuid, 0 or empty otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ScapWarning(UserWarning):
    """Something in a capture was skipped (e.g. an unknown block type)."""


BLOCK_HEADER_LEN = 8  # u32 type, u32 block_total_length
BLOCK_TRAILER_LEN = 4  # u32 block_total_length again

SHB_BLOCK_TYPE = 0x0A0D0D0A
SHB_MAGIC = 0x1A2B3C4D
CURRENT_MAJOR_VERSION = 1
CURRENT_MINOR_VERSION = 2

MI_BLOCK_TYPE = 0x201
MI_BLOCK_TYPE_INT = 0x8002ABCD

PL_BLOCK_TYPE_V1 = 0x202
PL_BLOCK_TYPE_V1_INT = 0x8000ABCD
PL_BLOCK_TYPE_V2 = 0x207
PL_BLOCK_TYPE_V2_INT = 0x8013ABCD
PL_BLOCK_TYPE_V3 = 0x209
PL_BLOCK_TYPE_V3_INT = 0x8014ABCD
PL_BLOCK_TYPE_V4 = 0x210
PL_BLOCK_TYPE_V5 = 0x211
PL_BLOCK_TYPE_V6 = 0x212
PL_BLOCK_TYPE_V7 = 0x213
PL_BLOCK_TYPE_V8 = 0x214
PL_BLOCK_TYPE_V9 = 0x215

FDL_BLOCK_TYPE = 0x203
FDL_BLOCK_TYPE_INT = 0x8001ABCD
FDL_BLOCK_TYPE_V2 = 0x218

EV_BLOCK_TYPE = 0x204
EV_BLOCK_TYPE_INT = 0x8010ABCD
EV_BLOCK_TYPE_V2 = 0x216
EV_BLOCK_TYPE_V2_LARGE = 0x221
EVF_BLOCK_TYPE = 0x208
EVF_BLOCK_TYPE_V2 = 0x217
EVF_BLOCK_TYPE_V2_LARGE = 0x222

IL_BLOCK_TYPE = 0x205
IL_BLOCK_TYPE_INT = 0x8011ABCD
IL_BLOCK_TYPE_V2 = 0x219

UL_BLOCK_TYPE = 0x206
UL_BLOCK_TYPE_INT = 0x8012ABCD
UL_BLOCK_TYPE_V2 = 0x220

#: Process list block type -> format version 1..9.
PL_VERSIONS: dict[int, int] = {
    PL_BLOCK_TYPE_V1: 1, PL_BLOCK_TYPE_V1_INT: 1,
    PL_BLOCK_TYPE_V2: 2, PL_BLOCK_TYPE_V2_INT: 2,
    PL_BLOCK_TYPE_V3: 3, PL_BLOCK_TYPE_V3_INT: 3,
    PL_BLOCK_TYPE_V4: 4, PL_BLOCK_TYPE_V5: 5, PL_BLOCK_TYPE_V6: 6,
    PL_BLOCK_TYPE_V7: 7, PL_BLOCK_TYPE_V8: 8, PL_BLOCK_TYPE_V9: 9,
}
FDL_TYPES = frozenset({FDL_BLOCK_TYPE, FDL_BLOCK_TYPE_INT, FDL_BLOCK_TYPE_V2})
IL_TYPES = frozenset({IL_BLOCK_TYPE, IL_BLOCK_TYPE_INT, IL_BLOCK_TYPE_V2})
UL_TYPES = frozenset({UL_BLOCK_TYPE, UL_BLOCK_TYPE_INT, UL_BLOCK_TYPE_V2})
MI_TYPES = frozenset({MI_BLOCK_TYPE, MI_BLOCK_TYPE_INT})
#: Event blocks whose events lack the u32 nparams header field (22-byte header).
EV_V1_TYPES = frozenset({EV_BLOCK_TYPE, EV_BLOCK_TYPE_INT, EVF_BLOCK_TYPE})
LARGE_EV_TYPES = frozenset({EV_BLOCK_TYPE_V2_LARGE, EVF_BLOCK_TYPE_V2_LARGE})

# File descriptor types (scap_fd_type).
SCAP_FD_UNKNOWN = 0
SCAP_FD_FILE = 1
SCAP_FD_DIRECTORY = 2
SCAP_FD_IPV4_SOCK = 3
SCAP_FD_IPV6_SOCK = 4
SCAP_FD_IPV4_SERVSOCK = 5
SCAP_FD_IPV6_SERVSOCK = 6
SCAP_FD_FIFO = 7
SCAP_FD_UNIX_SOCK = 8
SCAP_FD_EVENT = 9
SCAP_FD_UNSUPPORTED = 10
SCAP_FD_SIGNALFD = 11
SCAP_FD_EVENTPOLL = 12
SCAP_FD_INOTIFY = 13
SCAP_FD_TIMERFD = 14
SCAP_FD_NETLINK = 15
SCAP_FD_FILE_V2 = 16
SCAP_FD_BPF = 17
SCAP_FD_USERFAULTFD = 18
SCAP_FD_IOURING = 19
SCAP_FD_MEMFD = 20
SCAP_FD_PIDFD = 21
#: fd types whose only type-specific field is a name.
FD_NAME_ONLY_TYPES = frozenset({
    SCAP_FD_FIFO, SCAP_FD_FILE, SCAP_FD_DIRECTORY, SCAP_FD_UNSUPPORTED, SCAP_FD_EVENT,
    SCAP_FD_SIGNALFD, SCAP_FD_EVENTPOLL, SCAP_FD_INOTIFY, SCAP_FD_TIMERFD, SCAP_FD_NETLINK,
    SCAP_FD_BPF, SCAP_FD_USERFAULTFD, SCAP_FD_IOURING, SCAP_FD_MEMFD, SCAP_FD_PIDFD,
})

# Interface entry types (scap_ifinfo_type).
SCAP_II_IPV4 = 1
SCAP_II_IPV6 = 2
SCAP_II_IPV4_NOLINKSPEED = 3
SCAP_II_IPV6_NOLINKSPEED = 4

USERBLOCK_TYPE_USER = 0
USERBLOCK_TYPE_GROUP = 1

HOSTNAME_LEN = 128


@dataclass(slots=True)
class SectionHeader:
    """The section header block. ``options`` are the bytes between the fixed
    fields and the trailer (pcapng options), kept as stored."""

    major: int = CURRENT_MAJOR_VERSION
    minor: int = CURRENT_MINOR_VERSION
    section_length: int = 0xFFFFFFFFFFFFFFFF
    options: bytes = b""
    byte_order_magic: int = SHB_MAGIC

    @property
    def byte_order_ok(self) -> bool:
        return self.byte_order_magic == SHB_MAGIC


@dataclass(slots=True)
class MachineInfo:
    num_cpus: int = 0
    memory_size_bytes: int = 0
    max_pid: int = 0
    hostname: str = ""
    boot_ts_epoch: int = 0
    flags: int = 0
    reserved3: int = 0
    reserved4: int = 0


@dataclass(slots=True)
class ProcessInfo:
    """One thread of a process list block (scap_threadinfo as saved)."""

    tid: int
    pid: int = 0
    ptid: int = 0
    sid: int = -1
    vpgid: int = -1
    comm: str = ""
    exe: str = ""
    exepath: str = ""
    args: tuple[str, ...] = ()
    cwd: str = ""
    fdlimit: int = 0
    flags: int = 0
    uid: int = 0
    gid: int = 0
    vmsize_kb: int = 0
    vmrss_kb: int = 0
    vmswap_kb: int = 0
    pfmajor: int = 0
    pfminor: int = 0
    env: tuple[str, ...] = ()
    vtid: int = -1
    vpid: int = -1
    cgroups: tuple[str, ...] = ()
    root: str = ""
    pidns_init_start_ts: int = 0
    tty: int = 0
    loginuid: int = 0xFFFFFFFF
    exe_writable: bool = False
    cap_inheritable: int = 0
    cap_permitted: int = 0
    cap_effective: int = 0
    exe_upper_layer: bool = False
    exe_ino: int = 0
    exe_ino_ctime: int = 0
    exe_ino_mtime: int = 0
    exe_from_memfd: bool = False
    exe_lower_layer: bool = False
    pgid: int = -1
    #: Thread start, ns since the epoch: known to a /proc scan, not stored in process list blocks.
    clone_ts: int = 0


@dataclass(slots=True)
class FdInfo:
    """One fd of a fd list block. Which fields are meaningful depends on ``type``
    (SCAP_FD_*): sockets have sip/dip/sport/dport/l4proto (listening sockets
    only sip/sport), unix sockets source/destination and name, files and the
    other named kinds name; SCAP_FD_FILE_V2 adds open_flags and dev."""

    fd: int
    ino: int = 0
    type: int = SCAP_FD_UNKNOWN
    name: str = ""
    open_flags: int = 0
    dev: int = 0
    sip: str = ""
    dip: str = ""
    sport: int = 0
    dport: int = 0
    l4proto: int = 0
    source: int = 0
    destination: int = 0


@dataclass(slots=True)
class UserInfo:
    uid: int
    gid: int
    name: str = ""
    homedir: str = ""
    shell: str = ""


@dataclass(slots=True)
class GroupInfo:
    gid: int
    name: str = ""


@dataclass(slots=True)
class InterfaceInfo:
    """One interface address. ``addr``/``netmask``/``bcast`` are IPv4 or IPv6
    strings; entries saved without link speed read as ``linkspeed`` 0."""

    name: str
    addr: str
    netmask: str
    bcast: str
    linkspeed: int = 0


@dataclass(slots=True)
class Interfaces:
    ipv4: list[InterfaceInfo] = field(default_factory=list)
    ipv6: list[InterfaceInfo] = field(default_factory=list)


@dataclass(slots=True)
class StateBlock:
    """A non-event block as met in the file: its type, file offset (in the
    decompressed stream), total length, how many events preceded it, and what
    it carried: MachineInfo, list[ProcessInfo], (tid, list[FdInfo]),
    Interfaces, (list[UserInfo], list[GroupInfo]), or None for a skipped
    unknown block."""

    type: int
    offset: int
    length: int
    events_before: int
    content: object
