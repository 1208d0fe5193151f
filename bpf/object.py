"""Pythonic wrappers over libbpf objects: BpfObject, Program, Map, Link."""

from __future__ import annotations

import errno
import os
import sys
from typing import Any, Iterator, Protocol

from bpf._core import (BpfError, MapType, call_int, call_ptr, ffi, lib, num_possible_cpus,
                       take_log)

_PERCPU_TYPES = frozenset({MapType.PERCPU_HASH, MapType.PERCPU_ARRAY,
                           MapType.LRU_PERCPU_HASH, MapType.PERCPU_CGROUP_STORAGE})

Bytes = bytes | bytearray | memoryview


class _Closable(Protocol):
    def close(self) -> None: ...


class Link:
    """An attachment of a program; destroying it detaches the program."""

    def __init__(self, ptr: Any, program: Program, how: str) -> None:
        self._ptr = ptr
        self.program = program
        self.how = how

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def close(self) -> None:
        """Detach (bpf_link__destroy). Idempotent."""
        if self._ptr is not None:
            ptr, self._ptr = self._ptr, None
            self.program.obj._children.discard(self)
            call_int("bpf_link__destroy", f"program '{self.program.name}'",
                     lib.bpf_link__destroy, ptr)

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Link {self.program.name} {self.how}{' closed' if self.closed else ''}>"


class Program:
    """A program of a BpfObject (valid while the object is open)."""

    def __init__(self, obj: BpfObject, ptr: Any) -> None:
        self.obj = obj
        self._ptr = ptr
        self.name: str = ffi.string(lib.bpf_program__name(ptr)).decode()
        self.section: str = ffi.string(lib.bpf_program__section_name(ptr)).decode()

    def _p(self) -> Any:
        self.obj._check_open()
        return self._ptr

    @property
    def autoload(self) -> bool:
        return bool(lib.bpf_program__autoload(self._p()))

    @autoload.setter
    def autoload(self, value: bool) -> None:
        """Before load: skip (False) a program the kernel would reject or that is not needed."""
        call_int("bpf_program__set_autoload", self._target(),
                 lib.bpf_program__set_autoload, self._p(), bool(value))

    @property
    def type(self) -> int:
        """The enum bpf_prog_type value."""
        return int(lib.bpf_program__type(self._p()))

    @property
    def fd(self) -> int:
        """File descriptor of the loaded program (for prog arrays); raises if not loaded."""
        return call_int("bpf_program__fd", self._target(), lib.bpf_program__fd, self._p())

    @property
    def id(self) -> int:
        """Kernel program id (as `bpftool prog show` lists it)."""
        info = ffi.new("struct bpf_prog_info *")
        size = ffi.new("__u32 *", ffi.sizeof("struct bpf_prog_info"))
        call_int("bpf_obj_get_info_by_fd", self._target(), lib.bpf_obj_get_info_by_fd,
                 self.fd, info, size)
        return int(info.id)

    def _target(self) -> str:
        return f"object '{self.obj.name}', program '{self.name}'"

    def _link(self, function: str, fn: Any, *args: Any, how: str) -> Link:
        ptr = call_ptr(function, self._target(), fn, self._p(), *args)
        link = Link(ptr, self, how)
        self.obj._children.add(link)
        return link

    def attach(self) -> Link:
        """Attach as the section name says (tp_btf/, raw_tp/, tracepoint/, kprobe/, ...)."""
        return self._link("bpf_program__attach", lib.bpf_program__attach, how=self.section)

    def attach_kprobe(self, function: str, retprobe: bool = False) -> Link:
        return self._link("bpf_program__attach_kprobe", lib.bpf_program__attach_kprobe,
                          bool(retprobe), function.encode(),
                          how=f"{'kretprobe' if retprobe else 'kprobe'}/{function}")

    def attach_tracepoint(self, category: str, name: str) -> Link:
        return self._link("bpf_program__attach_tracepoint", lib.bpf_program__attach_tracepoint,
                          category.encode(), name.encode(), how=f"tracepoint/{category}/{name}")

    def attach_raw_tracepoint(self, name: str) -> Link:
        return self._link("bpf_program__attach_raw_tracepoint",
                          lib.bpf_program__attach_raw_tracepoint, name.encode(),
                          how=f"raw_tp/{name}")

    def __repr__(self) -> str:
        return f"<Program {self.name} ({self.section})>"


