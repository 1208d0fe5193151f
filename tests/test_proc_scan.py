"""libscap.proc_scan against real /proc facts: a child process started here with a
known cwd, argv, environment, threads, open files, pipes, anonymous-inode fds
and sockets reports what it holds; the scan must find exactly that."""

from __future__ import annotations

import json
import os
import pwd
import grp
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from libscap import proc_scan as ps
from libscap.savefile import blocks as B
from libscap.schema import FLAG_TABLES

# The child: opens one of each kind of fd, starts a thread, prints what it holds, waits for stdin.
CHILD = r"""
import ctypes, json, os, select, socket, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
out = {"pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0), "sid": os.getsid(0)}
fpath, upath = sys.argv[1], sys.argv[2]
out["file"] = os.open(fpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
out["file_ino"] = os.fstat(out["file"]).st_ino
out["dir"] = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
r, w = os.pipe()
out["pipe"] = [r, w, os.fstat(r).st_ino]
out["eventfd"] = os.eventfd(0)
ep = select.epoll(); out["epoll"] = ep.fileno()
out["inotify"] = libc.inotify_init1(0)
out["timerfd"] = libc.timerfd_create(1, 0)
mask = (ctypes.c_uint64 * 1)(1 << 9)
out["signalfd"] = libc.signalfd(-1, mask, 8)
out["memfd"] = os.memfd_create("scanmemfd")
out["userfaultfd"] = libc.syscall(323, 0)
params = (ctypes.c_uint8 * 120)()
out["io_uring"] = libc.syscall(425, 4, params)
attr = (ctypes.c_uint32 * 6)(2, 4, 8, 1, 0, 0)  # BPF_MAP_TYPE_ARRAY, key 4, value 8, 1 entry
out["bpf"] = libc.syscall(321, 0, attr, 24)
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
client = socket.create_connection(listener.getsockname()); server, _ = listener.accept()
out["listen"] = [listener.fileno(), listener.getsockname()[1]]
out["client"] = [client.fileno(), client.getsockname()[1], listener.getsockname()[1]]
out["server"] = [server.fileno()]
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.connect(("127.0.0.2", 9)); out["udp"] = [udp.fileno(), udp.getsockname()[1]]
l6 = socket.socket(socket.AF_INET6); l6.bind(("::1", 0)); l6.listen(); out["listen6"] = [l6.fileno(), l6.getsockname()[1]]
c6 = socket.create_connection(("::1", l6.getsockname()[1])); out["client6"] = [c6.fileno(), c6.getsockname()[1], l6.getsockname()[1]]
s6, _ = l6.accept()
ux = socket.socket(socket.AF_UNIX); ux.bind(upath); ux.listen(); out["unix"] = [ux.fileno(), upath]
nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); nl.bind((0, 0)); out["netlink"] = nl.fileno()
t = threading.Thread(target=sys.stdin.read, daemon=True); t.start()
out["thread"] = t.native_id
print(json.dumps(out), flush=True)
t.join()
"""


@pytest.fixture(scope="module")
def child(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("procscan")
    marker = f"marker-{uuid.uuid4().hex}"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PROC_SCAN_MARKER": marker}
    unix_path = str(tmp / "u.sock")
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp / "f.txt"), unix_path, marker, "last arg"],
                            cwd=tmp, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        report = json.loads(proc.stdout.readline())
        report.update(cwd=str(tmp), marker=marker, file_path=str(tmp / "f.txt"))
        yield report
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def by_tid(processes):
    return {p.tid: p for p in processes}


