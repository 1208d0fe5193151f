"""Writing .scap capture files.

``CaptureWriter`` writes blocks one at a time; ``write_capture`` writes a
whole capture (state first, in upstream's order: machine info, interfaces,
users, processes, fds; then events); ``copy_capture`` rewrites an open
``Capture`` keeping its block order (state blocks met between events stay
there).

Block versions written, and why:

* section header 1.2, MI, IL_V2, UL_V2, PL_V9 (every field libs knows today),
  FDL_V2: the newest versions; sysdig 0.29 reads all of them (the PL_V9,
  FDL_V2 and UL_V2 entries carry their own length, so older readers skip the
  fields they do not know).
* events: EV_V2 blocks, EVF_V2 when the event has flags. The *_LARGE block
  variants are used only for events that do not fit in a non-large block
  (64 KiB): sysdig 0.29 does not know the large block types, and current libs
  reads either.

Strings are written back from their ``surrogateescape`` decoding, so a
read-write-read round trip gives identical state and identical event bytes.
"""

from __future__ import annotations

import gzip
import os
import struct
from typing import IO, Iterable, Mapping

from ..event import Event
from . import blocks as B
from .blocks import (
    FdInfo, GroupInfo, InterfaceInfo, Interfaces, MachineInfo, ProcessInfo, SectionHeader, StateBlock,
    UserInfo,
)
from .reader import MAX_EVENT_BLOCK_LEN, Capture

_BH = struct.Struct("<II")
_U32 = struct.Struct("<I")
_EV_HEAD = struct.Struct("<IIH")  # block type, length, cpu
_EVF_HEAD = struct.Struct("<IIHI")  # block type, length, cpu, flags
_PADS = (b"", b"\0\0\0", b"\0\0", b"\0")
_FLUSH_AT = 1 << 20


