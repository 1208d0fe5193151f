"""Build helpers for the small BPF programs the pybpf tests load.

Programs are compiled at test time, libbpf-bootstrap style: vmlinux.h is
generated from the running kernel's BTF with bpftool, then
`clang -O2 -g -target bpf`. Missing clang/bpftool is a failure, not a skip
(they are build dependencies); only a kernel that refuses BPF is a skip.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")
_ARCH = {"x86_64": "x86", "aarch64": "arm64", "s390x": "s390", "ppc64le": "powerpc"}
#: getppid syscall number per machine (the test programs filter on it).
GETPPID_NR = {"x86_64": 110, "aarch64": 173, "s390x": 64, "ppc64le": 64}
#: Kernel function behind getppid(2), for kprobes.
GETPPID_FUNC = {"x86_64": "__x64_sys_getppid", "aarch64": "__arm64_sys_getppid",
                "s390x": "__s390x_sys_getppid", "ppc64le": "sys_getppid"}


def bpf_refused_reason() -> str | None:
    """Why the kernel cannot run the tests (no BTF, bpf() refused), or None."""
    if not VMLINUX_BTF.exists():
        return f"kernel has no BTF ({VMLINUX_BTF} missing)"
    import bpf

    try:
        bpf.map_type_supported(bpf.MapType.ARRAY)
    except bpf.BpfError as exc:
        return f"kernel refuses BPF: {exc}"
    return None


def compile_progs(out_dir: Path) -> dict[str, Path]:
    """Compile every tests/bpf_progs/*.bpf.c into out_dir; returns name -> object."""
    out_dir.mkdir(parents=True, exist_ok=True)
    header = out_dir / "vmlinux.h"
    with open(header, "wb") as f:
        subprocess.run(["bpftool", "btf", "dump", "file", str(VMLINUX_BTF), "format", "c"],
                       stdout=f, check=True)
    machine = platform.machine()
    objects = {}
    for src in sorted(HERE.glob("*.bpf.c")):
        obj = out_dir / (src.name[:-len(".c")] + ".o")
        subprocess.run(["clang", "-O2", "-g", "-target", "bpf", "-mcpu=v3",
                        f"-D__TARGET_ARCH_{_ARCH[machine]}",
                        f"-DGETPPID_NR={GETPPID_NR[machine]}",
                        "-I", str(out_dir), "-c", str(src), "-o", str(obj)],
                       check=True)
        objects[src.name[:-len(".bpf.c")]] = obj
    return objects


def open_fds() -> set[str]:
    """This process's open file descriptors."""
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture(scope="session")
def progs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The compiled test programs; skips (saying why) only if the kernel refuses BPF."""
    reason = bpf_refused_reason()
    if reason:
        pytest.skip(reason)
    return compile_progs(tmp_path_factory.mktemp("bpf_progs"))


def fdinfo(fd: int) -> dict[str, str]:
    """The kernel's view of a BPF fd (/proc/self/fdinfo: map_id, max_entries, ...)."""
    lines = Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)
