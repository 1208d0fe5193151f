"""Reading .scap capture files (gzip-compressed or plain, told apart by the gzip magic).

Design:

* ``open_capture(path)`` reads the section header and every state block
  (machine info, interfaces, users, processes, fds) up to the first event, so
  ``Capture.processes`` etc. are complete for the usual layout. State blocks
  met *between* events are read when ``events()`` walks past them: they are
  added to the same lists (processes appended, fds extended per tid, users,
  groups and interfaces replaced as upstream does) and recorded in
  ``Capture.raw_blocks`` with the number of events that preceded them, which is
  what ``writer.copy_capture`` needs to reproduce the block order.
* The decompressed stream is read in chunks of 256 KiB (gzip is inflated
  in C by a native thread, a bounded ring of chunks ahead): small enough that a
  chunk is still in the CPU cache when the scanner, the converter, the event
  constructor and then the parsers read it (4 MiB chunks cost ~8 % more on the
  1M-event benchmark); events are zero-copy
  views (``Event.buf``/``Event.off``) into the chunk they sit in. A chunk holds
  whole blocks and is never larger than the data actually present plus one
  chunk, so a forged block length cannot make us allocate it.
* Per event only header-level checks are made (event inside its block, at
  least the 26-byte header, nparams within the table's count for the type, or
  PPM_MAX_EVENT_PARAMS for types beyond the table, parameter-length array
  inside the event, block trailer). Runs of well-formed EV_V2/EVF_V2 blocks
  are checked and unpacked by the C helper ``libscap._scan`` into packed
  records that become ``Event`` tuples without Python code per event; it stops
  at any other block, which the Python general path reads (and where a fault
  is reported with its precise offset). Parameter lengths are checked lazily
  by ``Event`` on the first parameter access; ``SavefileEvent`` re-raises
  that ScapError (and decode errors) with the file path and the event's
  offset. Offsets are byte offsets
  in the decompressed stream for gzip files (the messages say so).
* Events are yielded as stored, internal ones (procinfo, ...) included, and
  numbered from 1 over all of them, like sysdig's ``evt.num``; sysdig itself
  does not print EC_INTERNAL events. V2 events of a type beyond the table are
  yielded too (``Event.info`` is None).
* Events of the oldest block types (EV/EVF without "_V2") have a 22-byte header
  without nparams: like libs, the reader inserts nparams, computed from the
  parameter lengths, so every ``Event`` has the 26-byte header; nothing else
  about the event is changed (old layouts and enter events are left to
  ``libscap.savefile.converter``). Old events of a type beyond the table are
  skipped (their nparams cannot be computed), as libs does.
* Unknown block types are skipped with a ``ScapWarning`` (Python ``warnings``).
* Every malformation raises ``ScapError(message, path, offset)``; I/O and gzip
  errors are turned into ScapError too.
"""

from __future__ import annotations

import itertools
import os
import struct
import warnings
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterator

try:
    from .. import _events, _scan
except ImportError as exc:  # the compiled half is built by CMake, not found on sys.path
    raise ImportError(f"libscap._scan is not built ({exc}): run `pip install -e .` "
                      "(or `make scap` in a CMake build directory)") from exc
from ..errors import ScapError
from ..event import PARAM_LEN_WIDTH, RECORD, Event
from ..params import ipv4_text, ipv6_text
from ..schema import EVENT_HEADER_LEN, EVENTS, PPM_EVENT_MAX, PPME
from . import blocks as B
from .blocks import (
    FdInfo, GroupInfo, InterfaceInfo, Interfaces, MachineInfo, ProcessInfo, ScapWarning,
    SectionHeader, StateBlock, UserInfo,
)

if TYPE_CHECKING:
    from .converter import Converter

#: Upstream's bound on parameters for an event type it does not know.
PPM_MAX_EVENT_PARAMS = 32
#: Non-large event blocks hold at most 64 KiB after the block header (libs' READER_BUF_SIZE).
MAX_EVENT_BLOCK_LEN = 8 + (1 << 16)
#: Sanity cap on any block's length (a process list of a huge host stays well below it).
MAX_BLOCK_LEN = 1 << 28
#: the size of a chunk of the decompressed stream (see above)
CHUNK = 1 << 18

