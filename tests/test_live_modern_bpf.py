"""Live capture through the modern probe: a workload with unique markers is
captured and its events are checked against what the workload itself reports
(paths, flags, fds, pids, argv, socket ports), never against the probe's code.

Skips only when the kernel refuses BPF (no BTF, bpf() refused), saying why."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from libscap.engine.modern_bpf import ModernBpfEngine, find_probe
from libscap.event import Event
from libscap.savefile import open_capture, write_capture
from libscap.schema import PPME
from tests.bpf_progs import bpf_refused_reason

# The workload: open a unique path with known flags, connect to the test's
# listener, fork a child that execs /bin/true with known argv, then exit 0.
WORKLOAD = r"""
import json, os, socket, sys
path, port, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC, 0o640)
os.close(fd)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(("127.0.0.1", port))
out = {"pid": os.getpid(), "ppid": os.getppid(), "fd": fd, "sock": s.fileno(),
       "sport": s.getsockname()[1]}
child = os.fork()
if child == 0:
    os.execv("/bin/true", ["/bin/true", marker, "second arg"])
os.waitpid(child, 0)
out["child"] = child
print(json.dumps(out), flush=True)
"""

PPM_O_WRONLY, PPM_O_CREAT, PPM_O_TRUNC, PPM_O_CLOEXEC, PPM_O_F_CREATED = 2, 4, 256, 4096, 16384


@pytest.fixture(scope="module")
def engine():
    reason = bpf_refused_reason()
    if reason:
        print(f"skipping live capture: {reason}")
        pytest.skip(reason)
    eng = ModernBpfEngine(buffer_bytes=4 << 20)
    eng.open()
    yield eng
    eng.close()


def run_workload(engine: ModernBpfEngine, tmp_path: Path) -> tuple[dict, list[Event], str, str]:
    """Run the workload under capture; its report, the events of its pids, its
    unique path and marker."""
    marker = f"marker-{uuid.uuid4().hex}"
    path = str(tmp_path / f"{marker}.txt")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        engine.start()
        try:
            proc = subprocess.run([sys.executable, "-c", WORKLOAD, path,
                                   str(listener.getsockname()[1]), marker],
                                  capture_output=True, text=True, check=True, timeout=30)
            time.sleep(0.05)
        finally:
            engine.stop()
    report = json.loads(proc.stdout)
    pids = {report["pid"], report["child"]}
    events = []
    while batch := engine.next_batch(timeout_ms=0):
        events += [e for e in batch if e.tid in pids]
    return report, events, path, marker


def params(evt: Event) -> dict:
    return {p.name: evt.param(i) for i, p in enumerate(evt.info.params[:evt.nparams])}


def test_probe_is_found_from_the_build():
    assert find_probe().is_file()


def test_workload_events(engine, tmp_path):
    report, events, path, marker = run_workload(engine, tmp_path)
    pid, child = report["pid"], report["child"]

    opens = [params(e) for e in events if e.type == PPME.SYSCALL_OPENAT_2_X and e.param(2) == path]
    st = os.stat(path)
    assert opens == [{
        "fd": report["fd"], "dirfd": -100, "name": path,
        "flags": PPM_O_WRONLY | PPM_O_CREAT | PPM_O_TRUNC | PPM_O_CLOEXEC | PPM_O_F_CREATED,
        "mode": 0o640, "dev": st.st_dev, "ino": st.st_ino}]
    closes = [e for e in events if e.type == PPME.SYSCALL_CLOSE_X and e.tid == pid
              and e.param(1) == report["fd"]]
    assert closes and params(closes[0]) == {"res": 0, "fd": report["fd"]}

    (conn,) = [params(e) for e in events if e.type == PPME.SOCKET_CONNECT_X]
    assert conn["res"] == 0 and conn["fd"] == report["sock"]
    tup, addr = conn["tuple"], conn["addr"]
    assert (tup.family, tup.sip, tup.sport, tup.dip) == (2, "127.0.0.1", report["sport"], "127.0.0.1")
    assert (addr.family, addr.addr, addr.port) == (2, "127.0.0.1", tup.dport)

    forks = [params(e) | {"_tid": e.tid} for e in events if e.type == PPME.SYSCALL_CLONE_20_X]
    parent = [f for f in forks if f["_tid"] == pid]
    assert len(parent) == 1
    assert {k: parent[0][k] for k in ("res", "tid", "pid", "ptid")} == {
        "res": child, "tid": pid, "pid": pid, "ptid": report["ppid"]}
    assert parent[0]["exe"] == sys.executable and parent[0]["comm"] == Path(sys.executable).name[:15]
    in_child = [f for f in forks if f["_tid"] == child]
    assert [{k: f[k] for k in ("res", "tid", "pid", "ptid")} for f in in_child] == [
        {"res": 0, "tid": child, "pid": child, "ptid": pid}]

    # the workload's own start (the test spawned it) and its child's exec
    execves = [params(e) for e in events if e.type == PPME.SYSCALL_EXECVE_19_X]
    assert [(x["tid"], x["exe"]) for x in execves] == [(pid, sys.executable), (child, "/bin/true")]
    assert execves[0]["args"].split(b"\0")[:2] == [b"-c", WORKLOAD.encode()]
    execve = execves[1]
    assert execve["res"] == 0 and execve["exe"] == "/bin/true"
    assert execve["args"] == f"{marker}\0second arg\0".encode()
    assert (execve["tid"], execve["pid"], execve["ptid"]) == (child, child, pid)
    assert execve["comm"] == "true" and execve["cwd"] == os.getcwd()

    exits = {e.tid: params(e) for e in events if e.type == PPME.PROCEXIT_1_E}
    assert set(exits) == {pid, child}
    assert exits[child]["ret"] == 0 and exits[pid]["status"] == 0

    # times are epoch nanoseconds, in order
    now = time.time_ns()
    assert all(now - 60e9 < e.ts <= now for e in events)
    assert [e.ts for e in events] == sorted(e.ts for e in events)


def test_written_capture_reads_back_identically(engine, tmp_path):
    _, events, _, _ = run_workload(engine, tmp_path)
    assert events
    out = tmp_path / "live.scap"
    write_capture(out, events=events)
    cap = open_capture(out)
    try:
        back = list(cap.events())
        assert [e.raw for e in back] == [e.raw for e in events]
        assert [e.raw_params() for e in back] == [e.raw_params() for e in events]
    finally:
        cap.close()


def test_uninteresting_syscalls_send_nothing_and_generic_covers_the_rest(engine, tmp_path):
    try:
        engine.set_interesting_syscalls({"getppid"})
        engine.start()
        for _ in range(3):
            os.getppid()
        engine.stop()
        events = []
        while batch := engine.next_batch(timeout_ms=0):
            events += [e for e in batch if e.tid == os.getpid()]
    finally:
        engine.set_interesting_syscalls({"openat", "close", "execve", "clone", "fork",
                                         "vfork", "clone3", "connect"})
    generic = [e for e in events if e.type == PPME.GENERIC_X]
    assert len(generic) >= 3 and not [e for e in events if e.type not in (PPME.GENERIC_X,)]
    assert {e.param(1) for e in generic} == {110}  # native nr of getppid on x86_64


def test_stats_count_events_and_a_tiny_buffer_drops(tmp_path):
    if reason := bpf_refused_reason():
        pytest.skip(reason)
    with ModernBpfEngine(buffer_bytes=4096) as eng:
        eng.set_interesting_syscalls({"getppid"})
        eng.start()
        for _ in range(5000):
            os.getppid()
        eng.stop()
        stats = eng.stats()
        assert len(stats) == os.cpu_count()
        assert sum(s.events for s in stats) > 0
        assert sum(s.drops_buffer_full for s in stats) > 0


def test_storm_into_a_tiny_buffer_drops_without_crash_or_hang():
    """Two processes hammer a captured syscall while a 4 KiB-per-CPU engine is drained:
    the kernel counts drops, every batch is well-formed, and stop/close return."""
    if reason := bpf_refused_reason():
        pytest.skip(reason)
    storm = "import os\nfor _ in range(300000): os.getppid()"
    with ModernBpfEngine(buffer_bytes=4096) as eng:
        eng.set_interesting_syscalls({"getppid"})
        eng.start()
        procs = [subprocess.Popen([sys.executable, "-c", storm]) for _ in range(2)]
        drained = 0
        deadline = time.monotonic() + 60
        while any(p.poll() is None for p in procs):
            assert time.monotonic() < deadline, "storm did not finish"
            batch = eng.next_batch(timeout_ms=5)
            for e in batch:
                e.validate()  # header and parameter lengths consistent
            drained += len(batch)
        eng.stop()
        while batch := eng.next_batch(timeout_ms=0):
            drained += len(batch)
        stats = eng.stats()
    assert sum(s.drops_buffer_full for s in stats) > 0 and drained > 0
    assert sum(s.events for s in stats) >= drained
    assert eng.malformed_records == 0


def _bpftool_ids(kind: str) -> set[int]:
    out = subprocess.run(["bpftool", "-j", kind, "show"], capture_output=True, text=True, check=True).stdout
    return {p["id"] for p in json.loads(out)}


def _live_ids(kind: str) -> set[int]:
    """Ids of every prog or map alive, by BPF_{PROG,MAP}_GET_NEXT_ID only: unlike
    `bpftool map show`, this opens no fd to them. Opening a prog array by id after its
    owner closed it (usercnt 0 -> 1 -> 0 while the deferred clear of its slots is
    still queued) makes the kernel's prog_array_map_clear take a map reference
    (bpf_map_inc) that its already-pending work never puts back: that map then
    lives forever, empty and unowned. So leftovers are looked for without fds."""
    libbpf = ctypes.CDLL(ctypes.util.find_library("bpf"), use_errno=True)
    next_id = getattr(libbpf, f"bpf_{kind}_get_next_id")
    ids, cur, nxt = set(), 0, ctypes.c_uint32()
    while next_id(ctypes.c_uint32(cur), ctypes.byref(nxt)) == 0:
        cur = nxt.value
        ids.add(cur)
    return ids


def _own_bpf_ids() -> tuple[set[int], set[int]]:
    """(prog ids, map ids) this process holds through its fds (programs, maps, links),
    from /proc/self/fdinfo: other engineers' probes on the same machine are not ours."""
    progs, maps = set(), set()
    for fd in os.listdir("/proc/self/fdinfo"):
        try:
            text = Path(f"/proc/self/fdinfo/{fd}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key == "prog_id":
                progs.add(int(value))
            elif key == "map_id":
                maps.add(int(value))
    return progs, maps


def _open_close_and_leftovers() -> tuple[set[int], set[int], set[int], set[int]]:
    """Open, start, drain and close an engine; (its progs, its maps, progs and maps
    still alive after close). Checks the fds on the way."""
    fds_before = set(os.listdir("/proc/self/fd"))
    progs_before, maps_before = _own_bpf_ids()
    eng = ModernBpfEngine(buffer_bytes=1 << 16)
    eng.open()
    eng.start()
    os.getppid()
    eng.next_batch(timeout_ms=0)
    progs, maps = _own_bpf_ids()
    progs, maps = progs - progs_before, maps - maps_before
    assert len(progs) >= 10 and len(maps) >= 3
    assert progs <= _bpftool_ids("prog") and maps <= _bpftool_ids("map")
    eng.close()
    eng.close()
    assert set(os.listdir("/proc/self/fd")) == fds_before
    # the kernel frees programs and maps asynchronously (RCU, deferred prog-array
    # clearing) once the last reference (fd, link, prog-array slot, ring mmap) is gone;
    # watched without opening them (see _live_ids)
    deadline = time.monotonic() + 5
    while True:
        left, left_maps = progs & _live_ids("prog"), maps & _live_ids("map")
        if not (left or left_maps) or time.monotonic() > deadline:
            return progs, maps, left, left_maps


def test_close_releases_programs_maps_and_fds():
    if reason := bpf_refused_reason():
        pytest.skip(reason)
    _, _, left, left_maps = _open_close_and_leftovers()
    assert not left and not left_maps, (left, left_maps)


def test_close_releases_the_prog_arrays():
    """The prog arrays too (they once seemed to leak: it was this test's own
    `bpftool map show` polling after close, see _live_ids)."""
    if reason := bpf_refused_reason():
        pytest.skip(reason)
    _, _, _, left_maps = _open_close_and_leftovers()
    assert not left_maps, left_maps
