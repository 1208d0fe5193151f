"""Least privilege for the live agent: once the probe is loaded and attached,
falco keeps only the capabilities it still needs and drops the rest from its
effective, permitted, inheritable, ambient and bounding sets.

Kept after attach (``KEEP``):

- CAP_SYS_PTRACE: reading /proc/<pid> of processes first seen after start
  (exe, cwd, fds) to repair thread state;
- CAP_BPF: updating the probe's maps after start (the kernel syscall filter is
  rewritten by a SIGHUP reload);
- CAP_NET_BIND_SERVICE only when the webserver is configured on a port < 1024.

Everything else — CAP_PERFMON and CAP_SYS_RESOURCE (only needed to attach and to
size the ring buffers), CAP_SYS_ADMIN, CAP_DAC_OVERRIDE, CAP_SETUID... — is gone
for good (not even root's exec of a child gets it back: the bounding set is
reduced too). Capabilities are per thread in Linux: the drop applies to the
calling thread, and falco calls it before any other thread is started; threads
started later inherit the reduced sets.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading

log = logging.getLogger("falco")

CAP_NAMES = (
    "chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap linux_immutable "
    "net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner sys_module sys_rawio sys_chroot "
    "sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource sys_time sys_tty_config mknod lease "
    "audit_write audit_control setfcap mac_override mac_admin syslog wake_alarm block_suspend audit_read "
    "perfmon bpf checkpoint_restore").split()
CAP = {f"CAP_{n.upper()}": i for i, n in enumerate(CAP_NAMES)}
KEEP = ("CAP_SYS_PTRACE", "CAP_BPF")

_LINUX_CAPABILITY_VERSION_3 = 0x20080522
PR_CAPBSET_READ, PR_CAPBSET_DROP = 23, 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def read_caps(pid: int | str = "self") -> dict[str, int]:
    """CapInh/CapPrm/CapEff/CapBnd/CapAmb of ``/proc/<pid>/status`` as integers."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Cap"):
                key, value = line.split(":", 1)
                out[key] = int(value.strip(), 16)
    return out


def names(mask: int) -> list[str]:
    """``CAP_*`` names of the bits of ``mask``."""
    return [f"CAP_{n.upper()}" for i, n in enumerate(CAP_NAMES) if mask >> i & 1]


def _mask(caps: list[str] | tuple[str, ...]) -> int:
    return sum(1 << CAP[c] for c in caps)


def drop_to(keep: list[str] | tuple[str, ...]) -> tuple[int, int]:
    """Keep only ``keep`` (those of them the thread has); returns (CapEff before, after).
    Raises OSError if the kernel refuses."""
    before = read_caps("thread-self")["CapEff"]
    mask = _mask(keep) & read_caps("thread-self")["CapPrm"]
    # the bounding set first: dropping from it needs CAP_SETPCAP, which goes next
    if before >> CAP["CAP_SETPCAP"] & 1:
        for i in range(len(CAP_NAMES)):
            if not mask >> i & 1 and _libc.prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1:
                if _libc.prctl(PR_CAPBSET_DROP, i, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), f"PR_CAPBSET_DROP {CAP_NAMES[i]}")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)  # EINVAL on old kernels: nothing to clear
    hdr = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    for k in range(2):
        part = (mask >> (32 * k)) & 0xFFFFFFFF
        data[k].effective = data[k].permitted = part
        data[k].inheritable = 0
    if _libc.syscall(126, ctypes.byref(hdr), data) != 0:  # SYS_capset (x86_64)
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")
    return before, read_caps("thread-self")["CapEff"]


def drop_after_attach(webserver_port: int | None = None) -> None:
    """What falco calls once the probe is attached (live capture only)."""
    keep = list(KEEP) + (["CAP_NET_BIND_SERVICE"] if webserver_port is not None and webserver_port < 1024 else [])
    try:
        before, after = drop_to(keep)
    except OSError as e:
        log.warning("Could not drop capabilities after attaching the probe: %s", e)
        return
    log.info("Capabilities dropped after attaching the probe: effective %s -> %s", f"{before:#x}", f"{after:#x}")
    log.debug("Capabilities kept: %s", ", ".join(names(after)) or "none")
    me = threading.get_native_id()
    others = [t for t in os.listdir("/proc/self/task") if int(t) != me
              and read_caps(f"self/task/{t}")["CapEff"] & ~after]
    if others:
        log.warning("Threads started before the drop keep their capabilities: %s", ", ".join(others))