def _s(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _str16(text: str) -> bytes:
    data = _s(text)
    return struct.pack("<H", len(data)) + data


def _strs16(items: tuple[str, ...]) -> bytes:
    data = b"".join(_s(i) + b"\0" for i in items)
    return struct.pack("<H", len(data)) + data


def _ipv4(text: str) -> bytes:
    return bytes(int(x) for x in text.split(".")) if text else bytes(4)


def _ipv6(text: str) -> bytes:
    import ipaddress

    return ipaddress.IPv6Address(text).packed if text else bytes(16)


def _sized(entry: bytes) -> bytes:
    """An entry prefixed by its u32 length, the length field included."""
    return _U32.pack(len(entry) + 4) + entry


def _block(btype: int, body: bytes) -> bytes:
    total = 12 + len(body) + (-len(body) % 4)
    return _BH.pack(btype, total) + body + _PADS[len(body) % 4] + _U32.pack(total)


def encode_section(section: SectionHeader) -> bytes:
    return _block(B.SHB_BLOCK_TYPE, struct.pack("<IHHQ", B.SHB_MAGIC, section.major, section.minor,
                                                 section.section_length) + section.options)


def encode_machine_info(mi: MachineInfo) -> bytes:
    host = _s(mi.hostname)[:B.HOSTNAME_LEN - 1]
    return _block(B.MI_BLOCK_TYPE, struct.pack("<IQQ128sQQQQ", mi.num_cpus, mi.memory_size_bytes, mi.max_pid, host,
                                               mi.boot_ts_epoch, mi.flags, mi.reserved3, mi.reserved4))


def encode_interfaces(ifaces: Interfaces) -> bytes:
    entries = []
    for kind, pack_addr, items in ((B.SCAP_II_IPV4, _ipv4, ifaces.ipv4), (B.SCAP_II_IPV6, _ipv6, ifaces.ipv6)):
        for i in items:
            name = _s(i.name)
            entry = (struct.pack("<HH", kind, len(name)) + pack_addr(i.addr) + pack_addr(i.netmask)
                     + pack_addr(i.bcast) + struct.pack("<Q", i.linkspeed) + name)
            entries.append(_U32.pack(len(entry)) + entry)  # IL_V2 sizes exclude the size field
    return _block(B.IL_BLOCK_TYPE_V2, b"".join(entries))


def encode_users(users: Iterable[UserInfo], groups: Iterable[GroupInfo]) -> bytes:
    body = [_sized(struct.pack("<BII", B.USERBLOCK_TYPE_USER, u.uid, u.gid) + _str16(u.name) + _str16(u.homedir)
                   + _str16(u.shell)) for u in users]
    body += [_sized(struct.pack("<BI", B.USERBLOCK_TYPE_GROUP, g.gid) + _str16(g.name)) for g in groups]
    return _block(B.UL_BLOCK_TYPE_V2, b"".join(body))


def _process_entry(p: ProcessInfo) -> bytes:
    return _sized(b"".join((
        struct.pack("<qqqqq", p.tid, p.pid, p.ptid, p.sid, p.vpgid),
        _str16(p.comm), _str16(p.exe), _str16(p.exepath), _strs16(p.args), _str16(p.cwd),
        struct.pack("<qIIIIIIQQ", p.fdlimit, p.flags, p.uid, p.gid, p.vmsize_kb, p.vmrss_kb, p.vmswap_kb,
                    p.pfmajor, p.pfminor),
        _strs16(p.env), struct.pack("<qq", p.vtid, p.vpid), _strs16(p.cgroups), _str16(p.root),
        struct.pack("<QIIBQQQBQQQBBq", p.pidns_init_start_ts, p.tty, p.loginuid, p.exe_writable,
                    p.cap_inheritable, p.cap_permitted, p.cap_effective, p.exe_upper_layer, p.exe_ino,
                    p.exe_ino_ctime, p.exe_ino_mtime, p.exe_from_memfd, p.exe_lower_layer, p.pgid),
    )))


def encode_processes(processes: Iterable[ProcessInfo]) -> bytes:
    return _block(B.PL_BLOCK_TYPE_V9, b"".join(_process_entry(p) for p in processes))


def _fd_entry(f: FdInfo) -> bytes:
    head = struct.pack("<qQB", f.fd, f.ino, f.type)
    t = f.type
    if t == B.SCAP_FD_IPV4_SOCK:
        info = _ipv4(f.sip) + _ipv4(f.dip) + struct.pack("<HHB", f.sport, f.dport, f.l4proto)
    elif t == B.SCAP_FD_IPV4_SERVSOCK:
        info = _ipv4(f.sip) + struct.pack("<HB", f.sport, f.l4proto)
    elif t == B.SCAP_FD_IPV6_SOCK:
        info = _ipv6(f.sip) + _ipv6(f.dip) + struct.pack("<HHB", f.sport, f.dport, f.l4proto)
    elif t == B.SCAP_FD_IPV6_SERVSOCK:
        info = _ipv6(f.sip) + struct.pack("<HB", f.sport, f.l4proto)
    elif t == B.SCAP_FD_UNIX_SOCK:
        info = struct.pack("<QQ", f.source, f.destination) + _str16(f.name)
    elif t == B.SCAP_FD_FILE_V2:
        info = _U32.pack(f.open_flags) + _str16(f.name) + _U32.pack(f.dev)
    elif t in B.FD_NAME_ONLY_TYPES:
        info = _str16(f.name)
    else:  # a type from a newer writer, kept by number only
        info = b""
    return _sized(head + info)


def encode_fds(tid: int, fds: Iterable[FdInfo]) -> bytes:
    return _block(B.FDL_BLOCK_TYPE_V2, struct.pack("<q", tid) + b"".join(_fd_entry(f) for f in fds))


def encode_event(raw: bytes, cpu: int, flags: int) -> bytes:
    """One event block holding the event bytes ``raw`` (see the module doc for the type chosen)."""
    n = len(raw)
    if flags:
        total = 18 + n + (-(n + 2) % 4)
        btype = B.EVF_BLOCK_TYPE_V2 if total <= MAX_EVENT_BLOCK_LEN else B.EVF_BLOCK_TYPE_V2_LARGE
        head = _EVF_HEAD.pack(btype, total, cpu, flags)
    else:
        total = 14 + n + (-(n + 2) % 4)
        btype = B.EV_BLOCK_TYPE_V2 if total <= MAX_EVENT_BLOCK_LEN else B.EV_BLOCK_TYPE_V2_LARGE
        head = _EV_HEAD.pack(btype, total, cpu)
    return head + raw + _PADS[(n + 2) % 4] + _U32.pack(total)


class CaptureWriter:
    """Writes a .scap file block by block (gzip-compressed unless ``compress=False``).

    Use as a context manager or call ``close()``; the section header is written
    on creation. A new file is created 0600: captures hold what every process did
    (arguments, paths, data), which other users may not read."""

    def __init__(self, path: str | os.PathLike[str], *, section: SectionHeader | None = None,
                 compress: bool = True, compresslevel: int = 6):
        self.path = os.fspath(path)
        raw = open(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600), "wb")
        self._raw: IO[bytes] | None = raw if compress else None
        self._f: IO[bytes] = (gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=compresslevel,
                                            filename="") if compress else raw)
        self._pending: list[bytes] = []
        self._pending_len = 0
        self.events_written = 0
        self._put(encode_section(section or SectionHeader()))

    def _put(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_len += len(data)
        if self._pending_len >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        self._f.write(b"".join(self._pending))
        self._pending.clear()
        self._pending_len = 0

    def write_machine_info(self, mi: MachineInfo) -> None:
        self._put(encode_machine_info(mi))

    def write_interfaces(self, interfaces: Interfaces) -> None:
        self._put(encode_interfaces(interfaces))

    def write_users(self, users: Iterable[UserInfo], groups: Iterable[GroupInfo]) -> None:
        self._put(encode_users(users, groups))

    def write_processes(self, processes: Iterable[ProcessInfo]) -> None:
        self._put(encode_processes(processes))

    def write_fds(self, tid: int, fds: Iterable[FdInfo]) -> None:
        self._put(encode_fds(tid, fds))

    def write_state_block(self, block: StateBlock) -> None:
        """Write a block recorded in ``Capture.raw_blocks`` (unknown blocks are dropped)."""
        c = block.content
        if isinstance(c, MachineInfo):
            self.write_machine_info(c)
        elif isinstance(c, Interfaces):
            self.write_interfaces(c)
        elif block.type in B.UL_TYPES:
            self.write_users(*c)
        elif block.type in B.PL_VERSIONS:
            self.write_processes(c)
        elif block.type in B.FDL_TYPES:
            self.write_fds(*c)

    def write_event(self, event: Event) -> None:
        """Write ``event`` with its cpu and flags (cpu -1, i.e. unknown, is stored as 0xFFFF)."""
        self._put(encode_event(event.buf[event.off:event.off + event.len], event.cpu & 0xFFFF, event.flags))
        self.events_written += 1

    def write_events(self, events: Iterable[Event]) -> None:
        for e in events:
            self.write_event(e)

    def close(self) -> None:
        if self._f.closed:
            return
        self.flush()
        self._f.close()
        if self._raw is not None:
            self._raw.close()

    def __enter__(self) -> "CaptureWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_capture(path: str | os.PathLike[str], *, section: SectionHeader | None = None,
                  machine_info: MachineInfo | None = None, processes: Iterable[ProcessInfo] = (),
                  fds: Mapping[int, Iterable[FdInfo]] | None = None, users: Iterable[UserInfo] = (),
                  groups: Iterable[GroupInfo] = (), interfaces: Interfaces | None = None,
                  events: Iterable[Event] = (), compress: bool = True) -> None:
    """Write a whole capture: state blocks in upstream's order, then the events.

    Empty process and fd lists write no block, as upstream; the user list and
    machine info blocks are written when given."""
    with CaptureWriter(path, section=section, compress=compress) as w:
        if machine_info is not None:
            w.write_machine_info(machine_info)
        if interfaces is not None:
            w.write_interfaces(interfaces)
        users, groups = list(users), list(groups)
        if users or groups:
            w.write_users(users, groups)
        processes = list(processes)
        if processes:
            w.write_processes(processes)
        for tid, tfds in (fds or {}).items():
            w.write_fds(tid, tfds)
        w.write_events(events)


def copy_capture(capture: Capture, path: str | os.PathLike[str], *, compress: bool = True) -> None:
    """Rewrite ``capture`` to ``path`` in today's block versions, keeping the
    position of every state block relative to the events."""
    section = SectionHeader(options=capture.section.options)
    with CaptureWriter(path, section=section, compress=compress) as w:
        blocks = capture.raw_blocks
        written = 0
        for ev in capture.events():
            while written < len(blocks) and blocks[written].events_before < ev.num:
                w.write_state_block(blocks[written])
                written += 1
            w.write_event(ev)
        for block in blocks[written:]:
            w.write_state_block(block)
