"""pybpf: a thin cffi binding to the system libbpf and a small Pythonic API above it.

Generic BPF plumbing (open an object, size maps, load, attach, maps, ring buffers);
nothing Falco-specific lives here. `bpf._libbpf` is the raw binding (ffi, lib);
the classes below are the API:

    with BpfObject("probe.o") as obj:
        obj.resize_map("events", 1 << 22)
        obj.load()
        obj.attach("handle_sys_enter")
        reader = RingBufferReader([obj.maps["events"]], ts_offset=0)
        for record in reader.read_batch(timeout_ms=100):
            ...

Every libbpf failure raises BpfError (an OSError: .errno, .function, .target and
.log, libbpf's captured output — for a rejected program, the verifier log).
On kernels >= 5.11 BPF memory is charged to the cgroup and libbpf does not need
RLIMIT_MEMLOCK; where libbpf cannot raise it, it only warns.
"""

from bpf._core import BpfError, MapType, map_type_supported, num_possible_cpus
from bpf.object import BpfObject, Link, Map, Program
from bpf.ringbuf import RecordBatch, RingBuffer, RingBufferReader

__all__ = [
    "BpfError", "BpfObject", "Link", "Map", "MapType", "Program", "RecordBatch",
    "RingBuffer", "RingBufferReader", "map_type_supported", "num_possible_cpus",
]