def test_process_fields_match_the_child(child):
    procs = by_tid(ps.scan_processes())
    p = procs[child["pid"]]
    assert (p.pid, p.ptid, p.pgid, p.sid, p.vtid, p.vpid, p.vpgid) == (
        child["pid"], child["ppid"], child["pgid"], child["sid"], child["pid"], child["pid"], child["pgid"])
    assert p.exe == sys.executable and p.args == ("-c", CHILD, child["file_path"], child["cwd"] + "/u.sock",
                                                   child["marker"], "last arg")
    assert p.exepath == os.path.realpath(sys.executable)
    assert p.cwd == child["cwd"] and p.root == "/"
    assert f"PROC_SCAN_MARKER={child['marker']}" in p.env
    assert p.comm == Path(sys.executable).name[:15]
    assert (p.uid, p.gid) == (os.geteuid(), os.getegid())
    assert p.flags == 0 and p.fdlimit == os.sysconf("SC_OPEN_MAX")
    exe = os.stat(sys.executable)
    assert (p.exe_ino, p.exe_ino_mtime) == (exe.st_ino, exe.st_mtime_ns)
    assert p.vmsize_kb > 0 and p.vmrss_kb > 0
    status = Path(f"/proc/{child['pid']}/status").read_text()
    cap_eff = int(next(l.split()[1] for l in status.splitlines() if l.startswith("CapEff")), 16)
    assert p.cap_effective == cap_eff
    assert p.cgroups and all("=" in c for c in p.cgroups)
    boot = ps.machine_info().boot_ts_epoch
    assert boot < p.clone_ts <= __import__("time").time_ns()
    # the thread: same process fields, its own tid, thread flags
    t = procs[child["thread"]]
    assert (t.pid, t.args, t.cwd, t.flags) == (child["pid"], p.args, p.cwd, ps.THREAD_FLAGS)


def test_scan_process_one_thread(child):
    t = ps.scan_process(child["thread"])
    assert t is not None and t.tid == child["thread"] and t.pid == child["pid"] and t.flags == ps.THREAD_FLAGS
    assert ps.scan_process(child["pid"]).args[-1] == "last arg"


def test_scan_process_of_a_gone_thread_is_none():
    p = subprocess.run(["/bin/true"])
    gone = subprocess.Popen(["/bin/true"])
    gone.wait()
    assert p.returncode == 0 and ps.scan_process(gone.pid) is None


def test_kernel_threads_are_skipped():
    kthreadd = Path("/proc/2/status")
    if not kthreadd.exists() or "kthreadd" not in kthreadd.read_text():
        pytest.skip("no kthreadd visible in this pid namespace")
    assert 2 not in by_tid(ps.scan_processes())


def test_fds_match_the_child(child):
    fds = {f.fd: f for f in ps.scan_fds(child["pid"])}
    f = fds[child["file"]]
    assert (f.type, f.name, f.ino) == (B.SCAP_FD_FILE_V2, child["file_path"], child["file_ino"])
    ppm_o = dict(FLAG_TABLES["file_flags"])
    assert f.open_flags & 3 == ppm_o["O_WRONLY"]
    assert f.open_flags & ppm_o["O_APPEND"] and f.open_flags & ppm_o["O_CLOEXEC"]
    assert f.dev == os.stat(child["file_path"]).st_dev
    assert (fds[child["dir"]].type, fds[child["dir"]].name) == (B.SCAP_FD_DIRECTORY, child["cwd"])
    r, w, pipe_ino = child["pipe"]
    assert fds[r].type == fds[w].type == B.SCAP_FD_FIFO and fds[r].ino == pipe_ino
    assert fds[r].name == f"pipe:[{pipe_ino}]"
    expected = {"eventfd": B.SCAP_FD_EVENT, "epoll": B.SCAP_FD_EVENTPOLL, "inotify": B.SCAP_FD_INOTIFY,
                "timerfd": B.SCAP_FD_TIMERFD, "signalfd": B.SCAP_FD_SIGNALFD, "memfd": B.SCAP_FD_MEMFD,
                "userfaultfd": B.SCAP_FD_USERFAULTFD, "io_uring": B.SCAP_FD_IOURING, "bpf": B.SCAP_FD_BPF}
    for kind, fdtype in expected.items():
        if child[kind] < 0:
            print(f"{kind}: the kernel refused to create one here, not checked")
            continue
        assert fds[child[kind]].type == fdtype, kind
    assert fds[child["memfd"]].name.startswith("/memfd:scanmemfd")


