"""base_syscalls (custom_set, repair, all) as upstream's configure_interesting_sets,
from the event table's flags and categories."""

from __future__ import annotations

import logging

import pytest

from falco.interesting_sets import ignored_sc_set, repair_state_sc_set, select_syscalls, state_sc_set

#: what falco prints for `falco -i` (high-volume I/O not in the state set) on x86_64
UPSTREAM_IGNORED = {"pread64", "preadv", "pwrite64", "pwritev", "read", "readv", "recv", "send",
                    "sendfile", "write", "writev"}
#: process state syscalls libsinsp's repair set always holds (with the 32-bit variants' names)
REPAIR_BASE = {"clone", "clone3", "fork", "vfork", "execve", "execveat", "fchdir", "chdir", "chroot",
               "capset", "setgid", "setpgid", "setresgid", "setresuid", "setsid", "setuid", "prctl",
               "setgid32", "setresgid32", "setresuid32", "setuid32"}


def test_state_and_ignored_sets() -> None:
    state = state_sc_set()
    assert {"execve", "clone", "openat", "close", "connect", "accept4", "dup2", "fcntl", "chdir",
            "setuid", "prlimit64", "socket", "pipe2"} <= state
    assert not {"read", "write", "getppid", "mprotect", "nanosleep", "kill"} & state
    assert ignored_sc_set() == UPSTREAM_IGNORED


def test_default_is_rules_plus_state_without_high_volume(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="falco"):
        sel = select_syscalls({"mprotect", "read", "execve"})
    assert sel == (state_sc_set() | {"mprotect"})
    assert "unsupported-evttype): read" in caplog.text


def test_all_keeps_high_volume_syscalls_of_rules_only() -> None:
    sel = select_syscalls({"read"}, all_syscalls=True)
    assert sel == state_sc_set() | {"read"} and "write" not in sel


def test_custom_set_replaces_the_state_set_and_negatives_remove() -> None:
    assert select_syscalls({"execve"}, ["openat", "close"]) == {"execve", "openat", "close"}
    assert select_syscalls({"execve"}, ["!close", "!execve"]) == state_sc_set() - {"close", "execve"}


def test_repair_without_custom_set_adds_only_what_the_rules_need() -> None:
    assert select_syscalls({"connect"}, repair=True) == REPAIR_BASE | {"connect", "socket", "getsockopt", "close"}
    assert select_syscalls({"accept4"}, repair=True) >= {"bind", "socket", "close"}
    assert select_syscalls({"openat"}, repair=True) == REPAIR_BASE | {"openat", "close"}
    assert select_syscalls({"kill"}, repair=True) == REPAIR_BASE | {"kill"}


def test_repair_with_custom_set_repairs_the_result() -> None:
    sel = select_syscalls({"kill"}, ["openat", "!execve"], repair=True)
    assert sel == REPAIR_BASE | {"kill", "openat", "close"}  # execve comes back: state needs it
    assert repair_state_sc_set({"listen"}) >= {"bind", "socket", "getsockopt", "close"}


def test_unknown_names_are_warned_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="falco"):
        assert select_syscalls({"execve"}, ["openat", "nosuchcall", "!alsonot"]) == {"execve", "openat"}
    assert "Invalid (positive) syscall names: warning (base_syscalls override): nosuchcall" in caplog.text
    assert "Invalid (negative) syscall names: warning (base_syscalls override): alsonot" in caplog.text
