"""Live coverage of the probe's exit events not covered by test_driver_syscalls.py:
openat2, creat, pipe, signalfd/signalfd4, userfaultfd, accept/accept4 (TCP server
side), the *at filesystem calls with a dirfd, fchmod/fchown/fchdir, chroot,
mount/umount2, setns/unshare, ptrace, capset, init_module/finit_module, bpf,
mprotect, tgkill, process_vm_readv/writev, io_uring_setup, sendfile, splice, and
the generic event of a syscall without a dedicated program.

One workload subprocess (root) makes every call through raw syscall(2) with
known arguments, and reports what it passed and what the kernel returned to it
(results, fds, fstat, the kernel-updated structs) as JSON; the tests compare the
decoded events with that report. PPM flag values are looked up by name in the
schema's flag tables (the libs meaning), never taken from the probe. Skips only
when the kernel refuses BPF."""

from __future__ import annotations

import os
import struct
import sys

import pytest

from libscap.engine.modern_bpf import EXIT_PROGRAMS
from libscap.event import Event
from libscap.schema import FLAG_TABLES, PPM_SC_NAMES, PPME, SYSCALLS_X86_64
from tests.helpers_driver import P, capture_workload, of

WORKLOAD = r"""
import ctypes, json, os, signal, socket, struct, sys, time
tmp, marker = sys.argv[1], sys.argv[2]
m = marker
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def sc(nr, *args):
    conv = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    r = libc.syscall(ctypes.c_long(nr), *conv)
    return r if r >= 0 else -ctypes.get_errno()

B = lambda s: s.encode()
j = lambda *p: os.path.join(tmp, *p)
ref = ctypes.byref
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
out = {"pid": os.getpid()}
dfd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
out["dfd"] = dfd

# -- open family: openat2 with resolve flags, creat, pipe
how = ctypes.create_string_buffer(struct.pack("QQQ", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC,
                                              0o640, 0x08 | 0x04), 24)  # BENEATH|NO_SYMLINKS
fd = sc(437, dfd, B("o2-" + m), how, 24)
st = os.fstat(fd)
out["openat2"] = [fd, st.st_dev, st.st_ino]
how2 = ctypes.create_string_buffer(struct.pack("QQQ", os.O_RDONLY, 0, 0x08 | 0x10), 24)
out["openat2_fail"] = sc(437, dfd, B("../x-" + m), how2, 24)  # BENEATH|IN_ROOT: -EINVAL/-EXDEV
cfd = sc(85, B(j("c-" + m)), 0o604)
st = os.fstat(cfd)
out["creat"] = [cfd, st.st_dev, st.st_ino]
fds = (ctypes.c_int * 2)()
out["pipe"] = [sc(22, fds), fds[0], fds[1], os.fstat(fds[0]).st_ino]

# -- signalfd, signalfd4, userfaultfd
mask = ctypes.c_uint64((1 << (signal.SIGUSR1 - 1)) | (1 << (signal.SIGTERM - 1)))
out["sigmask"] = mask.value & 0xFFFFFFFF
out["signalfd"] = sc(282, -1, ref(mask), 8)
out["signalfd4"] = sc(289, -1, ref(mask), 8, os.O_CLOEXEC | os.O_NONBLOCK)
out["signalfd4_fail"] = sc(289, 1000000, ref(mask), 8, 0)  # not an fd: -EBADF
out["uffd_flags"] = os.O_CLOEXEC | os.O_NONBLOCK
out["uffd"] = sc(323, out["uffd_flags"])

# -- accept/accept4 on a local TCP listener with two pending connections
lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(5)
c1 = socket.create_connection(lst.getsockname())
c2 = socket.create_connection(lst.getsockname())
time.sleep(0.1)
out["listener"] = [lst.fileno(), lst.getsockname()[1], 5]
out["accept"] = [sc(43, lst.fileno(), 0, 0), c1.getsockname()[1]]
out["accept4"] = [sc(288, lst.fileno(), 0, 0, socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK),
                  c2.getsockname()[1]]
lst.setblocking(False)
out["accept4_fail"] = sc(288, lst.fileno(), 0, 0, 0)  # empty queue: -EAGAIN

# -- *at filesystem calls relative to dfd
out["mkdirat"] = sc(258, dfd, B("da-" + m), 0o711)
out["renameat"] = sc(264, dfd, B("c-" + m), dfd, B("c2-" + m))
out["renameat2"] = sc(316, dfd, B("c2-" + m), dfd, B("c3-" + m), 1)        # RENAME_NOREPLACE
out["renameat2_fail"] = sc(316, dfd, B("c3-" + m), dfd, B("o2-" + m), 1)   # -EEXIST
out["linkat"] = sc(265, dfd, B("c3-" + m), dfd, B("l-" + m), 0x400)       # AT_SYMLINK_FOLLOW
out["symlinkat"] = sc(266, B("tgt-" + m), dfd, B("sl-" + m))
out["fchmodat"] = sc(268, dfd, B("c3-" + m), 0o4750)
out["fchownat"] = sc(260, dfd, B("sl-" + m), 1111, 2222, 0x100)           # AT_SYMLINK_NOFOLLOW
out["unlinkat"] = sc(263, dfd, B("l-" + m), 0)
out["unlinkat_dir"] = sc(263, dfd, B("da-" + m), 0x200)                    # AT_REMOVEDIR
out["fchmod"] = sc(91, cfd, 0o1640)
out["fchown"] = sc(93, cfd, 3333, 4444)
out["fchdir"] = sc(81, dfd)

# -- a child: unshare, mount/umount2, setns back, chroot
os.mkdir(j("mnt-" + m))
os.mkdir(j("root-" + m))
uts = os.open("/proc/self/ns/uts", os.O_RDONLY)
out["uts_fd"] = uts
r, w = os.pipe()
ns_child = os.fork()
if ns_child == 0:
    res = {}
    res["unshare"] = sc(272, 0x00020000 | 0x04000000)                       # NEWNS|NEWUTS
    res["private"] = sc(165, None, b"/", None, 16384 | (1 << 18), None)     # MS_REC|MS_PRIVATE
    res["mount"] = sc(165, B("none-" + m), B(j("mnt-" + m)), b"tmpfs", 2 | 4, b"size=1m")
    res["umount2"] = sc(166, B(j("mnt-" + m)), 2)                           # MNT_DETACH
    res["setns"] = sc(308, uts, 0x04000000)                                 # CLONE_NEWUTS
    res["chroot"] = sc(161, B(j("root-" + m)))
    os.write(w, json.dumps(res).encode())
    os._exit(0)
os.waitpid(ns_child, 0)
out["ns_child"] = ns_child
out["ns"] = json.loads(os.read(r, 65536))

# -- ptrace and process_vm_* on a sleeping child (same addresses after fork)
buf = ctypes.create_string_buffer(B(("pv-" + m).ljust(32, "x")), 32)
addr = ctypes.addressof(buf)
tr = os.fork()
if tr == 0:
    while True:
        time.sleep(1)
out["tracee"] = tr
out["buf_addr"] = addr
out["attach"] = sc(101, 16, tr, 0, 0)
os.waitpid(tr, 0)  # stopped
word = ctypes.c_uint64(0)
out["peek"] = sc(101, 2, tr, addr, ref(word))
out["peek_word"] = word.value
out["detach"] = sc(101, 17, tr, 0, 0)
out["peek_fail"] = sc(101, 2, tr, addr, ref(word))  # no longer traced: -ESRCH
local = ctypes.create_string_buffer(32)
liov, riov = iovec(ctypes.addressof(local), 32), iovec(addr, 32)
out["vm_readv"] = sc(310, tr, ref(liov), 1, ref(riov), 1, 0)
out["vm_read"] = local.raw.hex()
src = ctypes.create_string_buffer(B(("wv-" + m).ljust(24, "y")), 24)
liov, riov = iovec(ctypes.addressof(src), 24), iovec(addr, 24)
out["vm_writev"] = sc(311, tr, ref(liov), 1, ref(riov), 1, 0)
out["vm_written"] = src.raw.hex()
os.kill(tr, signal.SIGKILL)
os.waitpid(tr, 0)

# -- modules (failing calls), bpf, memory, signals
img = B("\x7fELF-bogus-" + m) + bytes(range(256))
out["img"] = img.hex()
out["init_module"] = sc(175, img, len(img), B("p=" + m))
rfd = os.open(j("c3-" + m), os.O_RDONLY)
out["finit_fd"] = rfd
out["finit_module"] = sc(313, rfd, B("q=" + m), 2)                          # IGNORE_VERMAGIC
attr = ctypes.create_string_buffer(struct.pack("IIII", 2, 4, 8, 1) + bytes(112), 128)
out["bpf"] = sc(321, 0, attr, 128)                                           # ARRAY map
bad = ctypes.create_string_buffer(struct.pack("IIII", 2, 0, 8, 1) + bytes(112), 128)
out["bpf_fail"] = sc(321, 0, bad, 128)                                       # key_size 0
out["bpf_cmd9"] = sc(321, 9, bad, 128)                                       # PROG_DETACH: fails
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
area = libc.mmap(None, 8192, 3, 0x22, -1, 0)
out["area"] = area
out["mprotect"] = sc(10, area, 4096, 1)
out["mprotect_fail"] = sc(10, area + 1, 4096, 5)                             # unaligned: -EINVAL
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
out["tid"] = sc(186)
out["tgkill"] = sc(234, os.getpid(), out["tid"], signal.SIGUSR1)
out["tgkill_fail"] = sc(234, os.getpid(), 0x3fffffff, 0)                     # -ESRCH

# -- io_uring_setup with IORING_SETUP_CQSIZE; the kernel fills the struct
params = bytearray(120)
struct.pack_into("III", params, 0, 0, 16, 8)
pb = (ctypes.c_char * 120).from_buffer(params)
out["io_uring"] = sc(425, 4, pb)
out["io_uring_params"] = list(struct.unpack_from("6I", params, 0))

# -- sendfile (the kernel advances *offset) and splice
sf = os.open(j("sf-" + m), os.O_RDWR | os.O_CREAT, 0o600)
os.write(sf, b"0123456789" * 10)
pr, pw = os.pipe()
off = ctypes.c_int64(3)
out["sendfile"] = [sc(40, pw, sf, ref(off), 20), off.value, pw, sf]
dst = os.open(j("sp-" + m), os.O_WRONLY | os.O_CREAT, 0o600)
out["splice"] = [sc(275, pr, None, dst, None, 20, 1 | 4), pr, dst]          # MOVE|MORE

# -- generic: a syscall without a dedicated program
out["getppid"] = [sc(110), 110]

# -- the rest of the list: legacy open, eventfd, inotify_init, lchown, set*id, clone3, execveat
out["open"] = sc(2, B(j("op-" + m)), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o620)
st = os.fstat(out["open"])
out["open_st"] = [st.st_dev, st.st_ino]
out["eventfd"] = sc(284, 7)
out["inotify"] = sc(253)
out["lchown"] = sc(94, B(j("sl-" + m)), 5555, 6666)
out["setuid"] = sc(105, 0)
out["setgid"] = sc(106, 0)
out["setreuid"] = sc(113, -1, -1)
out["setregid"] = sc(114, -1, -1)
out["setresgid"] = sc(119, -1, -1, -1)
cargs = ctypes.create_string_buffer(struct.pack("11Q", 0, 0, 0, 0, signal.SIGCHLD, 0, 0, 0, 0, 0, 0), 88)
c3 = sc(435, cargs, 88)
if c3 == 0:
    os._exit(5)
os.waitpid(c3, 0)
out["clone3"] = c3
bin_fd = os.open("/bin", os.O_RDONLY | os.O_DIRECTORY)
argv = (ctypes.c_char_p * 3)(B("xa0-" + m), b"xa1", None)
envp = (ctypes.c_char_p * 2)(B("XE=" + m), None)
out["execveat_fail"] = sc(322, bin_fd, B("no-such-" + m), argv, envp, 0)
ex = os.fork()
if ex == 0:
    sc(322, bin_fd, b"true", argv, envp, 0)
    os._exit(99)
out["execveat_child"] = ex
out["execveat_status"] = os.waitpid(ex, 0)[1]

# -- capset last (it changes our capabilities): first a bad version, then a real change
class Hdr(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]
def caps():
    s = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
    return [int(s["CapInh"], 16), int(s["CapPrm"], 16), int(s["CapEff"], 16)]
h, d = Hdr(0x20080522, 0), (Data * 2)()
sc(125, ref(h), d)
out["caps_before"] = caps()
out["capset_fail"] = sc(126, ref(Hdr(0x1234, 0)), d)
d[0].effective &= ~(1 << 22)        # drop CAP_SYS_BOOT from the effective set
d[0].inheritable |= 1 << 5           # add CAP_KILL to the inheritable set
out["capset"] = sc(126, ref(h), d)
out["caps_after"] = caps()
print(json.dumps(out), flush=True)
"""


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """(report, events of the workload and its children, marker, tmp dir)."""
    return capture_workload(tmp_path_factory, "drv2", WORKLOAD,
                            ("pid", "ns_child", "tracee", "clone3", "execveat_child"))