_BH = struct.Struct("<II")
_U32 = struct.Struct("<I")
_EV2 = struct.Struct("<HQQIHI")  # cpu, then the event header
_EVF2 = struct.Struct("<HIQQIHI")  # cpu, flags, then the event header
_EV1_HDR = struct.Struct("<QQIH")  # event header without nparams
_HEADER = struct.Struct("<QQIHI")
_SHB = struct.Struct("<IHHQ")
_MI = struct.Struct("<IQQ128sQQQQ")
_V1_HDR_LEN = 22
_GZIP_MAGIC = b"\x1f\x8b"

# Per event type: the most parameters allowed and the width of a parameter length.
_MAX_PARAMS: tuple[int, ...] = tuple(
    len(EVENTS[t].params) if t < PPM_EVENT_MAX else PPM_MAX_EVENT_PARAMS for t in range(1 << 16))
_LEN_WIDTH: tuple[int, ...] = tuple(PARAM_LEN_WIDTH[t] if t < PPM_EVENT_MAX else 2 for t in range(1 << 16))
#: the walk's converter before the consumer chose one
_NOT_YET = object()
_OLD_LEN_QUIRK = frozenset({PPME.NOTIFICATION_E, PPME.INFRASTRUCTURE_EVENT_E})

assert RECORD.size == _scan.lib.SCAN_RECORD_SIZE
#: Events per C call: the records of a batch stay in the CPU cache while Python turns them into events.
_BATCH = 2048
_scan.lib.scan_init(bytes(_MAX_PARAMS), bytes(_LEN_WIDTH),
                    [B.EV_BLOCK_TYPE_V2, B.EV_BLOCK_TYPE_V2_LARGE, B.EVF_BLOCK_TYPE_V2, B.EVF_BLOCK_TYPE_V2_LARGE],
                    MAX_EVENT_BLOCK_LEN)


class _Chunk(bytes):
    """A piece of the decompressed stream that knows its file and where it starts."""

    path: str
    base: int
    gz: bool


def _error(path: str, gz: bool, message: str, offset: int) -> ScapError:
    if gz:
        message += " (offset in the decompressed gzip stream)"
    return ScapError(message, path, offset)


class SavefileEvent(Event):
    """An Event read from a capture: its ScapErrors (parameter lengths overrunning
    the event, undecodable values) carry the file path and the event's offset."""

    __slots__ = ()

    def _with_context(self, exc: ScapError) -> ScapError:
        buf = self.buf
        return _error(buf.path, buf.gz, exc.message, buf.base + self.off)

    def _param_bounds(self) -> tuple[tuple[int, int], ...]:
        bounds = self._bounds
        if bounds is not None:
            return bounds
        try:
            return Event._param_bounds(self)
        except ScapError as exc:
            raise self._with_context(exc) from None

    def _param_slow(self, i: int) -> Any:  # param(i) (C) ends here for malformed events
        try:
            return Event._param_slow(self, i)
        except ScapError as exc:
            if exc.path is not None:
                raise
            raise self._with_context(exc) from None


class _Stream:
    """The decompressed byte stream of a capture, handed out in ``_Chunk``s.

    gzip files are inflated by a native thread of ``libscap._scan`` (zlib in
    C, no GIL) into a small ring of chunk-sized buffers ahead of the parser, so
    memory stays bounded whatever the compression ratio (a gzip bomb costs
    time, not memory). Concatenated gzip members are read one after the other,
    as gzread does."""

    def __init__(self, path: str):
        self.path = path
        try:
            self.raw = open(path, "rb", buffering=0)  # the gzip thread reads its fd from offset 0
            self.gz = self.raw.read(2) == _GZIP_MAGIC
            self.raw.seek(0)
        except OSError as exc:
            raise ScapError(f"cannot open capture: {exc.strerror or exc}", path) from None
        self.consumed = 0  # stream bytes handed out so far
        self._failure: str | None = None
        self._gz = None
        self._piece_ptr = _scan.ffi.new("const uint8_t **")
        if self.gz:
            self._gz = _scan.lib.gz_open(self.raw.fileno(), CHUNK)
            if self._gz == _scan.ffi.NULL:
                self.raw.close()
                raise ScapError("cannot start the gzip inflater (out of memory or threads)", path)

    def error(self, message: str, offset: int) -> ScapError:
        return _error(self.path, self.gz, message, offset)

    def _piece(self) -> Any:
        """The next piece of the stream (empty at its end); raises on failure. A
        gzip piece is a view of the inflater's buffer, valid until the next call."""
        if self._failure is not None:
            raise self.error(f"cannot read capture: {self._failure}", self.consumed)
        if self._gz is None:
            try:
                return self.raw.read(CHUNK)
            except (OSError, ValueError) as exc:
                self._failure = str(exc)
                return self._piece()
        n = _scan.lib.gz_next(self._gz, self._piece_ptr)
        if n < 0:
            self._failure = _scan.ffi.string(_scan.lib.gz_error(self._gz)).decode(errors="replace")
            return self._piece()
        return _scan.ffi.buffer(self._piece_ptr[0], n) if n else b""

    def refill(self, chunk: _Chunk, pos: int, need: int) -> _Chunk:
        """A chunk starting at ``chunk[pos:]`` with at least ``need`` bytes, or fewer at end of stream."""
        parts: list[Any] = [memoryview(chunk)[pos:]]
        have = len(parts[0])
        while have < need:
            if len(parts) > 1:
                parts[-1] = bytes(parts[-1])  # a gzip piece's buffer is reused by the next _piece()
            data = self._piece()
            if not data:
                break
            self.consumed += len(data)
            parts.append(data)
            have += len(data)
        out = _events.join_bytes(_Chunk, parts)
        out.path, out.gz, out.base = self.path, self.gz, chunk.base + pos
        return out

    def close(self) -> None:
        if self._gz is not None:
            _scan.lib.gz_close(self._gz)
            self._gz = None
        self.raw.close()


