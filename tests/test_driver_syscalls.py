"""Live coverage of the probe's per-syscall exit events (driver/probe.bpf.c).

One workload subprocess with unique markers performs the syscalls of each group
(process, fd, socket, I/O, filesystem, credentials/memory) and reports what it
did (paths, fds, flags, pids, ports) as JSON; the tests compare the decoded
events (libscap Event.param, the decoder captures use) with that report, never
with the probe's code. Skips only when the kernel refuses BPF."""

from __future__ import annotations

import os
import resource
import socket
import sys
from pathlib import Path

import pytest

from libscap.engine.modern_bpf import EXIT_PROGRAMS
from libscap.savefile import open_capture, write_capture
from libscap.schema import PPME
from tests.helpers_driver import P, capture_workload, of

WORKLOAD = r"""
import ctypes, json, mmap, os, resource, signal, socket, sys
tmp, marker, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
out = {"pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(), "pgid": os.getpgrp()}
j = lambda *p: os.path.join(tmp, *p)

# -- process: clone (os.fork), raw fork, failed and successful execve
child = os.fork()
if child == 0:
    os.execve("/bin/true", ["/bin/true", marker], {"MARKER": marker})
os.waitpid(child, 0)
out["clone_child"] = child
forked = libc.syscall(57)  # fork(2) itself
if forked == 0:
    os._exit(7)
os.waitpid(forked, 0)
out["fork_child"] = forked
try:
    os.execv(j("no-such-" + marker), ["argv0-" + marker, "a1"])
except OSError as e:
    out["exec_errno"] = e.errno

# -- fds
fd = os.open(j("f-" + marker), os.O_CREAT | os.O_RDWR | os.O_APPEND, 0o600)
out["open_fd"] = fd
out["dup"] = libc.dup(fd)  # os.dup is fcntl(F_DUPFD_CLOEXEC)
out["dup2"] = os.dup2(fd, 100)
out["dup3"] = os.dup2(fd, 101, inheritable=False)   # dup3(O_CLOEXEC)
out["fcntl"] = libc.fcntl(fd, 1030, 200)            # F_DUPFD_CLOEXEC
r, w = os.pipe()                                    # pipe2(O_CLOEXEC)
out["pipe"] = [r, w, os.fstat(r).st_ino]
out["write"] = os.write(w, (marker + "-payload-" + "x" * 200).encode())
out["read"] = len(os.read(r, 50))
out["eventfd"] = os.eventfd(5, os.EFD_CLOEXEC)
out["memfd"] = os.memfd_create("mfd-" + marker, os.MFD_CLOEXEC)
out["inotify"] = libc.inotify_init1(0o4000)          # IN_NONBLOCK
out["timerfd"] = libc.timerfd_create(1, 0)           # CLOCK_MONOTONIC

# -- sockets
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
out["sock"] = s.fileno()
s.connect(("127.0.0.1", port))
out["sport"] = s.getsockname()[1]
out["sent"] = s.send((marker + "-tcp").encode())
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
upath = j("u-" + marker)
srv.bind(upath)
srv.listen(7)
out["usrv"] = srv.fileno()
cl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
cl.connect(upath)
out["ucl"] = cl.fileno()
conn, _ = srv.accept()
out["uacc"] = conn.fileno()
a, b = socket.socketpair()
out["pair"] = [a.fileno(), b.fileno()]
cl.sendmsg([b"hello-", marker.encode()])
out["recvmsg"] = len(conn.recvmsg(100)[0])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
out["uport"] = u.getsockname()[1]
u.sendto(marker.encode(), ("127.0.0.1", out["uport"]))
out["recvfrom"] = len(u.recvfrom(100)[0])

# -- filesystem
os.mkdir(j("d-" + marker), 0o750)
os.rename(j("f-" + marker), j("g-" + marker))
os.link(j("g-" + marker), j("h-" + marker))
os.symlink("target-" + marker, j("s-" + marker))
os.chmod(j("g-" + marker), 0o640)
os.chown(j("g-" + marker), 1234, 5678)
os.chdir(j("d-" + marker))
os.chdir(tmp)
os.unlink(j("h-" + marker))
os.rmdir(j("d-" + marker))

# -- credentials, namespaces, memory, signals
m = mmap.mmap(-1, 8192, prot=mmap.PROT_READ | mmap.PROT_WRITE)
out["mmap_len"] = 8192
libc.prctl(15, ("pr-" + marker[:8]).encode(), 0, 0, 0)   # PR_SET_NAME
out["kill"] = os.kill(os.getpid(), 0)
out["setresuid"] = libc.setresuid(-1, -1, -1)
print(json.dumps(out), flush=True)
"""


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """(report, events of the workload and its children, marker, tmp dir)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        return capture_workload(tmp_path_factory, "drv", WORKLOAD,
                                ("pid", "clone_child", "fork_child"),
                                listener.getsockname()[1])


def test_every_listed_syscall_has_an_exit_program():
    # the coverage list of issue 3 (exit/procexit are hooks, not programs)
    wanted = set("""execve execveat clone clone3 fork vfork open openat openat2 creat close dup
    dup2 dup3 fcntl pipe pipe2 socket socketpair connect accept accept4 bind listen sendto
    recvfrom sendmsg recvmsg read write eventfd eventfd2 signalfd signalfd4 timerfd_create
    inotify_init inotify_init1 memfd_create userfaultfd unlink unlinkat rename renameat renameat2
    mkdir mkdirat rmdir link linkat symlink symlinkat chmod fchmod fchmodat chown lchown fchown
    fchownat chdir fchdir chroot mount umount2 setuid setgid setresuid setresgid setreuid
    setregid setns unshare ptrace prctl capset init_module finit_module bpf mmap mprotect kill
    tgkill process_vm_readv process_vm_writev io_uring_setup sendfile splice""".split())
    assert wanted <= set(EXIT_PROGRAMS)


def test_execve_success_has_the_full_parameter_set(capture):
    report, events, marker, tmp = capture
    child = report["clone_child"]
    (ex,) = of(events, "SYSCALL_EXECVE_19_X", child)
    st = os.stat("/bin/true")
    real = os.path.realpath("/bin/true")
    assert (ex["res"], ex["exe"], ex["args"]) == (0, "/bin/true", f"{marker}\0".encode())
    assert (ex["tid"], ex["pid"], ex["ptid"]) == (child, child, report["pid"])
    assert ex["cwd"] == str(tmp)
    assert ex["fdlimit"] == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert ex["comm"] == "true"
    assert ex["env"] == f"MARKER={marker}\0".encode()
    cg = Path("/proc/self/cgroup").read_text().strip().splitlines()
    mine = {line.split(":", 2)[2] for line in cg}
    entries = [c for c in ex["cgroups"].split(b"\0") if c]
    assert entries and all(b"=" in c for c in entries)
    assert {c.split(b"=", 1)[1].decode() for c in entries} & mine
    assert ex["loginuid"] == int(Path("/proc/self/loginuid").read_text())
    status = dict(l.split(":\t", 1) for l in Path("/proc/self/status").read_text().splitlines()
                  if ":\t" in l)
    # the exec'd child of root inherits our permitted set (no file caps on /bin/true)
    assert ex["cap_permitted"] == int(status["CapPrm"], 16)
    assert ex["cap_effective"] == int(status["CapEff"], 16)
    assert ex["cap_inheritable"] == int(status["CapInh"], 16)
    assert (ex["exe_ino"], ex["exe_ino_mtime"], ex["exe_ino_ctime"]) == (
        st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
    assert (ex["uid"], ex["gid"]) == (os.geteuid(), os.getegid())
    assert ex["trusted_exepath"] == real
    assert ex["filename"] == "/bin/true"
    assert ex["pgid"] == report["pgid"] and ex["vpgid"] == ex["pgid"]
    # vm_rss right at exec is the percpu counters' folded sum, as upstream: often 0
    assert ex["vm_size"] > 0
    assert ex["flags"] & 1 == 1  # EXE_WRITABLE: root may write /bin/true


def test_failed_execve(capture):
    report, events, marker, tmp = capture
    (ex,) = of(events, "SYSCALL_EXECVE_19_X", report["pid"], res=-report["exec_errno"])
    assert ex["exe"] == f"argv0-{marker}" and ex["args"] == b"a1\0"
    assert ex["filename"] == str(tmp / f"no-such-{marker}")
    assert ex["tid"] == report["pid"] and ex["comm"] == Path(sys.executable).name[:15]


def test_clone_and_fork_parent_and_child(capture):
    report, events, marker, tmp = capture
    pid, cchild, fchild = report["pid"], report["clone_child"], report["fork_child"]
    (parent,) = of(events, "SYSCALL_CLONE_20_X", pid, res=cchild)
    (child,) = of(events, "SYSCALL_CLONE_20_X", cchild, res=0)
    for p, tid in ((parent, pid), (child, cchild)):
        assert (p["tid"], p["pid"], p["vtid"], p["vpid"]) == (tid, tid, tid, tid)
        assert p["exe"] == sys.executable and p["cwd"] == str(tmp)
        assert (p["uid"], p["gid"]) == (os.geteuid(), os.getegid())
        assert p["fdlimit"] == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert p["cgroups"]
    assert parent["ptid"] == report["ppid"] and child["ptid"] == pid
    assert parent["vm_size"] > 0 and parent["vm_rss"] > 0
    # glibc fork: clone(CHILD_CLEARTID|CHILD_SETTID|SIGCHLD)
    assert parent["flags"] == child["flags"] == (8388608 | 16777216)
    assert child["pidns_init_start_ts"] > 0 and parent["pidns_init_start_ts"] == 0
    (fparent,) = of(events, "SYSCALL_FORK_20_X", pid, res=fchild)
    (fch,) = of(events, "SYSCALL_FORK_20_X", fchild, res=0)
    assert fch["ptid"] == pid and fparent["flags"] == 0
    # the workload itself was started by subprocess's vfork: the child side
    (vf,) = of(events, "SYSCALL_VFORK_20_X", pid, res=0)
    assert (vf["tid"], vf["pid"], vf["ptid"]) == (pid, pid, os.getpid())
    assert vf["flags"] == 0 and vf["exe"] == sys.executable
    exits = {e.tid: P(e) for e in events if e.type == PPME.PROCEXIT_1_E}
    assert exits[fchild]["ret"] == 7


def test_fd_syscalls(capture):
    report, events, marker, tmp = capture
    pid = report["pid"]
    path = str(tmp / f"f-{marker}")
    st = os.stat(tmp / f"g-{marker}")  # renamed later, same inode
    (o,) = of(events, "SYSCALL_OPENAT_2_X", pid, name=path)
    assert o == {"fd": report["open_fd"], "dirfd": -100, "name": path,
                 # PPM RDWR|CREAT|APPEND|CLOEXEC (os.open adds it)|F_CREATED
                 "flags": 3 | 4 | 8 | 4096 | 16384,
                 "mode": 0o600, "dev": st.st_dev, "ino": st.st_ino}
    fd = report["open_fd"]
    assert of(events, "SYSCALL_DUP_1_X", pid) == [{"res": report["dup"], "oldfd": fd}]
    # (subprocess's vfork child dup2s the stdio fds before exec: same tid)
    assert of(events, "SYSCALL_DUP2_X", pid, oldfd=fd) == [{"res": 100, "oldfd": fd, "newfd": 100}]
    assert of(events, "SYSCALL_DUP3_X", pid) == [{"res": 101, "oldfd": fd, "newfd": 101,
                                                  "flags": 4096}]  # PPM_O_CLOEXEC
    assert of(events, "SYSCALL_FCNTL_X", pid, fd=fd, cmd=26) == [
        {"res": report["fcntl"], "fd": fd, "cmd": 26, "arg": 200}]  # PPM F_DUPFD_CLOEXEC
    r, w, ino = report["pipe"]
    assert of(events, "SYSCALL_PIPE2_X", pid, fd1=r) == [
        {"res": 0, "fd1": r, "fd2": w, "ino": ino, "flags": 4096}]
    (wr,) = of(events, "SYSCALL_WRITE_X", pid, fd=w)
    assert wr["res"] == report["write"] and wr["size"] == report["write"]
    assert wr["data"] == (marker + "-payload-" + "x" * 200).encode()[:80]
    (rd,) = of(events, "SYSCALL_READ_X", pid, fd=r)
    assert rd["res"] == rd["size"] == 50 and rd["data"] == wr["data"][:50]
    assert of(events, "SYSCALL_EVENTFD2_X", pid) == [
        {"res": report["eventfd"], "flags": 4096, "initval": 5}]
    assert of(events, "SYSCALL_MEMFD_CREATE_X", pid) == [
        {"fd": report["memfd"], "name": f"mfd-{marker}", "flags": 1}]
    assert of(events, "SYSCALL_INOTIFY_INIT1_X", pid) == [
        {"res": report["inotify"], "flags": 64}]  # PPM_O_NONBLOCK
    assert of(events, "SYSCALL_TIMERFD_CREATE_X", pid) == [
        {"res": report["timerfd"], "clockid": 1, "flags": 0}]
    closes = of(events, "SYSCALL_CLOSE_X", pid)
    assert closes and all(c["res"] == 0 or c["res"] < 0 for c in closes)


def test_socket_syscalls(capture):
    report, events, marker, tmp = capture
    pid = report["pid"]
    socks = of(events, "SOCKET_SOCKET_X", pid, fd=report["sock"])
    # python passes SOCK_CLOEXEC in the type; flags is its PPM_O_CLOEXEC
    assert {"fd": report["sock"], "domain": 2, "type": 1 | 0o2000000, "proto": 0,
            "flags": 4096} in socks
    (conn,) = of(events, "SOCKET_CONNECT_X", pid, fd=report["sock"])
    t, a = conn["tuple"], conn["addr"]
    assert (t.family, t.sip, t.sport, t.dip) == (2, "127.0.0.1", report["sport"], "127.0.0.1")
    assert (a.family, a.addr, a.port) == (2, "127.0.0.1", t.dport)
    (snd,) = of(events, "SOCKET_SENDTO_X", pid, fd=report["sock"])
    assert snd["data"] == f"{marker}-tcp".encode() and snd["res"] == report["sent"]
    assert snd["tuple"].sport == report["sport"]
    upath = str(tmp / f"u-{marker}")
    (bnd,) = of(events, "SOCKET_BIND_X", pid, fd=report["usrv"])
    assert bnd["res"] == 0 and (bnd["addr"].family, bnd["addr"].path) == (1, upath)
    assert of(events, "SOCKET_LISTEN_X", pid) == [{"res": 0, "fd": report["usrv"], "backlog": 7}]
    (uc,) = of(events, "SOCKET_CONNECT_X", pid, fd=report["ucl"])
    assert uc["res"] == 0 and uc["addr"].path == upath
    assert uc["tuple"].family == 1 and uc["tuple"].path == upath and uc["tuple"].dst_ptr
    (acc,) = of(events, "SOCKET_ACCEPT4_6_X", pid, fd=report["uacc"])
    assert acc["tuple"].family == 1 and acc["tuple"].path == upath
    assert acc["queuemax"] == 7 and acc["flags"] == 4096  # python accepts with SOCK_CLOEXEC
    a, b = report["pair"]
    (sp,) = of(events, "SOCKET_SOCKETPAIR_X", pid)
    assert (sp["res"], sp["fd1"], sp["fd2"], sp["domain"]) == (0, a, b, 1)
    assert sp["source"] and sp["peer"] and sp["source"] != sp["peer"]
    (sm,) = of(events, "SOCKET_SENDMSG_X", pid, fd=report["ucl"])
    assert sm["data"] == f"hello-{marker}".encode() and sm["size"] == len(sm["data"])
    (rm,) = of(events, "SOCKET_RECVMSG_X", pid, fd=report["uacc"])
    assert rm["res"] == report["recvmsg"] and rm["data"] == sm["data"]
    (rf,) = of(events, "SOCKET_RECVFROM_X", pid)
    assert rf["data"] == marker.encode() and rf["res"] == report["recvfrom"]


def test_filesystem_syscalls(capture):
    report, events, marker, tmp = capture
    pid = report["pid"]
    j = lambda n: str(tmp / f"{n}-{marker}")
    assert of(events, "SYSCALL_MKDIR_2_X", pid) == [{"res": 0, "path": j("d"), "mode": 0o750}]
    assert of(events, "SYSCALL_RENAME_X", pid) == [
        {"res": 0, "oldpath": j("f"), "newpath": j("g")}]
    assert of(events, "SYSCALL_LINK_2_X", pid) == [
        {"res": 0, "oldpath": j("g"), "newpath": j("h")}]
    assert of(events, "SYSCALL_SYMLINK_X", pid) == [
        {"res": 0, "target": f"target-{marker}", "linkpath": j("s")}]
    assert of(events, "SYSCALL_CHMOD_X", pid) == [{"res": 0, "filename": j("g"), "mode": 0o640}]
    assert of(events, "SYSCALL_CHOWN_X", pid) == [
        {"res": 0, "path": j("g"), "uid": 1234, "gid": 5678}]
    # the first chdir is subprocess's (cwd=tmp) in the vfork child before exec
    assert of(events, "SYSCALL_CHDIR_X", pid) == [{"res": 0, "path": str(tmp)},
                                                   {"res": 0, "path": j("d")},
                                                   {"res": 0, "path": str(tmp)}]
    assert of(events, "SYSCALL_UNLINK_2_X", pid) == [{"res": 0, "path": j("h")}]
    assert of(events, "SYSCALL_RMDIR_2_X", pid) == [{"res": 0, "path": j("d")}]


def test_cred_memory_signal_syscalls(capture):
    report, events, marker, tmp = capture
    pid = report["pid"]
    mm = of(events, "SYSCALL_MMAP_X", pid, length=8192)
    assert mm and mm[-1]["prot"] == 3 and mm[-1]["flags"] == 1 | 8  # SHARED|ANONYMOUS
    assert mm[-1]["fd"] == -1 and mm[-1]["res"] > 0 and mm[-1]["vm_size"] > 0
    (pr,) = of(events, "SYSCALL_PRCTL_X", pid, option=15)
    assert pr["arg2_str"] == f"pr-{marker[:8]}" and pr["res"] == 0
    assert of(events, "SYSCALL_KILL_X", pid) == [{"res": 0, "pid": pid, "sig": 0}]
    uid_max = 0xFFFFFFFF
    assert of(events, "SYSCALL_SETRESUID_X", pid) == [
        {"res": 0, "ruid": uid_max, "euid": uid_max, "suid": uid_max}]


def test_capture_reads_back_identically(capture, tmp_path):
    _, events, _, _ = capture
    out = tmp_path / "drv.scap"
    write_capture(out, events=events, compress=False)
    cap = open_capture(out)
    try:
        back = list(cap.events())
        assert [e.raw for e in back] == [e.raw for e in events]
        assert [P(e) for e in back] == [P(e) for e in events]
    finally:
        cap.close()