def raw_of(events, code, pid):
    return [e for e in events if e.type == getattr(PPME, code) and e.tid == pid]


def flag(table: str, *names: str) -> int:
    """The PPM value of flags `names` in the schema's flag table `table`."""
    values = dict(FLAG_TABLES[table])
    return sum(values[n] for n in names)


def test_open_family(capture):
    report, events, marker, tmp = capture
    pid, dfd = report["pid"], report["dfd"]
    fd, dev, ino = report["openat2"]
    assert fd >= 0
    assert of(events, "SYSCALL_OPENAT2_X", pid, fd=fd) == [{
        "fd": fd, "dirfd": dfd, "name": f"o2-{marker}",
        "flags": flag("file_flags", "O_WRONLY", "O_CREAT", "O_CLOEXEC", "O_F_CREATED"),
        "mode": 0o640, "resolve": flag("openat2_flags", "RESOLVE_BENEATH", "RESOLVE_NO_SYMLINKS"),
        "dev": dev, "ino": ino}]
    bad = report["openat2_fail"]
    assert bad < 0
    assert of(events, "SYSCALL_OPENAT2_X", pid, fd=bad) == [{
        "fd": bad, "dirfd": dfd, "name": f"../x-{marker}", "flags": flag("file_flags", "O_RDONLY"),
        "mode": 0, "resolve": flag("openat2_flags", "RESOLVE_BENEATH", "RESOLVE_IN_ROOT"),
        "dev": 0, "ino": 0}]
    cfd, dev, ino = report["creat"]
    assert of(events, "SYSCALL_CREAT_X", pid) == [{
        "fd": cfd, "name": str(tmp / f"c-{marker}"), "mode": 0o604, "dev": dev, "ino": ino,
        "creat_flags": 0}]
    res, r, w, ino = report["pipe"]
    assert of(events, "SYSCALL_PIPE_X", pid) == [{"res": res, "fd1": r, "fd2": w, "ino": ino}]
    assert res == 0


