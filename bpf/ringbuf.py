"""Ring buffer consumers.

RingBufferReader is the fast path: one C call copies a whole batch of records out
of one or more BPF ring buffers (e.g. one per CPU), merged oldest-first by a u64
timestamp inside each record, so that draining never costs a Python call per
record. It reads the rings' shared memory itself (as libbpf's ringbuf.c does)
rather than going through ring_buffer__consume: merging needs to *peek* at the
head record of every ring and take the oldest, which libbpf's callback API
cannot do (its callback consumes whatever comes next in one ring).

RingBuffer wraps libbpf's own callback consumer (ring_buffer__new/poll/consume),
calling a Python function per record: simple, for low rates.
"""

from __future__ import annotations

import sys
from array import array
from typing import Callable, Iterator, Sequence

from bpf._core import BpfError, MapType, call_int, call_ptr, ffi, lib
from bpf.object import Map


def _check_ringbufs(maps: Sequence[Map]) -> None:
    if not maps:
        raise ValueError("at least one ring buffer map is needed")
    for m in maps:
        if m.type != MapType.RINGBUF:
            raise ValueError(f"map '{m.name}' is not a ring buffer (type {m.type})")


class RecordBatch:
    """The records of one read: a shared byte buffer plus per-record offset, length
    and source ring index. Valid until the next read on the same reader (the
    storage is reused); copy (bytes(batch[i])) what must outlive it."""

    def __init__(self, buffer: bytearray, offsets: array, lengths: array, sources: array,
                 count: int) -> None:
        self.buffer = memoryview(buffer)
        self.offsets = memoryview(offsets)[:count]
        self.lengths = memoryview(lengths)[:count]
        self.sources = memoryview(sources)[:count]
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> memoryview:
        off = self.offsets[i]
        return self.buffer[off:off + self.lengths[i]]

    def __iter__(self) -> Iterator[memoryview]:
        buf = self.buffer
        for off, length in zip(self.offsets, self.lengths):
            yield buf[off:off + length]


class RingBufferReader:
    """Batch reader over ring buffer maps of a loaded BpfObject.

    ts_offset: byte offset of a native-endian u64 timestamp in every
    record, used to merge the rings oldest-first (records too short for it sort
    as 0); None drains the rings in turn without merging. buffer_size bounds the
    bytes of one batch, max_records its record count."""

    def __init__(self, maps: Sequence[Map], ts_offset: int | None = 0, *,
                 buffer_size: int = 8 << 20, max_records: int = 1 << 16) -> None:
        _check_ringbufs(maps)
        self.maps = list(maps)
        self._obj = self.maps[0].obj
        fds = ffi.new("int[]", [m.fd for m in self.maps])
        names = ", ".join(f"'{m.name}'" for m in self.maps)
        self._ptr = call_ptr("pybpf_reader_new", f"ring buffers {names}", lib.pybpf_reader_new,
                             fds, len(self.maps), -1 if ts_offset is None else ts_offset)
        self._buffer = bytearray(buffer_size)
        self._offsets = array("I", bytes(4 * max_records))
        self._lengths = array("I", bytes(4 * max_records))
        self._sources = array("H", bytes(2 * max_records))
        self._c_args = (ffi.from_buffer(self._buffer), buffer_size)
        self._c_arrays = tuple(ffi.from_buffer(t, a) for t, a in (
            ("uint32_t[]", self._offsets), ("uint32_t[]", self._lengths),
            ("uint16_t[]", self._sources)))
        self.max_records = max_records
        self._obj._children.add(self)

    def read_batch(self, max_records: int | None = None, timeout_ms: int = 0) -> RecordBatch:
        """Copy up to max_records available records (default: the reader's maximum).
        If none is available, wait up to timeout_ms (-1: forever) for some."""
        if self._ptr is None:
            raise ValueError("ring buffer reader is closed")
        n = self.max_records if max_records is None else min(max_records, self.max_records)
        ret = lib.pybpf_reader_read(self._ptr, *self._c_args, n, *self._c_arrays, timeout_ms)
        if ret < 0:
            raise BpfError(-ret, "pybpf_reader_read", f"{len(self.maps)} ring buffers "
                           f"into a {len(self._buffer)}-byte batch buffer")
        return RecordBatch(self._buffer, self._offsets, self._lengths, self._sources, ret)

    def pending_bytes(self) -> int:
        """Bytes produced and not yet consumed, over all rings (headers included)."""
        if self._ptr is None:
            raise ValueError("ring buffer reader is closed")
        return int(lib.pybpf_reader_pending(self._ptr))

    def close(self) -> None:
        """Unmap the rings. Idempotent; also done by the owning BpfObject's close()."""
        if self._ptr is not None:
            ptr, self._ptr = self._ptr, None
            self._obj._children.discard(self)
            lib.pybpf_reader_free(ptr)

    def __enter__(self) -> RingBufferReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@ffi.def_extern(onerror=lambda *exc: None)
def _pybpf_sample_cb(ctx, data, size):  # type: ignore[no-untyped-def]
    rb: RingBuffer = ffi.from_handle(ctx)
    try:
        ret = rb.callback(ffi.buffer(data, size))
    except BaseException:
        rb._exc = sys.exc_info()[1]
        return -1  # stops libbpf's consume loop; re-raised by poll()/consume()
    return int(ret or 0)


class RingBuffer:
    """libbpf's callback consumer: callback(memoryview) per record (valid only during
    the call); a negative return stops consumption. One Python call per record —
    use RingBufferReader for volume."""

    def __init__(self, maps: Sequence[Map], callback: Callable[[memoryview], int | None]) -> None:
        _check_ringbufs(maps)
        self.maps = list(maps)
        self.callback = callback
        self._obj = self.maps[0].obj
        self._exc: BaseException | None = None
        self._handle = ffi.new_handle(self)
        first = self.maps[0]
        self._ptr = call_ptr("ring_buffer__new", first._target(), lib.ring_buffer__new,
                             first.fd, lib._pybpf_sample_cb, self._handle, ffi.NULL)
        self._obj._children.add(self)
        for m in self.maps[1:]:
            call_int("ring_buffer__add", m._target(), lib.ring_buffer__add, self._ptr, m.fd,
                     lib._pybpf_sample_cb, self._handle)

    def _ring(self) -> object:
        if self._ptr is None:
            raise ValueError("ring buffer is closed")
        return self._ptr

    def _result(self, function: str, ret: int) -> int:
        if self._exc is not None:
            exc, self._exc = self._exc, None
            raise exc
        if ret < 0:
            raise BpfError(-ret, function, ", ".join(m.name for m in self.maps))
        return ret

    def poll(self, timeout_ms: int = -1) -> int:
        """Wait for data and consume it; returns the number of records handled."""
        return self._result("ring_buffer__poll", lib.ring_buffer__poll(self._ring(), timeout_ms))

    def consume(self) -> int:
        """Consume what is available without waiting."""
        return self._result("ring_buffer__consume", lib.ring_buffer__consume(self._ring()))

    @property
    def epoll_fd(self) -> int:
        """For integration in an external event loop."""
        return int(lib.ring_buffer__epoll_fd(self._ring()))

    def close(self) -> None:
        if self._ptr is not None:
            ptr, self._ptr = self._ptr, None
            self._obj._children.discard(self)
            lib.ring_buffer__free(ptr)

    def __enter__(self) -> RingBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
