"""The compiled binding, libbpf log capture and the error type shared by the API."""

from __future__ import annotations

import enum
import errno as _errno
import logging
from typing import Any, Callable

try:
    from bpf._libbpf import ffi, lib
except ImportError as exc:  # the compiled half is built by CMake, not found on sys.path
    raise ImportError(f"bpf._libbpf is not built ({exc}): run `pip install -e .` "
                      "(or `make scap` in a CMake build directory)") from exc

log = logging.getLogger("bpf")

# libbpf reports verifier logs and failure details only through its print
# callback; route it into a per-thread buffer that exceptions carry.
lib.pybpf_log_install()


class MapType(enum.IntEnum):
    """Kernel map types the API treats specially (values from the system headers)."""

    HASH = lib.BPF_MAP_TYPE_HASH
    ARRAY = lib.BPF_MAP_TYPE_ARRAY
    PROG_ARRAY = lib.BPF_MAP_TYPE_PROG_ARRAY
    PERCPU_HASH = lib.BPF_MAP_TYPE_PERCPU_HASH
    PERCPU_ARRAY = lib.BPF_MAP_TYPE_PERCPU_ARRAY
    LRU_HASH = lib.BPF_MAP_TYPE_LRU_HASH
    LRU_PERCPU_HASH = lib.BPF_MAP_TYPE_LRU_PERCPU_HASH
    ARRAY_OF_MAPS = lib.BPF_MAP_TYPE_ARRAY_OF_MAPS
    HASH_OF_MAPS = lib.BPF_MAP_TYPE_HASH_OF_MAPS
    PERCPU_CGROUP_STORAGE = lib.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
    RINGBUF = lib.BPF_MAP_TYPE_RINGBUF


class BpfError(OSError):
    """A libbpf or bpf() failure: errno, the libbpf function, what it acted on, and
    libbpf's own log (for a failed load, the verifier log)."""

    def __init__(self, err: int, function: str, target: str, libbpf_log: str = "") -> None:
        name = _errno.errorcode.get(err, f"LIBBPF_ERRNO {err}")
        message = f"{function}({target}) failed: {name} ({strerror(err)})"
        if libbpf_log:
            message += "\nlibbpf log:\n" + libbpf_log.rstrip("\n")
        super().__init__(err, message)
        self.function = function
        self.target = target
        self.log = libbpf_log

    def __str__(self) -> str:
        return self.strerror


def strerror(err: int) -> str:
    """Text for an errno, including libbpf's own codes (4000+, e.g. invalid ELF)."""
    buf = ffi.new("char[]", 256)
    lib.libbpf_strerror(err, buf, len(buf))
    return ffi.string(buf).decode("utf-8", "replace")


def take_log() -> str:
    """Return and clear what libbpf printed (warnings, verifier log) on this thread."""
    size = ffi.new("size_t *")
    text = lib.pybpf_log_text(size)
    out = ffi.unpack(text, size[0]).decode("utf-8", "replace")
    lib.pybpf_log_clear()
    return out


def _forward_log() -> None:
    text = take_log()
    if text:
        log.debug("libbpf: %s", text.rstrip("\n"))


def call_int(function: str, target: str, fn: Callable[..., int], *args: Any) -> int:
    """Call a libbpf function returning 0/positive or -errno; raise BpfError on error."""
    lib.pybpf_log_clear()
    ret = fn(*args)
    if ret < 0:
        raise BpfError(-ret, function, target, take_log())
    _forward_log()
    return ret


def call_ptr(function: str, target: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call a libbpf function returning a pointer (NULL + errno on error)."""
    lib.pybpf_log_clear()
    ptr = fn(*args)
    if ptr == ffi.NULL:
        err = ffi.errno or _errno.EINVAL
        raise BpfError(err, function, target, take_log())
    _forward_log()
    return ptr


def map_type_supported(map_type: int) -> bool:
    """Whether the running kernel can create maps of this type (e.g. MapType.RINGBUF).

    Raises BpfError when the kernel refuses BPF altogether (e.g. EPERM without
    CAP_BPF), so callers can tell "unsupported" from "not allowed"."""
    return call_int("libbpf_probe_bpf_map_type", f"map type {int(map_type)}",
                    lib.libbpf_probe_bpf_map_type, map_type, ffi.NULL) == 1


def num_possible_cpus() -> int:
    """Number of possible CPUs: the per-CPU value count of per-CPU maps."""
    return call_int("libbpf_num_possible_cpus", "", lib.libbpf_num_possible_cpus)