def test_signalfd_userfaultfd(capture):
    report, events, marker, tmp = capture
    pid = report["pid"]
    assert report["signalfd"] >= 0 and report["signalfd4"] >= 0
    # mask: the first 32 signals of the set passed (upstream leaves it 0)
    assert of(events, "SYSCALL_SIGNALFD_X", pid) == [
        {"res": report["signalfd"], "fd": -1, "mask": report["sigmask"], "flags": 0}]
    assert of(events, "SYSCALL_SIGNALFD4_X", pid) == [
        {"res": report["signalfd4"], "flags": flag("file_flags", "O_CLOEXEC", "O_NONBLOCK"),
         "fd": -1, "mask": report["sigmask"]},
        {"res": report["signalfd4_fail"], "flags": 0, "fd": 1000000, "mask": report["sigmask"]}]
    # flags: the raw userfaultfd(2) flags, as both upstream drivers send them
    assert of(events, "SYSCALL_USERFAULTFD_X", pid) == [
        {"res": report["uffd"], "flags": report["uffd_flags"]}]


def test_accept_server_side(capture):
    report, events, marker, tmp = capture
    pid = report["pid"]
    lfd, lport, backlog = report["listener"]
    fd, cport = report["accept"]
    assert fd >= 0
    (a,) = of(events, "SOCKET_ACCEPT_5_X", pid)
    t = a.pop("tuple")
    assert (t.family, t.sip, t.sport, t.dip, t.dport) == (2, "127.0.0.1", cport, "127.0.0.1", lport)
    # two connections were pending: one is left in the listener's queue
    assert a == {"fd": fd, "queuepct": 100 // backlog, "queuelen": 1, "queuemax": backlog}
    fd4, cport4 = report["accept4"]
    ok, bad = of(events, "SOCKET_ACCEPT4_6_X", pid)
    t = ok.pop("tuple")
    assert (t.family, t.sip, t.sport, t.dip, t.dport) == (2, "127.0.0.1", cport4, "127.0.0.1", lport)
    assert ok == {"fd": fd4, "queuepct": 0, "queuelen": 0, "queuemax": backlog,
                  "flags": flag("file_flags", "O_CLOEXEC", "O_NONBLOCK")}
    # a failed accept carries no tuple and no queue figures (as upstream)
    assert bad == {"fd": report["accept4_fail"], "tuple": None, "queuepct": 0, "queuelen": 0,
                   "queuemax": 0, "flags": 0}
    assert report["accept4_fail"] < 0


def test_at_filesystem_calls(capture):
    report, events, marker, tmp = capture
    pid, d = report["pid"], report["dfd"]
    n = lambda s: f"{s}-{marker}"
    assert of(events, "SYSCALL_MKDIRAT_X", pid) == [
        {"res": report["mkdirat"], "dirfd": d, "path": n("da"), "mode": 0o711}]
    assert of(events, "SYSCALL_RENAMEAT_X", pid) == [
        {"res": report["renameat"], "olddirfd": d, "oldpath": n("c"), "newdirfd": d,
         "newpath": n("c2")}]
    noreplace = flag("renameat2_flags", "RENAME_NOREPLACE")
    assert of(events, "SYSCALL_RENAMEAT2_X", pid) == [
        {"res": report["renameat2"], "olddirfd": d, "oldpath": n("c2"), "newdirfd": d,
         "newpath": n("c3"), "flags": noreplace},
        {"res": report["renameat2_fail"], "olddirfd": d, "oldpath": n("c3"), "newdirfd": d,
         "newpath": n("o2"), "flags": noreplace}]
    assert report["renameat2_fail"] < 0
    assert of(events, "SYSCALL_LINKAT_2_X", pid) == [
        {"res": report["linkat"], "olddir": d, "oldpath": n("c3"), "newdir": d, "newpath": n("l"),
         "flags": flag("linkat_flags", "AT_SYMLINK_FOLLOW")}]
    assert of(events, "SYSCALL_SYMLINKAT_X", pid) == [
        {"res": report["symlinkat"], "target": n("tgt"), "linkdirfd": d, "linkpath": n("sl")}]
    assert of(events, "SYSCALL_FCHMODAT_X", pid) == [
        {"res": report["fchmodat"], "dirfd": d, "filename": n("c3"), "mode": 0o4750}]
    assert of(events, "SYSCALL_FCHOWNAT_X", pid) == [
        {"res": report["fchownat"], "dirfd": d, "pathname": n("sl"), "uid": 1111, "gid": 2222,
         "flags": flag("fchownat_flags", "AT_SYMLINK_NOFOLLOW")}]
    assert of(events, "SYSCALL_UNLINKAT_2_X", pid) == [
        {"res": report["unlinkat"], "dirfd": d, "name": n("l"), "flags": 0},
        {"res": report["unlinkat_dir"], "dirfd": d, "name": n("da"),
         "flags": flag("unlinkat_flags", "AT_REMOVEDIR")}]
    cfd = report["creat"][0]
    assert of(events, "SYSCALL_FCHMOD_X", pid) == [{"res": report["fchmod"], "fd": cfd, "mode": 0o1640}]
    assert of(events, "SYSCALL_FCHOWN_X", pid) == [
        {"res": report["fchown"], "fd": cfd, "uid": 3333, "gid": 4444}]
    assert of(events, "SYSCALL_FCHDIR_X", pid) == [{"res": report["fchdir"], "fd": d}]
    for k in ("mkdirat", "renameat", "renameat2", "linkat", "symlinkat", "fchmodat", "fchownat",
              "unlinkat", "unlinkat_dir", "fchmod", "fchown", "fchdir"):
        assert report[k] == 0, k


def test_namespaces_mount_chroot(capture):
    report, events, marker, tmp = capture
    child, ns = report["ns_child"], report["ns"]
    assert all(v == 0 for v in ns.values()), ns
    assert of(events, "SYSCALL_UNSHARE_X", child) == [
        {"res": 0, "flags": flag("clone_flags", "CLONE_NEWNS", "CLONE_NEWUTS")}]
    mnt = str(tmp / f"mnt-{marker}")
    assert of(events, "SYSCALL_MOUNT_X", child) == [
        {"res": 0, "dev": None, "dir": "/", "type": None, "flags": flag("mount_flags", "REC", "PRIVATE")},
        {"res": 0, "dev": f"none-{marker}", "dir": mnt, "type": "tmpfs",
         "flags": flag("mount_flags", "NOSUID", "NODEV")}]
    assert of(events, "SYSCALL_UMOUNT2_X", child) == [
        {"res": 0, "name": mnt, "flags": flag("umount_flags", "DETACH")}]
    assert of(events, "SYSCALL_SETNS_X", child) == [
        {"res": 0, "fd": report["uts_fd"], "nstype": flag("clone_flags", "CLONE_NEWUTS")}]
    assert of(events, "SYSCALL_CHROOT_X", child) == [
        {"res": 0, "path": str(tmp / f"root-{marker}")}]


def dyn(evt: Event, name: str) -> bytes:
    return evt.raw_param(evt.param_index(name))


def test_ptrace(capture):
    report, events, marker, tmp = capture
    pid, tr, addr = report["pid"], report["tracee"], report["buf_addr"]
    req = dict(FLAG_TABLES["ptrace_requests"])
    evts = raw_of(events, "SYSCALL_PTRACE_X", pid)
    got = [(P(e)["res"], P(e)["request"], P(e)["pid"], dyn(e, "addr"), dyn(e, "data")) for e in evts]
    u64 = lambda v: b"\0" + struct.pack("<Q", v)  # PPM_PTRACE_IDX_UINT64
    sig = lambda v: b"\1" + struct.pack("<B", v)  # PPM_PTRACE_IDX_SIGTYPE
    expected_word = int.from_bytes(f"pv-{marker}".ljust(32, "x").encode()[:8], "little")
    assert report["peek_word"] == expected_word
    assert got == [
        (report["attach"], req["PTRACE_ATTACH"], tr, u64(0), u64(0)),
        (report["peek"], req["PTRACE_PEEKDATA"], tr, u64(addr), u64(report["peek_word"])),
        (report["detach"], req["PTRACE_DETACH"], tr, u64(0), sig(0)),
        # a failed call carries 0 for addr and data (as upstream)
        (report["peek_fail"], req["PTRACE_PEEKDATA"], tr, u64(0), u64(0)),
    ]
    assert report["attach"] == report["peek"] == report["detach"] == 0 and report["peek_fail"] < 0


def test_process_vm(capture):
    report, events, marker, tmp = capture
    pid, tr = report["pid"], report["tracee"]
    assert report["vm_readv"] == 32 and report["vm_writev"] == 24
    assert of(events, "SYSCALL_PROCESS_VM_READV_X", pid) == [
        {"res": 32, "pid": tr, "data": bytes.fromhex(report["vm_read"])}]
    assert bytes.fromhex(report["vm_read"]) == f"pv-{marker}".ljust(32, "x").encode()
    assert of(events, "SYSCALL_PROCESS_VM_WRITEV_X", pid) == [
        {"res": 24, "pid": tr, "data": bytes.fromhex(report["vm_written"])}]


def test_modules_bpf_memory_signals(capture):
    report, events, marker, tmp = capture
    pid = report["pid"]
    img = bytes.fromhex(report["img"])
    assert report["init_module"] < 0 and report["finit_module"] < 0
    # img: the whole image (upstream does not cut it to the I/O snaplen)
    assert of(events, "SYSCALL_INIT_MODULE_X", pid) == [
        {"res": report["init_module"], "img": img, "length": len(img), "uargs": f"p={marker}"}]
    assert of(events, "SYSCALL_FINIT_MODULE_X", pid) == [
        {"res": report["finit_module"], "fd": report["finit_fd"], "uargs": f"q={marker}",
         "flags": flag("finit_module_flags", "MODULE_INIT_IGNORE_VERMAGIC")}]
    cmds = dict(FLAG_TABLES["bpf_commands"])
    assert report["bpf"] >= 0 and report["bpf_fail"] < 0 and report["bpf_cmd9"] < 0
    assert of(events, "SYSCALL_BPF_2_X", pid) == [
        {"fd": report["bpf"], "cmd": cmds["BPF_MAP_CREATE"]},
        {"fd": report["bpf_fail"], "cmd": cmds["BPF_MAP_CREATE"]},
        {"fd": report["bpf_cmd9"], "cmd": cmds["BPF_PROG_DETACH"]}]
    area = report["area"]
    assert of(events, "SYSCALL_MPROTECT_X", pid, addr=area) == [
        {"res": 0, "addr": area, "length": 4096, "prot": flag("prot_flags", "PROT_READ")}]
    assert of(events, "SYSCALL_MPROTECT_X", pid, addr=area + 1) == [
        {"res": report["mprotect_fail"], "addr": area + 1, "length": 4096,
         "prot": flag("prot_flags", "PROT_READ", "PROT_EXEC")}]
    assert report["mprotect_fail"] < 0
    assert of(events, "SYSCALL_TGKILL_X", pid) == [
        {"res": 0, "pid": pid, "tid": report["tid"], "sig": 10},
        {"res": report["tgkill_fail"], "pid": pid, "tid": 0x3fffffff, "sig": 0}]
    assert report["tgkill"] == 0 and report["tgkill_fail"] < 0


def test_io_uring_sendfile_splice(capture):
    report, events, marker, tmp = capture
    pid = report["pid"]
    sq, cq, flags, cpu, idle, feats = report["io_uring_params"]
    (io,) = of(events, "SYSCALL_IO_URING_SETUP_X", pid)
    assert io["res"] == report["io_uring"] and io["entries"] == 4
    assert io["flags"] == flag("io_uring_setup_flags", "IORING_SETUP_CQSIZE")
    if report["io_uring"] >= 0:  # (io_uring may be disabled by sysctl: the call fails)
        assert (io["sq_entries"], io["cq_entries"]) == (sq, cq) == (4, 16)
        # the first eleven IORING_FEAT_* bits are the PPM ones
        assert io["features"] == feats & 0x7FF and feats & 1
        assert (io["sq_thread_cpu"], io["sq_thread_idle"]) == (cpu, idle)
    res, off, out_fd, in_fd = report["sendfile"]
    assert res == 20 and off == 23
    # offset: *offset as the kernel left it at exit (as upstream reads it)
    assert of(events, "SYSCALL_SENDFILE_X", pid) == [
        {"res": 20, "offset": off, "out_fd": out_fd, "in_fd": in_fd, "size": 20}]
    res, fd_in, fd_out = report["splice"]
    assert res == 20
    assert of(events, "SYSCALL_SPLICE_X", pid) == [
        {"res": 20, "fd_in": fd_in, "fd_out": fd_out, "size": 20,
         "flags": flag("splice_flags", "SPLICE_F_MOVE", "SPLICE_F_MORE")}]


def test_capset(capture):
    report, events, marker, tmp = capture
    pid = report["pid"]
    inh, prm, eff = report["caps_before"]
    inh2, prm2, eff2 = report["caps_after"]
    assert report["capset_fail"] < 0 and report["capset"] == 0
    assert eff2 == eff & ~(1 << 22) and inh2 == inh | (1 << 5)
    assert of(events, "SYSCALL_CAPSET_X", pid) == [
        {"res": report["capset_fail"], "cap_inheritable": inh, "cap_permitted": prm,
         "cap_effective": eff},
        {"res": 0, "cap_inheritable": inh2, "cap_permitted": prm2, "cap_effective": eff2}]


def test_generic_event_for_a_syscall_without_a_program(capture):
    report, events, marker, tmp = capture
    pid = report["pid"]
    assert "getppid" not in EXIT_PROGRAMS
    res, nr = report["getppid"]
    assert res == os.getpid() and SYSCALLS_X86_64[nr].name == "getppid"
    code = {name: c for c, name in PPM_SC_NAMES.items()}["getppid"]
    gen = of(events, "GENERIC_X", pid, nativeID=nr)
    assert gen == [{"ID": code, "nativeID": nr}]


def test_open_eventfd_inotify_lchown_setids(capture):
    report, events, marker, tmp = capture
    pid = report["pid"]
    fd = report["open"]
    dev, ino = report["open_st"]
    assert fd >= 0
    assert of(events, "SYSCALL_OPEN_X", pid, fd=fd) == [{
        "fd": fd, "name": str(tmp / f"op-{marker}"),
        "flags": flag("file_flags", "O_RDWR", "O_CREAT", "O_EXCL", "O_F_CREATED"),
        "mode": 0o620, "dev": dev, "ino": ino}]
    assert of(events, "SYSCALL_EVENTFD_X", pid) == [
        {"res": report["eventfd"], "initval": 7, "flags": 0}]
    assert of(events, "SYSCALL_INOTIFY_INIT_X", pid) == [{"res": report["inotify"], "flags": 0}]
    assert report["eventfd"] >= 0 and report["inotify"] >= 0
    assert of(events, "SYSCALL_LCHOWN_X", pid) == [
        {"res": 0, "path": str(tmp / f"sl-{marker}"), "uid": 5555, "gid": 6666}]
    none = 0xFFFFFFFF
    assert of(events, "SYSCALL_SETUID_X", pid) == [{"res": report["setuid"], "uid": 0}]
    assert of(events, "SYSCALL_SETGID_X", pid) == [{"res": report["setgid"], "gid": 0}]
    assert of(events, "SYSCALL_SETREUID_X", pid) == [
        {"res": report["setreuid"], "ruid": none, "euid": none}]
    assert of(events, "SYSCALL_SETREGID_X", pid) == [
        {"res": report["setregid"], "rgid": none, "egid": none}]
    assert of(events, "SYSCALL_SETRESGID_X", pid) == [
        {"res": report["setresgid"], "rgid": none, "egid": none, "sgid": none}]
    assert all(report[k] == 0 for k in ("lchown", "setuid", "setgid", "setreuid", "setregid",
                                         "setresgid"))


def test_clone3_both_sides(capture):
    report, events, marker, tmp = capture
    pid, child = report["pid"], report["clone3"]
    assert child > 0
    (parent,) = of(events, "SYSCALL_CLONE3_X", pid)
    (ch,) = of(events, "SYSCALL_CLONE3_X", child)
    assert parent["res"] == child and ch["res"] == 0
    assert (ch["tid"], ch["pid"], ch["ptid"]) == (child, child, pid)
    assert (parent["tid"], parent["pid"]) == (pid, pid)
    assert parent["flags"] == ch["flags"] == 0  # clone_args.flags 0 (exit_signal is not a flag)
    assert ch["exe"] == parent["exe"] == sys.executable and ch["cwd"] == str(tmp)
    exits = {e.tid: P(e) for e in events if e.type == PPME.PROCEXIT_1_E}
    assert exits[child]["ret"] == 5


def test_execveat_failed_and_successful(capture):
    report, events, marker, tmp = capture
    pid, child = report["pid"], report["execveat_child"]
    (bad,) = of(events, "SYSCALL_EXECVEAT_X", pid)
    assert bad["res"] == report["execveat_fail"] < 0
    assert (bad["exe"], bad["args"]) == (f"xa0-{marker}", b"xa1\0")
    assert bad["env"] == f"XE={marker}\0".encode()
    assert (bad["tid"], bad["pid"]) == (pid, pid) and bad["cwd"] == str(tmp)
    assert report["execveat_status"] == 0  # /bin/true ran
    # a successful execveat is reported, as upstream, by the execve exit event
    (ok,) = of(events, "SYSCALL_EXECVE_19_X", child, res=0)
    assert (ok["exe"], ok["args"], ok["env"]) == (f"xa0-{marker}", b"xa1\0", f"XE={marker}\0".encode())
    assert ok["comm"] == "true" and ok["tid"] == child and ok["ptid"] == pid
    assert ok["trusted_exepath"] == os.path.realpath("/bin/true")
    assert not of(events, "SYSCALL_EXECVEAT_X", child)
