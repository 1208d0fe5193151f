"""The modern_bpf live engine: loads the CO-RE probe (driver/probe.bpf.c), fills
its configuration maps, attaches it and drains its per-CPU ring buffers in
batches, yielding ``Event`` views over the PPM bytes the probe wrote.

Coverage (exit events only, as libs >= 0.22): every syscall in EXIT_PROGRAMS
has a dedicated `<syscall>_x` program in the probe (and a `<syscall>_e` entry
program when it needs entry-time values); every other interesting syscall emits
the generic event; successful execs are emitted from sched_process_exec and
procexit for every thread exit. Parameters the probe leaves empty (zero
length) are listed in EMPTY_PARAMS.

The probe object is found, in order, at $FALCO_PY_PROBE, next to this module
(an installed wheel, or the `pip install -e .` redirect), or in a CMake build
directory's driver/ (build/ under the project root, or $FALCO_PY_BUILD_DIR).
"""

from __future__ import annotations

import os
import platform
import re
import resource
import struct
import time
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable

import bpf
from libscap import _scan
from libscap._events import make_events
from libscap.errors import ScapError
from libscap.event import Event
from libscap.schema import PPM_SC_NAMES, SYSCALLS_X86_64

PROBE_NAME = "probe.bpf.o"
VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")
#: Ring buffer maps the probe declares (rb0..rb15); see cpus_for_each_buffer.
MAX_RINGS = 16
SYSCALL_TABLE_SIZE = 512
#: Most events one next_batch() returns.
BATCH_RECORDS = 1 << 16
#: Syscalls with a dedicated exit program in the probe -> that program's name.
#: Programs named `<syscall>_e` in the probe are registered as entry programs.
EXIT_PROGRAMS = {name: f"{name}_x" for name in (
    "execve execveat clone clone3 fork vfork open openat openat2 creat close dup dup2 dup3 "
    "fcntl pipe pipe2 socket socketpair connect accept accept4 bind listen sendto recvfrom "
    "sendmsg recvmsg read write eventfd eventfd2 signalfd signalfd4 timerfd_create "
    "inotify_init inotify_init1 memfd_create userfaultfd unlink unlinkat rename renameat "
    "renameat2 mkdir mkdirat rmdir link linkat symlink symlinkat chmod fchmod fchmodat chown "
    "lchown fchown fchownat chdir fchdir chroot mount umount2 setuid setgid setresuid "
    "setresgid setreuid setregid setns unshare ptrace prctl capset init_module finit_module "
    "bpf mmap mprotect kill tgkill process_vm_readv process_vm_writev io_uring_setup "
    "sendfile splice").split()}
#: Tracepoints attached besides sys_enter/sys_exit (a missing one is skipped).
HOOKS = ("sched_process_exec", "sched_process_exit")
#: Exit-event parameters the probe sends empty for now (upstream fills them).
EMPTY_PARAMS = {
    "recvmsg": ("msgcontrol",),
}
_CAP_SYS_PTRACE, _CAP_SYS_ADMIN, _CAP_PERFMON, _CAP_BPF = 19, 21, 38, 39
_COUNTERS = struct.Struct("<4Q")


@dataclass(frozen=True)
class CpuStats:
    """Kernel-side counters of one CPU."""
    events: int
    drops_buffer_full: int
    drops_too_large: int
    drops_no_ring: int

    @property
    def drops(self) -> int:
        return self.drops_buffer_full + self.drops_too_large + self.drops_no_ring


def find_probe() -> Path:
    """The compiled probe object (see the module doc for the search order)."""
    env = os.environ.get("FALCO_PY_PROBE")
    if env:
        if not Path(env).is_file():
            raise ScapError(f"FALCO_PY_PROBE={env} is not a file")
        return Path(env)
    # importlib.resources also sees the site-packages copy of an editable install
    candidates = [Path(str(resources.files(__package__) / PROBE_NAME))]
    root = Path(__file__).resolve().parents[2]
    build = Path(os.environ.get("FALCO_PY_BUILD_DIR", root / "build"))
    candidates.append(build / "driver" / PROBE_NAME)
    for c in candidates:
        if c.is_file():
            return c
    raise ScapError(f"the probe {PROBE_NAME} was not found (looked at "
                    f"{', '.join(map(str, candidates))}); build it with `make driver` "
                    "or `pip install .`, or set FALCO_PY_PROBE")


