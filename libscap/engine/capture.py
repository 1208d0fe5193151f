"""`libscap capture`: write live events to a .scap file (the command line is in libscap.cli).

    python -m libscap capture -w FILE [-M SECONDS] [-n COUNT] [-- command args]

Capture stops at the first of: SECONDS elapsed, COUNT events written, the
command exited (when one is given), or Ctrl-C.

As upstream, the file starts with the state the events need to make sense
(machine info, users and groups, every thread, every process's fds), read from
/proc and /etc by libscap.proc_scan just before the probe is attached, so a
replay is self-contained.

fd types newer than sysdig 0.29's libs (bpf, userfaultfd, io_uring, memfd,
pidfd: SCAP_FD_BPF..SCAP_FD_PIDFD) make that reader refuse the whole file
("wrong fd type"), so by default they are written as the libs of that time
classified them: memfd as a file (SCAP_FD_FILE_V2), the others as
SCAP_FD_UNSUPPORTED named by their link (``anon_inode:bpf-map``...). Only the
fd type of fds open before the capture is lost; ``legacy_fd_types=False``
writes today's types, which current libs reads."""

from __future__ import annotations

import dataclasses
import subprocess
import time

from libscap import proc_scan
from libscap.engine.modern_bpf import ModernBpfEngine
from libscap.savefile import CaptureWriter
from libscap.savefile import blocks as B

#: Link names of the anonymous-inode types sysdig 0.29 does not know (see the module doc).
_LEGACY_NAMES = {B.SCAP_FD_BPF: "anon_inode:bpf", B.SCAP_FD_USERFAULTFD: "anon_inode:[userfaultfd]",
                 B.SCAP_FD_IOURING: "anon_inode:[io_uring]", B.SCAP_FD_PIDFD: "anon_inode:[pidfd]"}


def legacy_fd(fd: B.FdInfo) -> B.FdInfo:
    """``fd`` as a libs of 2022 (sysdig 0.29) would have classified it."""
    if fd.type == B.SCAP_FD_MEMFD:
        return dataclasses.replace(fd, type=B.SCAP_FD_FILE_V2)
    if fd.type in _LEGACY_NAMES:
        return dataclasses.replace(fd, type=B.SCAP_FD_UNSUPPORTED, name=fd.name or _LEGACY_NAMES[fd.type])
    return fd


def write_initial_state(writer: CaptureWriter, proc: str = "/proc", etc: str = "/etc",
                        legacy_fd_types: bool = True) -> None:
    """Machine info, users/groups, process list and one fd list per process, in upstream's order."""
    writer.write_machine_info(proc_scan.machine_info(proc))
    writer.write_users(*proc_scan.scan_users(etc))
    processes = proc_scan.scan_processes(proc)
    writer.write_processes(processes)
    for pid, fds in proc_scan.scan_all_fds(processes, proc).items():
        if fds:
            writer.write_fds(pid, [legacy_fd(f) for f in fds] if legacy_fd_types else fds)


def capture(path: str, seconds: float | None = None, count: int | None = None,
            command: list[str] | None = None, engine: ModernBpfEngine | None = None,
            legacy_fd_types: bool = True) -> int:
    """Capture into path; returns the number of events written."""
    eng = engine or ModernBpfEngine()
    own = engine is None
    written = 0
    if own:
        eng.open()
    try:
        with CaptureWriter(path) as writer:
            write_initial_state(writer, legacy_fd_types=legacy_fd_types)
            eng.start()
            proc = subprocess.Popen(command) if command else None
            deadline = time.monotonic() + seconds if seconds is not None else None
            try:
                while True:
                    done = ((proc is not None and proc.poll() is not None)
                            or (deadline is not None and time.monotonic() >= deadline))
                    if done:
                        eng.stop()  # then drain what is already buffered
                    batch = eng.next_batch(timeout_ms=0 if done else 50)
                    if count is not None:
                        batch = batch[:count - written]
                    writer.write_events(batch)
                    written += len(batch)
                    if (count is not None and written >= count) or (done and not batch):
                        break
            except KeyboardInterrupt:
                pass
            finally:
                eng.stop()
                if proc is not None:
                    proc.wait()
    finally:
        if own:
            eng.close()
    return written