class Map:
    """A map of a BpfObject. Keys and values are raw bytes of the map's sizes; as a
    convenience an int is packed native-endian to the size, and a Program or Map
    value stands for its fd (prog arrays, map-in-map)."""

    def __init__(self, obj: BpfObject, ptr: Any) -> None:
        self.obj = obj
        self._ptr = ptr
        self.name: str = ffi.string(lib.bpf_map__name(ptr)).decode()

    def _p(self) -> Any:
        self.obj._check_open()
        return self._ptr

    def _target(self) -> str:
        return f"object '{self.obj.name}', map '{self.name}'"

    @property
    def type(self) -> int:
        """The enum bpf_map_type value (compare with MapType)."""
        return int(lib.bpf_map__type(self._p()))

    @property
    def key_size(self) -> int:
        return int(lib.bpf_map__key_size(self._p()))

    @property
    def value_size(self) -> int:
        return int(lib.bpf_map__value_size(self._p()))

    @value_size.setter
    def value_size(self, size: int) -> None:
        call_int("bpf_map__set_value_size", self._target(),
                 lib.bpf_map__set_value_size, self._p(), size)

    @property
    def max_entries(self) -> int:
        return int(lib.bpf_map__max_entries(self._p()))

    @max_entries.setter
    def max_entries(self, n: int) -> None:
        """Before load only (ring buffers: a power-of-2 multiple of the page size)."""
        call_int("bpf_map__set_max_entries", self._target(),
                 lib.bpf_map__set_max_entries, self._p(), n)

    @property
    def fd(self) -> int:
        """File descriptor of the created map; raises if the object is not loaded."""
        return call_int("bpf_map__fd", self._target(), lib.bpf_map__fd, self._p())

    def _value_len(self) -> int:
        if self.type in _PERCPU_TYPES:  # one 8-byte aligned slot per possible CPU
            return ((self.value_size + 7) & ~7) * num_possible_cpus()
        return self.value_size

    def _key(self, key: Bytes | int) -> Bytes:
        return key.to_bytes(self.key_size, sys.byteorder) if isinstance(key, int) else key

    def _value(self, value: Bytes | int | Program | Map) -> Bytes:
        if isinstance(value, (Program, Map)):
            value = value.fd
        if isinstance(value, int):
            return value.to_bytes(self.value_size, sys.byteorder)
        return value

    def update(self, key: Bytes | int, value: Bytes | int | Program | Map, flags: int = 0) -> None:
        """bpf_map__update_elem; flags are BPF_ANY (0), BPF_NOEXIST (1), BPF_EXIST (2)."""
        k, v = self._key(key), self._value(value)
        call_int("bpf_map__update_elem", self._target(), lib.bpf_map__update_elem, self._p(),
                 ffi.from_buffer(k), len(k), ffi.from_buffer(v), len(v), flags)

    def lookup(self, key: Bytes | int) -> bytes | None:
        """The value bytes (all CPUs' slots for per-CPU maps), or None if absent."""
        k = self._key(key)
        out = ffi.new("char[]", self._value_len())
        lib.pybpf_log_clear()
        ret = lib.bpf_map__lookup_elem(self._p(), ffi.from_buffer(k), len(k), out, len(out), 0)
        if ret == -errno.ENOENT:
            return None
        if ret < 0:
            raise BpfError(-ret, "bpf_map__lookup_elem", self._target(), take_log())
        return ffi.buffer(out)[:]

    def delete(self, key: Bytes | int) -> None:
        """Remove a key; KeyError if it is absent."""
        k = self._key(key)
        lib.pybpf_log_clear()
        ret = lib.bpf_map__delete_elem(self._p(), ffi.from_buffer(k), len(k), 0)
        if ret == -errno.ENOENT:
            raise KeyError(bytes(k))
        if ret < 0:
            raise BpfError(-ret, "bpf_map__delete_elem", self._target(), take_log())

    def keys(self) -> Iterator[bytes]:
        """Iterate the keys (bpf_map__get_next_key); concurrent changes may skip keys."""
        size = self.key_size
        cur, nxt = ffi.NULL, ffi.new("char[]", size)
        while True:
            lib.pybpf_log_clear()
            ret = lib.bpf_map__get_next_key(self._p(), cur, nxt, size)
            if ret == -errno.ENOENT:
                return
            if ret < 0:
                raise BpfError(-ret, "bpf_map__get_next_key", self._target(), take_log())
            key = ffi.buffer(nxt)[:]
            yield key
            cur = ffi.new("char[]", key)

    def __repr__(self) -> str:
        return f"<Map {self.name} type={self.type}>"


