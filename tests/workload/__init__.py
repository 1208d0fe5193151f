"""The project's own workload generator for soak tests (``python -m tests.workload``).

A realistic mix, round after round, at a target rate of rounds per second:
process spawns (``/bin/true``, ``sh -c``), short-lived forked children (which
make the kernel recycle pids), file opens/writes/renames/unlinks, local TCP,
UDP and Unix-socket connections with data, and thread churn. Interleaved,
unique *marker actions* that the marker rules (``MARKER_RULES``) target:

- ``open``: creating ``<dir>/fpysoak-marker-<run>-<n>`` (rule on the file name);
- ``exec``: running a copy of /bin/true named ``fpysoakexec`` with argument ``<run>-<n>``;
- ``connect``: a TCP connect to the marker listener on 127.0.0.1 by a python run
  through a symlink named ``fpysoakconn`` (one process, one connect per marker).

``run`` returns what was done: counts per operation and every marker id, so a
soak can check that each marker produced its alert.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

MARKER_RULES = """
- rule: soak marker open
  desc: the workload created a marker file
  condition: evt.type in (open, openat, openat2, creat) and fd.name contains "/fpysoak-marker-"
  output: "SOAKMARK open %fd.name"
  priority: WARNING
- rule: soak marker exec
  desc: the workload ran its marker program
  condition: evt.type in (execve, execveat) and proc.name = fpysoakexec
  output: "SOAKMARK exec %proc.args"
  priority: WARNING
- rule: soak marker connect
  desc: the workload's marker connect
  condition: evt.type = connect and proc.name = fpysoakconn and fd.sip = "127.0.0.1"
  output: "SOAKMARK connect %fd.name"
  priority: WARNING
"""

#: the connect marker process: reads "<id>\\n" lines, connects once per line, answers "ok"
_CONNECTOR = r"""
import socket, sys
port = int(sys.argv[1])
for line in sys.stdin:
    s = socket.create_connection(("127.0.0.1", port))
    sport = s.getsockname()[1]
    s.sendall(line.encode())
    s.close()
    sys.stdout.write(f"ok {sport}\n"); sys.stdout.flush()
"""


@dataclass
class Report:
    run_id: str
    rounds: int = 0
    ops: dict[str, int] = field(default_factory=dict)
    #: marker ids: ``<run>-<n>`` for open and exec, the connection's ``127.0.0.1:<sport>->`` for connect
    markers: dict[str, list[str]] = field(default_factory=lambda: {"open": [], "exec": [], "connect": []})
    pids_seen: int = 0
    pids_reused: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, op: str, n: int = 1) -> None:
        self.ops[op] = self.ops.get(op, 0) + n


class _Servers:
    """Local TCP, UDP and Unix servers answering in background threads, and the marker listener."""

    def __init__(self, workdir: Path) -> None:
        self.stop = threading.Event()
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.marker = socket.create_server(("127.0.0.1", 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.unix_path = str(workdir / "soak.sock")
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.unix_path)
        self.unix.listen(64)
        for s in (self.tcp, self.marker, self.udp, self.unix):
            s.settimeout(0.2)
        self.threads = [threading.Thread(target=self._accept, args=(s,), daemon=True)
                        for s in (self.tcp, self.marker, self.unix)]
        self.threads.append(threading.Thread(target=self._udp, daemon=True))
        for t in self.threads:
            t.start()

    def _accept(self, srv: socket.socket) -> None:
        while not self.stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            with c:
                c.settimeout(1)
                try:
                    c.recv(4096)
                    c.sendall(b"pong")
                except OSError:
                    pass

    def _udp(self) -> None:
        while not self.stop.is_set():
            try:
                data, addr = self.udp.recvfrom(4096)
                self.udp.sendto(data, addr)
            except OSError:
                continue

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(2)
        for s in (self.tcp, self.marker, self.udp, self.unix):
            s.close()


def _round(rep: Report, srv: _Servers, workdir: Path, k: int, seen: set[int]) -> None:
    # process spawns (exec) and short-lived forks (pid churn)
    for argv in (["/bin/true"], ["/bin/sh", "-c", "exit 0"]):
        p = subprocess.Popen(argv)
        p.wait()
        rep.pids_reused += p.pid in seen
        seen.add(p.pid)
        rep.count("spawn")
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        rep.pids_reused += pid in seen
        seen.add(pid)
        rep.count("fork")
    # files: create, write, rename, read, unlink
    a, b = workdir / f"f{k % 50}.tmp", workdir / f"g{k % 50}.tmp"
    with open(a, "wb") as f:
        f.write(os.urandom(256))
    os.rename(a, b)
    with open(b, "rb") as f:
        f.read()
    os.unlink(b)
    rep.count("file", 4)
    # local connections: TCP, UDP, Unix
    with socket.create_connection(srv.tcp.getsockname(), timeout=2) as c:
        c.sendall(b"ping")
        c.recv(16)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(2)
        u.sendto(b"ping", srv.udp.getsockname())
        try:
            u.recvfrom(16)
        except OSError:
            pass
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as x:
        x.settimeout(2)
        x.connect(srv.unix_path)
        x.sendall(b"ping")
        x.recv(16)
    rep.count("connect", 3)
    # thread churn
    ts = [threading.Thread(target=os.stat, args=("/",)) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    rep.count("thread", 4)


def run(duration_s: float, workdir: str | os.PathLike[str], rate: float = 20.0, marker_every_s: float = 0.5,
        stop: threading.Event | None = None) -> Report:
    """The workload for ``duration_s`` seconds at ``rate`` rounds per second (0: as fast as
    possible), a marker action of each kind every ``marker_every_s`` seconds."""
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    rep = Report(uuid.uuid4().hex[:8])
    exe = wd / "fpysoakexec"
    shutil.copy("/bin/true", exe)
    conn_exe = wd / "fpysoakconn"
    if not conn_exe.exists():
        conn_exe.symlink_to(sys.executable)
    srv = _Servers(wd)
    connector = subprocess.Popen([str(conn_exe), "-c", _CONNECTOR, str(srv.marker.getsockname()[1])],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    seen: set[int] = set()
    start = time.monotonic()
    next_marker = start
    n = 0
    try:
        while time.monotonic() - start < duration_s and not (stop and stop.is_set()):
            try:
                _round(rep, srv, wd, rep.rounds, seen)
            except OSError as e:
                rep.errors.append(str(e))
            rep.rounds += 1
            now = time.monotonic()
            if now >= next_marker:
                n += 1
                mid = f"{rep.run_id}-{n}"
                p = wd / f"fpysoak-marker-{mid}"
                p.touch()
                p.unlink()
                rep.markers["open"].append(mid)
                subprocess.run([str(exe), mid], check=True)
                rep.markers["exec"].append(mid)
                assert connector.stdin is not None and connector.stdout is not None
                connector.stdin.write(mid + "\n")
                connector.stdin.flush()
                answer = connector.stdout.readline().split()
                if answer[:1] == ["ok"]:  # the alert shows the connection, 127.0.0.1:<sport>->...
                    rep.markers["connect"].append(f"127.0.0.1:{answer[1]}->")
                next_marker = now + marker_every_s
            if rate > 0:
                delay = start + rep.rounds / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
    finally:
        if connector.stdin:
            connector.stdin.close()
        try:
            connector.wait(10)
        except subprocess.TimeoutExpired:
            connector.kill()
            connector.wait()
        srv.close()
    rep.pids_seen = len(seen)
    return rep
