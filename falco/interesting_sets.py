"""Which syscalls the kernel probe captures: upstream Falco's
configure_interesting_sets over libsinsp's syscall sets.

The sets are computed from the event table (libscap.schema), as libsinsp does:

- state set: syscalls of the events flagged EF_MODIFIES_STATE, plus the
  syscalls flagged UF_NEVER_DROP (what the thread/fd tables need);
- I/O set: syscalls of EC_IO_READ/EC_IO_WRITE events; the *ignored* set is the
  I/O set minus the state set (high-volume syscalls, only with
  ``base_syscalls.all`` / ``-A``);
- repair set: the process-state syscalls plus socket/getsockopt, bind and
  close as the given set needs them (``base_syscalls.repair``).

``select_syscalls`` combines them as upstream: rules' syscalls + base set
(the state set, or the positive names of ``base_syscalls.custom_set``), or the
repair set of the rules' syscalls; minus the ``!name`` entries; minus the
ignored set unless ``all``; repaired again when ``repair`` is set with a
custom set. Event names of the table map to the syscall of the same name, or of
the name in ``EVENT_SYSCALLS``, which is exact on x86_64 (the only syscall table
here). The process-exit tracepoint
is always attached by the probe, so it is not part of these sets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import cache

from libscap.schema import EC, EF, EVENTS, PPM_SC_NAMES, SYSCALLS_X86_64, UF

log = logging.getLogger("falco")

SYSCALL_NAMES: frozenset[str] = frozenset(n for n in PPM_SC_NAMES.values() if n and n != "unknown")
#: events named otherwise than their syscall
EVENT_SYSCALLS = {"pread": "pread64", "pwrite": "pwrite64", "prlimit": "prlimit64", "llseek": "_llseek"}
#: the syscall category of an event is the part of its category below EC_SYSCALL
_CATEGORY_MASK = EC.SYSCALL - 1
#: syscalls that build or change the process (tinfo) state: always in the repair set
_REPAIR_BASE = frozenset((
    "clone clone3 fork vfork execve execveat fchdir chdir chroot capset setgid setgid32 setpgid "
    "setresgid setresgid32 setresuid setresuid32 setsid setuid setuid32 prctl").split()) & SYSCALL_NAMES


def _syscalls_of_events(keep: Callable[[int, int], bool]) -> frozenset[str]:
    """Syscalls of the events (from the third on: the first two are the generic
    event) whose ``(category, flags)`` pass ``keep``."""
    names = (EVENT_SYSCALLS.get(e.name, e.name) for e in EVENTS[2:] if keep(e.category, e.flags))
    return frozenset(n for n in names if n in SYSCALL_NAMES)


def _category(*cats: EC) -> frozenset[str]:
    return _syscalls_of_events(lambda c, _f: c & _CATEGORY_MASK in cats)


@cache
def state_sc_set() -> frozenset[str]:
    """libsinsp's sinsp_state_sc_set: what state tracking needs whatever the rules."""
    modifies = _syscalls_of_events(
        lambda c, f: bool(f & EF.MODIFIES_STATE) and bool(c & (EC.SYSCALL | EC.TRACEPOINT)))
    never_drop = {s.name for s in SYSCALLS_X86_64.values() if s.flags & UF.NEVER_DROP}
    return modifies | (never_drop & SYSCALL_NAMES)


@cache
def io_sc_set() -> frozenset[str]:
    return _category(EC.IO_BASE, EC.IO_WRITE)  # EC_IO_READ is EC_IO_BASE


@cache
def ignored_sc_set() -> frozenset[str]:
    """High-volume I/O syscalls left out unless ``base_syscalls.all`` (``-A``)."""
    return io_sc_set() - state_sc_set()


def repair_state_sc_set(syscalls: Iterable[str]) -> frozenset[str]:
    """libsinsp's sinsp_repair_state_sc_set: ``syscalls`` plus the fewest state syscalls."""
    given = frozenset(syscalls)
    out = set(_REPAIR_BASE) | given
    network = bool(given & _category(EC.NET))
    if network:
        out |= {"socket", "getsockopt"}
    if given & {"accept", "accept4", "listen"}:
        out.add("bind")
    if network or given & (_category(EC.FILE) | io_sc_set() | _category(EC.IO_OTHER)):
        out.add("close")
    return frozenset(out)


def _split(custom_set: Iterable[str]) -> tuple[set[str], set[str]]:
    pos: set[str] = set()
    neg: set[str] = set()
    for name in custom_set:
        if name:
            (neg if name.startswith("!") else pos).add(name.lstrip("!"))
    for sign, names in (("positive", pos), ("negative", neg)):
        bad = sorted(names - SYSCALL_NAMES)
        if bad:
            log.warning("Invalid (%s) syscall names: warning (base_syscalls override): %s", sign, ", ".join(bad))
    return pos & SYSCALL_NAMES, neg & SYSCALL_NAMES


def select_syscalls(rules_syscalls: Iterable[str], custom_set: Iterable[str] = (),
                    repair: bool = False, all_syscalls: bool = False) -> frozenset[str]:
    """The syscalls to capture for rules needing ``rules_syscalls`` under the
    ``base_syscalls`` options (``custom_set``, ``repair``, ``all``)."""
    rules = frozenset(rules_syscalls)
    custom = list(custom_set)
    positive, negative = _split(custom)
    selected = rules | (positive or state_sc_set())
    if repair and not positive:
        selected = repair_state_sc_set(rules)
    selected -= negative
    if not all_syscalls:
        selected -= ignored_sc_set()
    if repair and custom:
        selected = repair_state_sc_set(selected)
    missing = sorted(rules - selected)
    if missing:
        log.warning("Loaded rules match syscalls that are not activated (e.g. were removed via config "
                    "settings such as no -A flag or negative base_syscalls elements) or unsupported "
                    "with current configuration: warning (unsupported-evttype): %s", ", ".join(missing))
    return selected