class BpfObject:
    """A BPF ELF object: open, adjust maps/programs, load, attach; close() releases
    every link, reader, program and map it owns (also on `with` exit)."""

    def __init__(self, path: str | os.PathLike[str], *, name: str | None = None) -> None:
        opts, _name_buf = self._opts(name)
        self.path: str | None = os.fspath(path)
        self._ptr = call_ptr("bpf_object__open_file", f"'{self.path}'",
                             lib.bpf_object__open_file, self.path.encode(), opts)
        self._init()

    @classmethod
    def from_bytes(cls, data: Bytes, *, name: str | None = None) -> BpfObject:
        """Open an object from an in-memory ELF image (bpf_object__open_mem)."""
        self = cls.__new__(cls)
        opts, _name_buf = cls._opts(name)
        self.path = None
        self._ptr = call_ptr("bpf_object__open_mem", f"{len(data)}-byte image",
                             lib.bpf_object__open_mem, ffi.from_buffer(data), len(data), opts)
        self._init()
        return self

    @staticmethod
    def _opts(name: str | None) -> tuple[Any, Any]:
        """Open options and the name buffer they point to (keep it alive during open)."""
        opts = ffi.new("struct bpf_object_open_opts *")
        opts.sz = ffi.sizeof("struct bpf_object_open_opts")
        name_buf = ffi.new("char[]", name.encode()) if name is not None else ffi.NULL
        opts.object_name = name_buf
        return opts, name_buf

    def _init(self) -> None:
        self.name: str = ffi.string(lib.bpf_object__name(self._ptr)).decode()
        self.loaded = False
        self._children: set[_Closable] = set()
        self.programs: dict[str, Program] = {}
        prog = lib.bpf_object__next_program(self._ptr, ffi.NULL)
        while prog != ffi.NULL:
            p = Program(self, prog)
            self.programs[p.name] = p
            prog = lib.bpf_object__next_program(self._ptr, prog)
        self.maps: dict[str, Map] = {}
        m = lib.bpf_object__next_map(self._ptr, ffi.NULL)
        while m != ffi.NULL:
            mp = Map(self, m)
            self.maps[mp.name] = mp
            m = lib.bpf_object__next_map(self._ptr, m)

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def _check_open(self) -> None:
        if self._ptr is None:
            raise ValueError(f"BPF object '{self.name}' is closed")

    def resize_map(self, name: str, max_entries: int) -> None:
        """Set a map's max_entries before load (e.g. ring buffer bytes)."""
        self.maps[name].max_entries = max_entries

    def load(self) -> None:
        """Create the maps and load the programs; a verifier rejection raises BpfError
        whose .log holds the verifier log."""
        self._check_open()
        call_int("bpf_object__load", f"object '{self.name}'", lib.bpf_object__load, self._ptr)
        self.loaded = True

    def attach(self, program: Program | str) -> Link:
        """Attach a program (by object or name) as its section name says."""
        if isinstance(program, str):
            program = self.programs[program]
        return program.attach()

    def close(self) -> None:
        """Detach links, close readers, then free every program and map. Idempotent."""
        if self._ptr is None:
            return
        while self._children:
            self._children.pop().close()
        ptr, self._ptr = self._ptr, None
        lib.bpf_object__close(ptr)

    def __enter__(self) -> BpfObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_ptr", None) is not None:
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "loaded" if self.loaded else "open"
        return f"<BpfObject {self.name} {state}>"