def _capabilities() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def check_features() -> None:
    """Raise ScapError naming what this machine lacks for live capture."""
    if not VMLINUX_BTF.exists():
        raise ScapError(f"live capture needs kernel BTF: {VMLINUX_BTF} is missing "
                        "(kernel built without CONFIG_DEBUG_INFO_BTF)")
    caps = _capabilities()
    missing = []
    if not caps & (1 << _CAP_SYS_ADMIN):
        missing = [name for bit, name in ((_CAP_BPF, "CAP_BPF"), (_CAP_PERFMON, "CAP_PERFMON"))
                   if not caps & (1 << bit)]
    if not caps & (1 << _CAP_SYS_PTRACE):  # /proc of other users' processes (environ, exe, fds)
        missing.append("CAP_SYS_PTRACE")
    if missing:
        raise ScapError(f"live capture needs {' and '.join(missing)} (CAP_BPF and CAP_PERFMON "
                        "may be replaced by CAP_SYS_ADMIN); missing from this process's effective set")
    try:
        if not bpf.map_type_supported(bpf.MapType.RINGBUF):
            raise ScapError("the kernel does not support BPF ring buffers (needs Linux >= 5.8)")
    except bpf.BpfError as exc:
        raise ScapError(f"the kernel refuses BPF: {exc}") from None


def _raise_memlock() -> None:
    """Kernels < 5.11 charge BPF maps to RLIMIT_MEMLOCK (raised here, which needs
    CAP_SYS_RESOURCE; failing is only worth a warning); newer ones charge the
    cgroup, so nothing is done there."""
    if tuple(int(x) for x in re.findall(r"\d+", platform.release())[:2]) >= (5, 11):
        return
    try:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError) as exc:
        warnings.warn(f"could not raise RLIMIT_MEMLOCK ({exc}); fine on Linux >= 5.11",
                      RuntimeWarning, stacklevel=3)


def _syscall_table() -> dict[str, int]:
    if platform.machine() != "x86_64":
        raise ScapError(f"no syscall table for {platform.machine()} yet (x86_64 only)")
    return {info.name: nr for nr, info in SYSCALLS_X86_64.items()}