def test_sockets_resolved_from_proc_net(child):
    fds = {f.fd: f for f in ps.scan_fds(child["pid"])}
    fd, port = child["listen"]
    assert (fds[fd].type, fds[fd].sip, fds[fd].sport, fds[fd].l4proto) == (
        B.SCAP_FD_IPV4_SERVSOCK, "127.0.0.1", port, ps.SCAP_L4_TCP)
    fd, sport, dport = child["client"]
    c = fds[fd]
    assert (c.type, c.sip, c.sport, c.dip, c.dport, c.l4proto) == (
        B.SCAP_FD_IPV4_SOCK, "127.0.0.1", sport, "127.0.0.1", dport, ps.SCAP_L4_TCP)
    s = fds[child["server"][0]]
    assert (s.type, s.sport, s.dport) == (B.SCAP_FD_IPV4_SOCK, dport, sport)
    fd, sport = child["udp"]
    assert (fds[fd].type, fds[fd].dip, fds[fd].dport, fds[fd].sport, fds[fd].l4proto) == (
        B.SCAP_FD_IPV4_SOCK, "127.0.0.2", 9, sport, ps.SCAP_L4_UDP)
    fd, port = child["listen6"]
    assert (fds[fd].type, fds[fd].sip, fds[fd].sport) == (B.SCAP_FD_IPV6_SERVSOCK, "::1", port)
    fd, sport, dport = child["client6"]
    assert (fds[fd].type, fds[fd].sip, fds[fd].dip, fds[fd].sport, fds[fd].dport) == (
        B.SCAP_FD_IPV6_SOCK, "::1", "::1", sport, dport)
    fd, path = child["unix"]
    assert (fds[fd].type, fds[fd].name) == (B.SCAP_FD_UNIX_SOCK, path)
    assert fds[child["netlink"]].type == B.SCAP_FD_NETLINK


def test_scan_all_fds_covers_main_threads_only(child):
    procs = ps.scan_processes()
    all_fds = ps.scan_all_fds(procs)
    assert child["thread"] not in all_fds
    assert {f.fd for f in all_fds[child["pid"]]} == {f.fd for f in ps.scan_fds(child["pid"])}


def test_scan_fds_of_a_missing_pid_is_empty():
    gone = subprocess.Popen(["/bin/true"])
    gone.wait()
    assert ps.scan_fds(gone.pid) == []


def test_open_flags_conversion():
    ppm = dict(FLAG_TABLES["file_flags"])
    assert ps.open_flags_to_scap(os.O_RDONLY) == ppm["O_RDONLY"]
    assert ps.open_flags_to_scap(os.O_RDWR | os.O_TRUNC | os.O_CREAT) == ppm["O_RDWR"] | ppm["O_TRUNC"] | ppm["O_CREAT"]
    assert ps.open_flags_to_scap(os.O_SYNC) == ppm["O_RDONLY"] | ppm["O_SYNC"] | ppm["O_DSYNC"]


def test_users_and_groups_match_the_system():
    users, groups = ps.scan_users()
    by_uid = {u.uid: u for u in users}
    root = pwd.getpwuid(0)
    assert (by_uid[0].name, by_uid[0].homedir, by_uid[0].shell, by_uid[0].gid) == (
        root.pw_name, root.pw_dir, root.pw_shell, root.pw_gid)
    assert len(users) == len(pwd.getpwall()) and {g.gid: g.name for g in groups}[0] == grp.getgrgid(0).gr_name


def test_users_from_another_root(tmp_path):
    (tmp_path / "passwd").write_text("alice:x:1001:1002:Alice:/home/alice:/bin/zsh\nbroken line\n")
    (tmp_path / "group").write_text("staff:x:1002:alice\n")
    users, groups = ps.scan_users(str(tmp_path))
    assert users == [B.UserInfo(1001, 1002, "alice", "/home/alice", "/bin/zsh")]
    assert groups == [B.GroupInfo(1002, "staff")]


def test_machine_info():
    mi = ps.machine_info()
    assert mi.num_cpus == os.cpu_count() and mi.hostname == socket.gethostname()
    assert mi.max_pid == int(Path("/proc/sys/kernel/pid_max").read_text())
    assert mi.memory_size_bytes == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGESIZE")
    btime = next(int(l.split()[1]) for l in Path("/proc/stat").read_text().splitlines() if l.startswith("btime"))
    assert mi.boot_ts_epoch == btime * 10**9


def test_missing_proc_root_is_a_clear_error(tmp_path):
    with pytest.raises(OSError, match="cannot list"):
        ps.scan_processes(str(tmp_path / "nope"))