def _empty_chunk(stream: _Stream) -> _Chunk:
    c = _Chunk()
    c.path, c.gz, c.base = stream.path, stream.gz, 0
    return c


class _Cursor:
    """Bounds-checked reads of a block body; faults raise ScapError at the fault's offset."""

    __slots__ = ("buf", "pos", "end", "stream", "what")

    def __init__(self, buf: _Chunk, pos: int, end: int, stream: _Stream, what: str):
        self.buf, self.pos, self.end, self.stream, self.what = buf, pos, end, stream, what

    def error(self, message: str, pos: int | None = None) -> ScapError:
        return self.stream.error(f"{self.what}: {message}", self.buf.base + (self.pos if pos is None else pos))

    def left(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> int:
        start = self.pos
        if start + n > self.end:
            raise self.error(f"needs {n} more bytes but only {self.end - start} are left")
        self.pos = start + n
        return start

    def unpack(self, fmt: struct.Struct) -> tuple:
        return fmt.unpack_from(self.buf, self.take(fmt.size))

    def raw(self, n: int) -> bytes:
        start = self.take(n)
        return self.buf[start:start + n]

    def string(self) -> str:
        n, = self.unpack(_U16)
        return self.raw(n).decode("utf-8", "surrogateescape")

    def strings(self) -> tuple[str, ...]:
        """A u16-length NUL-separated list (args, env, cgroups)."""
        n, = self.unpack(_U16)
        data = self.raw(n)
        if not data:
            return ()
        if data.endswith(b"\0"):
            data = data[:-1]
        return tuple(s.decode("utf-8", "surrogateescape") for s in data.split(b"\0"))

    def sub(self, length: int, what: str) -> "_Cursor":
        """A cursor over the next ``length`` bytes (one length-prefixed entry)."""
        start = self.take(length)
        return _Cursor(self.buf, start, start + length, self.stream, what)

    def sized_entry(self, what: str) -> "_Cursor":
        """A cursor over the entry body of a block version whose entries start
        with their own u32 total length (PL_V9, FDL_V2)."""
        entry_start = self.pos
        sub_len, = self.unpack(_U32)
        if sub_len < 4:
            raise self.error(f"{what} length {sub_len} is too short", entry_start)
        self.pos = entry_start
        entry = self.sub(sub_len, what)
        entry.take(4)
        return entry


_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_PL_IDS = struct.Struct("<qqq")
_PL_LIMITS = struct.Struct("<qIII")  # fdlimit, flags, uid, gid
_PL_MEM = struct.Struct("<IIIQQ")  # vmsize, vmrss, vmswap, pfmajor, pfminor
_PL_VIDS = struct.Struct("<qq")
# Fields appended to PL_V9 entries over time, read while the entry has room: (name, format).
_PL_V9_TAIL: tuple[tuple[str, struct.Struct], ...] = (
    ("loginuid", _U32), ("exe_writable", _U8), ("cap_inheritable", _U64),
    ("cap_permitted", _U64), ("cap_effective", _U64), ("exe_upper_layer", _U8),
    ("exe_ino", _U64), ("exe_ino_ctime", _U64), ("exe_ino_mtime", _U64),
    ("exe_from_memfd", _U8), ("exe_lower_layer", _U8), ("pgid", _I64),
)
_BOOL_FIELDS = frozenset({"exe_writable", "exe_upper_layer", "exe_from_memfd", "exe_lower_layer"})
# libs 0.10 inserted pidns_init_start_ts and tty before loginuid; entries with at most
# this many bytes left after root predate it (loginuid, exe_writable, 3 capabilities).
_PRE_0_10_TAIL = 29


def _parse_process(c: _Cursor, version: int) -> ProcessInfo:
    if version == 9:
        c = c.sized_entry("process list entry")
    tid, pid, ptid = c.unpack(_PL_IDS)
    p = ProcessInfo(tid, pid, ptid)
    if version >= 6:
        p.sid, = c.unpack(_I64)
    if version >= 8:
        p.vpgid, = c.unpack(_I64)
    p.comm = c.string()
    p.exe = c.string()
    if version >= 7:
        p.exepath = c.string()
    p.args = c.strings()
    p.cwd = c.string()
    p.fdlimit, p.flags, p.uid, p.gid = c.unpack(_PL_LIMITS)
    if version >= 2:
        p.vmsize_kb, p.vmrss_kb, p.vmswap_kb, p.pfmajor, p.pfminor = c.unpack(_PL_MEM)
    if version >= 3:
        p.env = c.strings()
    if version >= 4:
        p.vtid, p.vpid = c.unpack(_PL_VIDS)
        p.cgroups = c.strings()
    if version >= 5:
        p.root = c.string()
    if version == 9:
        if c.left() > _PRE_0_10_TAIL:
            if c.left() >= 8:
                p.pidns_init_start_ts, = c.unpack(_U64)
            if c.left() >= 4:
                p.tty, = c.unpack(_U32)
        for name, fmt in _PL_V9_TAIL:
            if c.left() < fmt.size:
                break
            value, = c.unpack(fmt)
            setattr(p, name, bool(value) if name in _BOOL_FIELDS else value)
    return p


def _parse_fd(c: _Cursor, v2: bool) -> FdInfo:
    if v2:
        c = c.sized_entry("fd list entry")
    fd, ino, fdtype = c.unpack(_FD_COMMON)
    f = FdInfo(fd, ino, fdtype)
    if fdtype == B.SCAP_FD_IPV4_SOCK:
        sip, dip, f.sport, f.dport, f.l4proto = c.unpack(_FD_IPV4)
        f.sip, f.dip = ipv4_text(sip), ipv4_text(dip)
    elif fdtype == B.SCAP_FD_IPV4_SERVSOCK:
        sip, f.sport, f.l4proto = c.unpack(_FD_IPV4_SERV)
        f.sip = ipv4_text(sip)
    elif fdtype == B.SCAP_FD_IPV6_SOCK:
        sip, dip, f.sport, f.dport, f.l4proto = c.unpack(_FD_IPV6)
        f.sip, f.dip = ipv6_text(sip), ipv6_text(dip)
    elif fdtype == B.SCAP_FD_IPV6_SERVSOCK:
        sip, f.sport, f.l4proto = c.unpack(_FD_IPV6_SERV)
        f.sip = ipv6_text(sip)
    elif fdtype == B.SCAP_FD_UNIX_SOCK:
        f.source, f.destination = c.unpack(_FD_UNIX)
        f.name = c.string()
    elif fdtype == B.SCAP_FD_FILE_V2:
        f.open_flags, = c.unpack(_U32)
        f.name = c.string()
        if v2 and c.left() >= 4:
            f.dev, = c.unpack(_U32)
    elif fdtype in B.FD_NAME_ONLY_TYPES:
        f.name = c.string()
    elif not v2:
        # Without an entry length there is no way to find the next entry.
        raise c.error(f"unknown fd type {fdtype} in a version 1 fd list")
    # v2: an unknown type (from a newer writer) keeps its number; the rest is skipped.
    return f


_FD_COMMON = struct.Struct("<qQB")
_FD_IPV4 = struct.Struct("<4s4sHHB")
_FD_IPV4_SERV = struct.Struct("<4sHB")
_FD_IPV6 = struct.Struct("<16s16sHHB")
_FD_IPV6_SERV = struct.Struct("<16sHB")
_FD_UNIX = struct.Struct("<QQ")
_IF_HEAD = struct.Struct("<HH")
_IF_V4 = struct.Struct("<4s4s4s")
_IF_V6 = struct.Struct("<16s16s16s")
_UL_USER = struct.Struct("<II")


def _parse_interface(c: _Cursor, v2: bool) -> tuple[bool, InterfaceInfo]:
    """One interface entry: (is_ipv6, info)."""
    if v2:
        size, = c.unpack(_U32)
        c = c.sub(size, "interface list entry")
    iftype, namelen = c.unpack(_IF_HEAD)
    if iftype in (B.SCAP_II_IPV4, B.SCAP_II_IPV4_NOLINKSPEED):
        addr, mask, bcast = (ipv4_text(a) for a in c.unpack(_IF_V4))
    elif iftype in (B.SCAP_II_IPV6, B.SCAP_II_IPV6_NOLINKSPEED):
        addr, mask, bcast = (ipv6_text(a) for a in c.unpack(_IF_V6))
    else:
        raise c.error(f"unknown interface type {iftype}", c.pos - 4)
    linkspeed = 0
    if iftype in (B.SCAP_II_IPV4, B.SCAP_II_IPV6):
        linkspeed, = c.unpack(_U64)
    name = c.raw(namelen).decode("utf-8", "surrogateescape")
    return iftype in (B.SCAP_II_IPV6, B.SCAP_II_IPV6_NOLINKSPEED), InterfaceInfo(name, addr, mask, bcast, linkspeed)


def _parse_user_entry(c: _Cursor, v2: bool) -> UserInfo | GroupInfo:
    if v2:
        entry_start = c.pos
        sub_len, = c.unpack(_U32)
        if sub_len < 4:
            raise c.error(f"user list entry length {sub_len} is too short", entry_start)
        c.pos = entry_start
        c = c.sub(sub_len, "user list entry")
        c.take(4)
    kind, = c.unpack(_U8)
    if kind == B.USERBLOCK_TYPE_USER:
        uid, gid = c.unpack(_UL_USER)
        return UserInfo(uid, gid, c.string(), c.string(), c.string())
    gid, = c.unpack(_U32)
    return GroupInfo(gid, c.string())


def _entries(c: _Cursor, parse: Callable[[_Cursor], object]) -> list:
    """Entries until fewer than 4 bytes (the padding) are left, as libs reads lists."""
    out = []
    while c.left() >= 4:
        out.append(parse(c))
    return out


class Capture:
    """An open .scap capture: section header, state read so far, and its events.

    ``processes``, ``fds``, ``users``, ``groups``, ``interfaces`` and
    ``machine_info`` hold the state blocks read so far: all those before the
    first event once opened, plus those ``events()`` has walked past.
    ``raw_blocks`` lists every non-event block in file order as a StateBlock.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        self.section = SectionHeader()
        self.machine_info: MachineInfo | None = None
        self.processes: list[ProcessInfo] = []
        self.fds: dict[int, list[FdInfo]] = {}
        self.users: list[UserInfo] = []
        self.groups: list[GroupInfo] = []
        self.interfaces: Interfaces | None = None
        self.raw_blocks: list[StateBlock] = []
        self._state_end = 0  # stream offset up to which state blocks have been recorded
        self._stream: _Stream | None = None
        # the walk of the first pass, paused before its first event (None: no events)
        self._pending: Generator[list[Event], Converter | None, None] | None = None
        self._fresh = False
        self._pending = self._start()
        self._fresh = True

    # -- public -----------------------------------------------------------------

    def events(self, converter: Converter | None = None) -> Iterator[Event]:
        """Events in file order, numbered from 1, as stored (see the module doc);
        with a ``converter`` (``libscap.savefile.converter.Converter``), the
        converted stream current libs delivers, converted in C batch by batch.

        May be called again: each call reads the file anew from the first event
        block; state blocks already recorded are not added twice."""
        return itertools.chain.from_iterable(self.batches(converter))

    def batches(self, converter: Converter | None = None) -> Iterator[list[Event]]:
        """``events()`` as the lists of events the reader makes at once (up to a
        few thousand; possibly empty once converted): for consumers that loop
        over events themselves."""
        if self._fresh:
            walk, self._pending, self._fresh = self._pending, None, False
        else:
            walk = self._start()
        if walk is None:
            return iter(())
        first = walk.send(converter)  # the walk resumes with its first event
        return itertools.chain((first,), walk)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def __enter__(self) -> "Capture":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------

    def _start(self) -> Generator[list[Event], Converter | None, None] | None:
        """A new walk over the file, run up to its first event (so the state
        blocks before it are read); None if the file has no events."""
        self.close()
        stream = self._stream = _Stream(self.path)
        chunk = stream.refill(_empty_chunk(stream), 0, 12)
        self.section, pos = self._read_section_header(stream, chunk)
        walk = self._walk(stream, chunk, pos)
        try:
            next(walk)
        except StopIteration:
            return None
        return walk

    def _read_section_header(self, stream: _Stream, chunk: _Chunk) -> tuple[SectionHeader, int]:
        if len(chunk) < 12:
            raise stream.error(f"file of {len(chunk)} bytes is too short for a section header block", 0)
        btype, blen = _BH.unpack_from(chunk, 0)
        if btype != B.SHB_BLOCK_TYPE:
            raise stream.error(f"not a .scap file: first block type is {btype:#x}, not the section header {B.SHB_BLOCK_TYPE:#x}", 0)
        min_len = B.BLOCK_HEADER_LEN + _SHB.size + B.BLOCK_TRAILER_LEN
        if blen < min_len or blen > MAX_BLOCK_LEN:
            raise stream.error(f"section header block length {blen} is invalid (at least {min_len})", 4)
        if len(chunk) < blen:
            chunk = stream.refill(chunk, 0, blen)
            if len(chunk) < blen:
                raise stream.error(f"truncated section header block: {blen} bytes needed, {len(chunk)} present", 0)
        magic, major, minor, section_length = _SHB.unpack_from(chunk, 8)
        if magic != B.SHB_MAGIC:
            raise stream.error(f"bad byte-order magic {magic:#010x} (expected {B.SHB_MAGIC:#010x}; byte-swapped captures are not supported)", 8)
        if major > B.CURRENT_MAJOR_VERSION:
            raise stream.error(f"capture format version {major}.{minor} is newer than the supported {B.CURRENT_MAJOR_VERSION}.x", 12)
        trailer, = _U32.unpack_from(chunk, blen - 4)
        if trailer != blen:
            raise stream.error(f"section header block length {blen} does not match its trailer {trailer}", blen - 4)
        options = bytes(chunk[8 + _SHB.size:blen - 4])
        return SectionHeader(major, minor, section_length, options, magic), blen

    def _walk(self, stream: _Stream, buf: _Chunk, pos: int
              ) -> Generator[list[Event] | tuple[Event, ...] | None, Converter | None, None]:
        """The block loop: yields batches of events, records state blocks.

        It first yields None when it reaches the first event, and is then
        resumed with ``send(converter)`` (None: events as stored). A batch is
        either the events made from up to ``_BATCH`` records of the C scanner
        (by ``_events.make_events``, or by the converter, in C too) or the
        event of a block the general path below read."""
        converter: Any = _NOT_YET
        event_cls = SavefileEvent
        make_events = _events.make_events
        scan = _scan.lib.scan_events
        records = bytearray(_BATCH * RECORD.size)
        records_c = _scan.ffi.from_buffer(records)
        stop = _scan.ffi.new("size_t *")
        bh_unpack = _BH.unpack_from
        u32_unpack = _U32.unpack_from
        ev2_unpack = _EV2.unpack_from
        evf2_unpack = _EVF2.unpack_from
        max_params, len_width = _MAX_PARAMS, _LEN_WIDTH
        ev_v2, ev_v2_large = B.EV_BLOCK_TYPE_V2, B.EV_BLOCK_TYPE_V2_LARGE
        evf_v2_types = (B.EVF_BLOCK_TYPE_V2, B.EVF_BLOCK_TYPE_V2_LARGE)
        large_types, ev_v1_types = B.LARGE_EV_TYPES, B.EV_V1_TYPES
        hdr = EVENT_HEADER_LEN
        num = 0
        end = len(buf)
        try:
            while True:
                n = scan(buf, pos, end, num, records_c, _BATCH, stop)
                if n:
                    num += n
                    pos = stop[0]
                    if converter is _NOT_YET:
                        converter = yield None
                    if converter is None:
                        yield make_events(event_cls, buf, records, n)
                    else:
                        yield converter.convert_records(event_cls, buf, records, n)
                    if n == _BATCH:
                        continue
                # General path: the one block the scanner stopped at (any type, chunk end, or a fault).
                if pos + 8 > end:
                    buf = stream.refill(buf, pos, 8)
                    pos, end = 0, len(buf)
                    if end == 0:
                        return
                    if end < 8:
                        raise stream.error(f"truncated block header: {end} bytes at end of file", buf.base)
                btype, blen = bh_unpack(buf, pos)
                if pos + blen > end or blen < 12:
                    self._check_block_len(stream, buf, pos, btype, blen)
                    buf = stream.refill(buf, pos, blen)
                    pos, end = 0, len(buf)
                    if end < blen:
                        raise stream.error(f"truncated block of type {btype:#x}: length {blen}, only {end} bytes left", buf.base)
                bend = pos + blen
                if u32_unpack(buf, bend - 4)[0] != blen:
                    raise stream.error(f"block length {blen} (type {btype:#x}) does not match its trailer {u32_unpack(buf, bend - 4)[0]}",
                                       buf.base + bend - 4)
                if btype == ev_v2 or btype == ev_v2_large:
                    if blen < 40 or (blen > MAX_EVENT_BLOCK_LEN and btype == ev_v2):
                        raise self._event_block_len_error(stream, buf, pos, btype, blen)
                    cpu, ts, tid, elen, etype, nparams = ev2_unpack(buf, pos + 8)
                    flags = 0
                    eoff = pos + 10
                    ebuf = buf
                    limit = bend - 4
                elif btype in evf_v2_types:
                    if blen < 44 or (blen > MAX_EVENT_BLOCK_LEN and btype not in large_types):
                        raise self._event_block_len_error(stream, buf, pos, btype, blen)
                    cpu, flags, ts, tid, elen, etype, nparams = evf2_unpack(buf, pos + 8)
                    eoff = pos + 14
                    ebuf = buf
                    limit = bend - 4
                elif btype in ev_v1_types:
                    if blen > MAX_EVENT_BLOCK_LEN:
                        raise self._event_block_len_error(stream, buf, pos, btype, blen)
                    upgraded = self._upgrade_v1_event(stream, buf, pos, btype, blen)
                    pos = bend
                    if upgraded is None:
                        continue
                    ebuf, cpu, flags = upgraded
                    ts, tid, elen, etype, nparams = _HEADER.unpack_from(ebuf, 0)
                    eoff = 0
                    limit = elen
                else:
                    self._read_state_block(stream, buf, pos, btype, blen, num)
                    pos = bend
                    continue
                if elen < hdr:
                    raise stream.error(f"event length {elen} is shorter than the {hdr}-byte event header", ebuf.base + eoff)
                if eoff + elen > limit:
                    raise stream.error(f"event length {elen} overruns its block of {blen} bytes", ebuf.base + eoff)
                if nparams > max_params[etype]:
                    raise stream.error(f"event type {etype} has {nparams} parameters, more than the {max_params[etype]} allowed",
                                       ebuf.base + eoff)
                if hdr + len_width[etype] * nparams > elen:
                    raise stream.error(f"event of {elen} bytes is too short for its {nparams} parameter lengths", ebuf.base + eoff)
                num += 1
                pos = bend
                if converter is _NOT_YET:
                    converter = yield None
                evt = event_cls(ebuf, eoff, ts, tid, elen, etype, nparams, cpu, num, flags)
                if converter is None:
                    yield (evt,)
                else:
                    out = converter.convert(evt)
                    yield (out,) if out is not None else ()
        finally:
            stream.close()

    @staticmethod
    def _check_block_len(stream: _Stream, buf: _Chunk, pos: int, btype: int, blen: int) -> None:
        if blen < 12:
            raise stream.error(f"block length {blen} (type {btype:#x}) is shorter than a block's header and trailer", buf.base + pos + 4)
        if blen > MAX_BLOCK_LEN:
            raise stream.error(f"block length {blen} (type {btype:#x}) exceeds the {MAX_BLOCK_LEN}-byte limit", buf.base + pos + 4)

    @staticmethod
    def _event_block_len_error(stream: _Stream, buf: _Chunk, pos: int, btype: int, blen: int) -> ScapError:
        return stream.error(f"event block length {blen} (type {btype:#x}) is invalid: too short for an event, "
                            f"or longer than the {MAX_EVENT_BLOCK_LEN} bytes of a non-large event block", buf.base + pos + 4)

    def _upgrade_v1_event(self, stream: _Stream, buf: _Chunk, pos: int, btype: int, blen: int
                          ) -> tuple[_Chunk, int, int] | None:
        """Rebuild an event of an old block (no nparams) with the 26-byte header, as libs does.

        Returns (event bytes, cpu, flags), or None for an event type beyond the table."""
        body = pos + 8
        avail = blen - 12
        cpu, = _U16.unpack_from(buf, body)
        flags = 0
        head = 2
        if btype == B.EVF_BLOCK_TYPE:
            flags, = _U32.unpack_from(buf, body + 2) if avail >= 6 else (0,)
            head = 6
        eoff = body + head
        if avail < head + _V1_HDR_LEN:
            raise stream.error(f"event block length {blen} is too short for an event", buf.base + pos)
        ts, tid, elen, etype = _EV1_HDR.unpack_from(buf, eoff)
        if elen < _V1_HDR_LEN:
            raise stream.error(f"event length {elen} is shorter than the {_V1_HDR_LEN}-byte old event header", buf.base + eoff)
        if elen > avail - head:
            raise stream.error(f"event length {elen} overruns its block of {blen} bytes", buf.base + eoff)
        if etype >= PPM_EVENT_MAX:
            warnings.warn(f"{self.path}: skipping old event of unknown type {etype} at offset {buf.base + eoff}",
                          ScapWarning, stacklevel=2)
            return None
        if etype in _OLD_LEN_QUIRK:  # old writers stored these 3 bytes too long
            elen = max(elen - 3, _V1_HDR_LEN)
        nparams = _old_nparams(buf, eoff, elen, len(EVENTS[etype].params))
        if nparams is None:
            raise stream.error("cannot compute the parameter count of an old event (its parameter lengths do not add up)",
                               buf.base + eoff)
        out = _Chunk(_HEADER.pack(ts, tid, elen + 4, etype, nparams) + buf[eoff + _V1_HDR_LEN:eoff + elen])
        out.path, out.gz, out.base = stream.path, stream.gz, buf.base + eoff
        return out, cpu, flags

    def _read_state_block(self, stream: _Stream, buf: _Chunk, pos: int, btype: int, blen: int, events_before: int) -> None:
        offset = buf.base + pos
        if offset < self._state_end:
            return  # recorded by an earlier pass over the file
        body = _Cursor(buf, pos + 8, pos + blen - 4, stream, f"block {btype:#x}")
        content: object
        if btype in B.PL_VERSIONS:
            version = B.PL_VERSIONS[btype]
            body.what = f"process list (v{version})"
            content = _entries(body, lambda c: _parse_process(c, version))
            self.processes.extend(content)
        elif btype in B.FDL_TYPES:
            body.what = "fd list"
            tid, = body.unpack(_I64)
            v2 = btype == B.FDL_BLOCK_TYPE_V2
            fds = _entries(body, lambda c: _parse_fd(c, v2))
            self.fds.setdefault(tid, []).extend(fds)
            content = (tid, fds)
        elif btype in B.MI_TYPES:
            body.what = "machine info"
            num_cpus, mem, max_pid, host, boot_ts, flags, r3, r4 = body.unpack(_MI)
            host = host.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            content = self.machine_info = MachineInfo(num_cpus, mem, max_pid, host, boot_ts, flags, r3, r4)
        elif btype in B.IL_TYPES:
            body.what = "interface list"
            v2 = btype == B.IL_BLOCK_TYPE_V2
            content = Interfaces()
            for is_v6, info in _entries(body, lambda c: _parse_interface(c, v2)):
                (content.ipv6 if is_v6 else content.ipv4).append(info)
            self.interfaces = content
        elif btype in B.UL_TYPES:
            body.what = "user list"
            v2 = btype == B.UL_BLOCK_TYPE_V2
            entries = _entries(body, lambda c: _parse_user_entry(c, v2))
            self.users = [e for e in entries if isinstance(e, UserInfo)]
            self.groups = [e for e in entries if isinstance(e, GroupInfo)]
            content = (self.users, self.groups)
        else:
            warnings.warn(f"{self.path}: skipping block of unknown type {btype:#x} ({blen} bytes) at offset {offset}",
                          ScapWarning, stacklevel=3)
            content = None
        self.raw_blocks.append(StateBlock(btype, offset, blen, events_before, content))
        self._state_end = offset + blen


def _old_nparams(buf: bytes, eoff: int, elen: int, table_nparams: int) -> int | None:
    """The parameter count of an old-layout event: the largest count (from the
    table's down) whose lengths fit and add up to exactly the event length."""
    end = eoff + elen
    lens_at = eoff + _V1_HDR_LEN
    for n in range(table_nparams, -1, -1):
        values_at = lens_at + 2 * n
        if values_at > end:
            continue
        total = values_at + sum(struct.unpack_from("<%dH" % n, buf, lens_at))
        if total == end:
            return n
        if total < end:
            return None
    return None


def open_capture(path: str | os.PathLike[str]) -> Capture:
    """Open a .scap file (gzip or plain) and read its state blocks up to the first event.

    Raises ScapError for anything unreadable up to and including the first
    event. A capture without event blocks is accepted (libs refuses it): it
    simply has no events."""
    return Capture(path)