class ModernBpfEngine:
    """Live capture through the modern probe.

    buffer_bytes: size of each ring buffer (a power-of-2 multiple of the page
    size); cpus_for_each_buffer: how many CPUs share one ring buffer."""

    def __init__(self, buffer_bytes: int = 8 << 20, cpus_for_each_buffer: int = 1,
                 probe: str | os.PathLike[str] | None = None) -> None:
        page = os.sysconf("SC_PAGESIZE")
        if buffer_bytes < page or buffer_bytes & (buffer_bytes - 1):
            raise ValueError(f"buffer_bytes must be a power of 2 >= {page}, not {buffer_bytes}")
        if cpus_for_each_buffer < 1:
            raise ValueError("cpus_for_each_buffer must be >= 1")
        self.buffer_bytes = buffer_bytes
        self.cpus_for_each_buffer = cpus_for_each_buffer
        self.probe_path = Path(probe) if probe is not None else None
        self.ncpus = bpf.num_possible_cpus()
        self.nrings = -(-self.ncpus // cpus_for_each_buffer)
        if self.nrings > MAX_RINGS:
            raise ValueError(f"{self.ncpus} CPUs need {self.nrings} ring buffers, the probe has "
                             f"{MAX_RINGS}: use cpus_for_each_buffer >= {-(-self.ncpus // MAX_RINGS)}")
        self._syscalls = _syscall_table()
        self._interesting: set[int] = {self._syscalls[n] for n in EXIT_PROGRAMS}
        self._obj: bpf.BpfObject | None = None
        self._reader: bpf.RingBufferReader | None = None
        self._links: list[bpf.Link] = []
        self._missing_hooks: set[str] = set()
        self._num = 0
        #: Ring records too short for their own header (a probe bug if ever > 0).
        self.malformed_records = 0
        self._records = bytearray(_scan.lib.SCAN_RECORD_SIZE * BATCH_RECORDS)
        self._records_c = _scan.ffi.from_buffer(self._records)
        self._skipped = _scan.ffi.new("size_t *")

    # -- lifecycle --------------------------------------------------------------

    def open(self) -> None:
        """Check features, load the probe and fill its maps (nothing attached yet)."""
        check_features()
        _raise_memlock()
        obj = bpf.BpfObject(self.probe_path or find_probe())
        try:
            obj.maps["rings"].max_entries = self.ncpus
            obj.maps["scratch_map"].max_entries = self.ncpus
            for i in range(self.nrings):
                obj.maps[f"rb{i}"].max_entries = self.buffer_bytes
            obj.load()
            boot_ns = time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
            obj.maps["settings_map"].update(0, boot_ns)
            for cpu in range(self.ncpus):
                obj.maps["rings"].update(cpu, obj.maps[f"rb{cpu // self.cpus_for_each_buffer}"])
            sc_codes = {name: code for code, name in PPM_SC_NAMES.items()}
            for name, nr in self._syscalls.items():
                if nr < SYSCALL_TABLE_SIZE and name in sc_codes:
                    obj.maps["ppm_sc_table"].update(nr, sc_codes[name])
            for name, prog in EXIT_PROGRAMS.items():
                obj.maps["exit_progs"].update(self._syscalls[name], obj.programs[prog])
            for prog in obj.programs:
                if prog.endswith("_e") and prog[:-2] in self._syscalls:
                    obj.maps["enter_progs"].update(self._syscalls[prog[:-2]], obj.programs[prog])
            self._reader = bpf.RingBufferReader(
                [obj.maps[f"rb{i}"] for i in range(self.nrings)], ts_offset=0, max_records=BATCH_RECORDS)
        except BaseException:
            obj.close()
            raise
        self._obj = obj
        self._write_interesting()

    def set_interesting_syscalls(self, syscalls: Iterable[str | int]) -> None:
        """Only these syscalls (names or x86_64 numbers) produce events; takes effect
        at once if the engine is open."""
        nrs = set()
        for sc in syscalls:
            if isinstance(sc, str):
                if sc not in self._syscalls:
                    raise ValueError(f"unknown syscall {sc!r}")
                sc = self._syscalls[sc]
            if not 0 <= sc < SYSCALL_TABLE_SIZE:
                raise ValueError(f"syscall number {sc} out of range")
            nrs.add(sc)
        self._interesting = nrs
        if self._obj is not None:
            self._write_interesting()

    def _write_interesting(self) -> None:
        m = self._loaded().maps["interesting_syscalls"]
        for nr in range(SYSCALL_TABLE_SIZE):
            m.update(nr, b"\x01" if nr in self._interesting else b"\x00")

    def start(self) -> None:
        """Attach the dispatchers: events start flowing."""
        obj = self._loaded()
        if not self._links:
            for name in ("sys_enter", "sys_exit"):
                self._links.append(obj.programs[name].attach())
            for name in HOOKS:
                try:
                    self._links.append(obj.programs[name].attach())
                except bpf.BpfError as exc:
                    if name not in self._missing_hooks:
                        self._missing_hooks.add(name)
                        warnings.warn(f"tracepoint {name} not attached ({exc}); skipped",
                                      RuntimeWarning, stacklevel=2)

    def stop(self) -> None:
        """Detach; events already in the buffers can still be read."""
        for link in self._links:
            link.close()
        self._links.clear()

    def close(self) -> None:
        """Release every link, ring mapping, program and map. Idempotent."""
        self.stop()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._obj is not None:
            self._obj.close()
            self._obj = None

    def __enter__(self) -> ModernBpfEngine:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _loaded(self) -> bpf.BpfObject:
        if self._obj is None:
            raise ScapError("the modern_bpf engine is not open")
        return self._obj

    # -- data -------------------------------------------------------------------

    def next_batch(self, timeout_ms: int = 100) -> list[Event]:
        """The available events oldest first (waiting up to timeout_ms for some).

        The batch bytes are copied once; the events are views over that copy,
        built in C (libscap._scan.records_from_batch, libscap._events) with no
        Python code per event. Event.cpu is the CPU when each ring serves one
        CPU, else -1."""
        if self._reader is None:
            raise ScapError("the modern_bpf engine is not open")
        batch = self._reader.read_batch(timeout_ms=timeout_ms)
        n = batch.count
        if not n:
            return []
        data = bytes(batch.buffer[:batch.offsets[n - 1] + batch.lengths[n - 1]])
        ffi = _scan.ffi
        kept = _scan.lib.records_from_batch(
            data, ffi.from_buffer("uint32_t[]", batch.offsets), ffi.from_buffer("uint32_t[]", batch.lengths),
            ffi.from_buffer("uint16_t[]", batch.sources), n, self._num, self.cpus_for_each_buffer == 1,
            self._records_c, self._skipped)
        self.malformed_records += self._skipped[0]
        self._num += kept
        return make_events(Event, data, self._records, kept, True)

    def stats(self) -> list[CpuStats]:
        """Per-CPU kernel counters (events sent, drops by reason)."""
        raw = self._loaded().maps["counters_map"].lookup(0) or b""
        return [CpuStats(*_COUNTERS.unpack_from(raw, i * _COUNTERS.size))
                for i in range(len(raw) // _COUNTERS.size)]


__all__ = ["CpuStats", "EMPTY_PARAMS", "EXIT_PROGRAMS", "ModernBpfEngine", "check_features",
           "find_probe"]
