"""The Inspector (upstream's sinsp object): events from a capture file, the live
engine or any iterable, enriched with process/fd/user state.

Example (a real capture shipped with the tests)::

    >>> from libsinsp import Inspector
    >>> with Inspector() as insp:
    ...     insp.open_file("../shared/captures/cat_write.scap")
    ...     execs = [(e.tinfo.pid, e.tinfo.comm, e.tinfo.args) for e in insp if e.evt.name == "execve"]
    >>> execs
    [(20072, 'cat', ('/dev/null',))]

Per event: the event is counted (``SinspEvent.num``, 1-based over the events
the inspector saw, as current Falco numbers them), its thread looked up (a
placeholder row is made for an unknown thread, except for events that must
not create one: clone/fork child side, procexit, context switches), the parser
for its type (``libsinsp.parsers.PARSERS``) updates state, listeners see it,
and it is returned unless a filter rejects it or upstream never delivers it:
the enter events old captures still carry for their parameters (open family,
connect, execve/execveat enters) and a capture's state-only events
(SCAP_DF_STATE_ONLY) are parsed but not returned, as in current libsinsp; every
other event is returned, enter-typed ones too (procinfo, procexit, context
switches, container, drop, plugin and async events). A parser that meets a
parameter it cannot decode leaves state as it was; the event is still returned
and counted in ``stats()``.

The loop runs in C over the source's batches (a capture's come converted by
its reader, in C too): libscap._events.SinspLoop, with ``Inspector._run_py``
the same loop in Python as the reference (tests/test_sinsp_loop.py compares
them); per-type facts are indexes into tables, and an event that changes no
state costs a thread lookup and a few slot stores (~300 -> ~130 ns per event).
The most frequent state changes, a successful open of an absolute path and a
close, are done in the loop itself for the parsers that declare a
``fast_path`` (everything else, and their uncommon cases, goes to the Python
parser). With those, a 1M-record capture replays ~1.06-1.1x as fast as
``sysdig -r`` on it (benchmarks/test_sinsp_inspector.py).
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any, Callable, Iterable, Iterator

from libscap._events import SinspLoop
from libscap.errors import ScapError
from libscap.event import Event
from libscap.savefile import Interfaces, MachineInfo, open_capture
from libscap.savefile.converter import Converter
from libscap.schema import EC, EVENTS, PPM_EVENT_MAX, PPME

from libsinsp.event import _UNSET as _FDINFO_UNSET
from libsinsp.event import SinspEvent
from libsinsp.fdinfo import FdInfo
from libsinsp.interfaces import InterfaceAddresses
from libsinsp.parsers import PARSERS, Parser
from libsinsp.scap_state import fdinfo_from_scap, load_state, threadinfo_from_scap
from libsinsp.threadinfo import ThreadInfo
from libsinsp.threadtable import DEFAULT_MAX_THREADS, DEFAULT_PURGE_INTERVAL_NS, DEFAULT_THREAD_TIMEOUT_NS, ThreadTable
from libsinsp.users import GroupTable, UserTable

#: Events after which no thread row is created for an unknown tid (upstream's
#: can_query_os_for_thread_info, plus events with no thread: internal ones).
_NO_PLACEHOLDER = frozenset(
    [PPME.SYSCALL_CLONE_20_X, PPME.SYSCALL_FORK_20_X, PPME.SYSCALL_VFORK_20_X, PPME.SYSCALL_CLONE3_X,
     PPME.PROCEXIT_1_E, PPME.SCHEDSWITCH_6_E,
     # events of no thread (upstream's sinsp_parser::reset gives them none)
     PPME.CONTAINER_JSON_2_E, PPME.USER_ADDED_E, PPME.USER_DELETED_E, PPME.GROUP_ADDED_E,
     PPME.GROUP_DELETED_E, PPME.PLUGINEVENT_E, PPME.ASYNCEVENT_E]
    + [i for i in range(PPM_EVENT_MAX) if EVENTS[i].category & EC.INTERNAL])
#: Enter events the converter still hands over (for their parameters) that upstream's
#: sinsp parses and then never delivers (sinsp_evt_filter): open-family and connect enters
#: (TOCTOU), execve/execveat enters (fallback for empty exit parameters).
_HIDDEN = frozenset([PPME.SYSCALL_OPEN_E, PPME.SYSCALL_OPENAT_2_E, PPME.SYSCALL_OPENAT2_E,
                     PPME.SYSCALL_CREAT_E, PPME.SOCKET_CONNECT_E, PPME.SYSCALL_EXECVE_19_E,
                     PPME.SYSCALL_EXECVEAT_E])
#: SCAP_DF_STATE_ONLY: a capture's event meant for state, never for the user.
_DF_STATE_ONLY = 1
#: per event type (all 2^16): _HIDDEN_KIND | _NO_THREAD_ROW bits, one index per event
_HIDDEN_KIND, _NO_THREAD_ROW = 1, 2
_N_CODES = 1 << 16
_KINDS = bytes((_HIDDEN_KIND if t in _HIDDEN else 0) | (_NO_THREAD_ROW if t in _NO_PLACEHOLDER else 0)
               for t in range(_N_CODES))


#: the row the C loop's open fast path copies (every slot as FdInfo() sets it) before
#: writing its own values
_FDINFO_PROTOTYPE = FdInfo(-1)
#: what a parser may raise on a parameter it cannot decode (counted, state left as it was)
_PARSE_ERRORS = (ScapError, ValueError, IndexError, TypeError)


def _parser_table() -> tuple[Parser | None, ...]:
    """PARSERS as a tuple indexed by event type (None: nothing to parse), read when
    a source opens (so parsers registered later are seen by the next source)."""
    table: list[Parser | None] = [None] * (1 << 16)
    for etype, parser in PARSERS.items():
        table[etype] = parser
    return tuple(table)


def _fast_paths() -> dict[int, tuple]:
    """Event type -> the ``fast_path`` spec of its parser (what libscap._events does in
    C for that parser's common case; a parser put in its place has none, so it
    always runs), read when a source opens as _parser_table is."""
    return {etype: spec for etype, parser in PARSERS.items()
            if (spec := getattr(parser, "fast_path", None)) is not None}

Listener = Callable[[SinspEvent], None]


class Inspector:
    """Open one source (``open_file``, ``open_live``, ``open_events``), then iterate.

    ``threads`` is the ThreadTable, ``users``/``groups`` the UserTable and
    GroupTable, ``machine_info`` the capture's MachineInfo (None if unknown).
    ``max_threads``, ``thread_timeout_ns`` and ``purge_interval_ns`` bound the
    thread table as upstream's defaults do.
    """

    #: what the C event loop reads or counts per event, at fixed offsets (the rest
    #: of the state lives in the instance __dict__)
    __slots__ = ("_deferred", "_filter", "_next_purge", "_not_returned", "_parse_errors", "_fd_to_remove",
                 "_tid_to_remove", "_wanted", "return_at", "_skipped", "__dict__")

    def __init__(self, max_threads: int = DEFAULT_MAX_THREADS,
                 thread_timeout_ns: int = DEFAULT_THREAD_TIMEOUT_NS,
                 purge_interval_ns: int = DEFAULT_PURGE_INTERVAL_NS) -> None:
        self.threads = ThreadTable(max_threads, thread_timeout_ns)
        self.users = UserTable()
        self.groups = GroupTable()
        self.machine_info: MachineInfo | None = None
        self.interfaces = None
        self.purge_interval_ns = purge_interval_ns
        #: timestamp of the source's first event that is no metaevent (0 until then), for
        #: evt.reltime as upstream's m_firstevent_ts
        self.first_ts = 0
        self._tid_to_remove: int | None = None
        #: (tid, fd) closed by the current event, removed when the next one is processed
        self._fd_to_remove: tuple[int, int] | None = None
        #: one of the two above is set: work to do before the next event
        self._deferred = False
        self.failed_thread_adds = 0
        #: the event loop over the open source (a generator, see _run)
        self._loop: Iterator[SinspEvent] = iter(())
        self._set_loop(self._loop)
        self._close: Callable[[], None] | None = None
        self._engine: Any = None
        self._scan_thread: Callable[[int], Any] | None = None
        self._scan_fds: Callable[[int], Any] | None = None
        self._sevt = SinspEvent(self)
        self._not_returned = 0  # events seen but hidden or filtered out
        self._parse_errors = 0
        self._converter: Converter | None = None
        self._filter: Callable[[SinspEvent], bool] | None = None
        #: per event code, whether events of that code are returned (None: all are)
        self._wanted: bytes | None = None
        #: an event at or after this time is returned whatever its code (see return_only;
        #: None: no such time)
        self.return_at: int | None = None
        self._skipped = 0
        self._listeners: list[Listener] = []
        self._next_purge = 0
        self._interrupted = False

    # -- sources ----------------------------------------------------------------------

    @property
    def live_engine(self) -> Any:
        """The ModernBpfEngine of an ``open_live`` source (its syscall filter, its
        kernel counters), None for other sources or once closed."""
        return self._engine

    @property
    def interfaces(self) -> Interfaces | None:
        """The machine's network interfaces (a capture's interface list; None if unknown).
        Setting them parses their addresses once into ``interface_addresses``."""
        return self._interfaces

    @interfaces.setter
    def interfaces(self, value: Interfaces | None) -> None:
        self._interfaces = value
        #: the addresses the socket parsers and the fd fields use (libsinsp.interfaces)
        self.interface_addresses = InterfaceAddresses.parse(value)

    @property
    def boot_ts(self) -> int:
        """Boot time (ns since the epoch) from the machine info, 0 if unknown."""
        return self.machine_info.boot_ts_epoch if self.machine_info is not None else 0

    def open_file(self, path: str | os.PathLike[str]) -> None:
        """Replay a .scap file: its state blocks fill the tables, its events are converted
        to the current exit-only layout as current libs does (ScapError if unreadable)."""
        cap = open_capture(path)
        self.machine_info = cap.machine_info
        self.interfaces = cap.interfaces
        load_state(self.threads, self.users, self.groups, cap.processes, cap.fds, cap.users, cap.groups)
        converter = Converter(strict=False)
        self._start(cap.batches(converter), cap.close, _DF_STATE_ONLY)
        self._converter = converter

    def open_events(self, events: Iterable[Event], *, convert: bool = True) -> None:
        """Consume libscap events from memory (tests, plugins); old layouts are converted."""
        converter = Converter(strict=False) if convert else None
        self._start((self._converted(events, converter) if converter is not None else events,), None)
        self._converter = converter

    def open_live(self, async_events: Callable[[], list[Event]] | None = None, **engine_options: Any) -> None:
        """Capture live through the modern eBPF probe (root); ``engine_options`` go to
        ``ModernBpfEngine``. Initial state comes from /proc and /etc (libscap.proc_scan);
        a thread first seen later is read from /proc/<tid> when still there.
        ``async_events`` (a plugin manager's ``drain_async``), called once per kernel
        batch (also an empty one), gives events to deliver before that batch."""
        from libscap import proc_scan
        from libscap.engine.modern_bpf import ModernBpfEngine

        engine = ModernBpfEngine(**engine_options)
        engine.open()
        try:
            processes = proc_scan.scan_processes()
            users, groups = proc_scan.scan_users()
            self.machine_info = proc_scan.machine_info()
            load_state(self.threads, self.users, self.groups, processes,
                       proc_scan.scan_all_fds(processes), users, groups)
            engine.start()
        except BaseException:
            engine.close()
            raise
        self._scan_thread = proc_scan.scan_process
        self._scan_fds = proc_scan.scan_fds
        self._start(self._live(engine, async_events), engine.close)
        self._engine = engine  # after _start, whose close() resets it

    def _missing_thread(self, tid: int, ts: int) -> ThreadInfo | None:
        """A row for an unknown thread: read from /proc (live) or a placeholder."""
        if self._scan_thread is not None:
            proc = self._scan_thread(tid)
            if proc is not None:
                t = threadinfo_from_scap(proc)
                if t.tid == t.pid:
                    t.fdtable = {f.fd: fdinfo_from_scap(f) for f in self._scan_fds(t.pid)}
                if self.threads.add(t, ts):
                    return t
                return None
        return self.threads.placeholder(tid, ts)

    @staticmethod
    def _live(engine: Any, async_events: Callable[[], list[Event]] | None = None) -> Iterator[list[Event]]:
        """The live source's batches."""
        if async_events is None:
            while True:
                yield engine.next_batch()
        while True:
            batch = engine.next_batch()
            yield async_events()
            yield batch

    def interrupt(self) -> None:
        """End the running iteration at the source's next batch: another thread's stop
        request (an idle live source ends within its 100 ms poll, which never returns
        to the caller of ``next()`` without an event)."""
        self._interrupted = True

    def _until_interrupted(self, batches: Iterable[Iterable[Event]]) -> Iterator[Iterable[Event]]:
        for batch in batches:
            if self._interrupted:
                return
            yield batch

    @staticmethod
    def _converted(events: Iterable[Event], converter: Converter) -> Iterator[Event]:
        """libscap's converter over events from memory (a capture file is converted
        by its reader, in batches). An event the converter rejects (where upstream's
        capture would fail: a layout no rule knows) is skipped and counted."""
        convert = converter.convert
        for evt in events:
            out = convert(evt)
            if out is not None:
                yield out

    def _start(self, batches: Iterable[Iterable[Event]], close: Callable[[], None] | None,
               state_only_mask: int = 0) -> None:
        """Make ``batches`` (iterables of events) the source, read by the event loop."""
        self.close()
        self.first_ts = 0
        self._next_purge = 0
        self._converter = None
        self._interrupted = False
        self._set_loop(self._run(self._until_interrupted(batches), state_only_mask))
        self._close = close

    # -- consuming --------------------------------------------------------------------

    def set_filter(self, expr: str | None) -> None:
        """Return only the events matching ``expr`` (sysdig/Falco filter syntax); others
        are still parsed. ``None`` removes the filter. Raises FilterError on bad input."""
        if expr is None:
            self._filter = None
            return
        from libsinsp.fields import registry
        from libsinsp.filter import compile_filter, parse

        self._filter = compile_filter(parse(expr), registry())

    def return_only(self, codes: Iterable[int] | None) -> None:
        """Return only the events of the event ``codes`` (None, the default: of every
        code); the others are parsed for state as usual, counted in ``skipped`` and
        never reach the caller, so a consumer that acts on a few codes (the rules
        engine: the codes its rules can match) pays nothing in Python for the rest.
        When ``return_at`` is set (an event time, ns), the events at or after it are
        returned whatever their code: a consumer that does periodic work by event
        time keeps its clock (``return_at = 0``: the next event)."""
        if codes is None:
            self._wanted = None
            return
        wanted = bytearray(_N_CODES)
        for code in codes:
            if not 0 <= code < _N_CODES:
                raise ValueError(f"return_only: {code} is no event code (0..{_N_CODES - 1})")
            wanted[code] = 1
        self._wanted = bytes(wanted)

    @property
    def skipped(self) -> int:
        """Events not returned because of ``return_only``."""
        return self._skipped

    def add_event_listener(self, listener: Listener) -> None:
        """Call ``listener(sinsp_event)`` for every event after it was parsed, before the
        filter (a plugin manager's hook). The SinspEvent is reused: copy what you keep."""
        self._listeners.append(listener)

    def next(self) -> SinspEvent | None:
        """The next event (the one reused SinspEvent, re-pointed), or None at the end."""
        return next(self._loop, None)

    def _set_loop(self, loop: Iterator[SinspEvent]) -> None:
        self._loop = loop
        # the instance's ``next``: ``next(loop, None)`` with no Python frame per call
        # (the C loop's own next(): not even the builtin's)
        self.next = getattr(loop, "next", None) or partial(next, loop, None)  # type: ignore[method-assign]

    def _run(self, batches: Iterable[Iterable[Event]], state_only_mask: int) -> Iterator[SinspEvent]:
        """The event loop over the source's batches, in C (libscap._events.SinspLoop): per
        event, count it, run the deferred removals, look its thread up (missing_thread for
        an unknown tid unless its kind forbids a row), re-point the SinspEvent (evt, num,
        tinfo, fdinfo unset, fd -1), call the parser of its type (a parse error is counted
        in _parse_errors), purge when due (_purge, _next_purge), call the listeners, then
        count hidden, state-only and filtered-out events in _not_returned, and events of
        codes not wanted (_wanted) before return_at in _skipped, and return the others.
        ``_run_py`` is the same loop in Python (the reference; tests compare)."""
        return SinspLoop(self, batches, self._sevt, self.threads.map, _parser_table(), _KINDS, self._listeners,
                         self._missing_thread, _FDINFO_UNSET, _PARSE_ERRORS, ThreadInfo, state_only_mask,
                         _fast_paths(), _FDINFO_PROTOTYPE)

    def _run_py(self, batches: Iterable[Iterable[Event]], state_only_mask: int) -> Iterator[SinspEvent]:
        """``_run`` in Python: a generator over the source's batches, everything it needs
        per event in local variables between events."""
        sevt = self._sevt
        tmap = self.threads.map
        parsers = _parser_table()
        kinds = _KINDS
        listeners = self._listeners  # mutated in place by add_event_listener
        missing_thread = self._missing_thread
        unset = _FDINFO_UNSET
        num = sevt.num
        next_purge = self._next_purge
        for batch in batches:
            for evt in batch:
                num += 1
                if self._deferred:
                    self._run_deferred()
                etype = evt[5]
                ts = evt[2]
                kind = kinds[etype]
                tinfo = tmap.get(evt[3])
                if tinfo is not None:
                    tinfo.lastaccess_ts = ts
                elif not kind & _NO_THREAD_ROW:
                    tinfo = missing_thread(evt[3], ts)
                    if tinfo is not None:
                        tinfo.lastaccess_ts = ts
                sevt.evt = evt
                sevt.num = num
                sevt.tinfo = tinfo
                sevt._fdinfo = unset
                sevt.fd = -1
                parser = parsers[etype]
                if parser is not None:
                    try:
                        parser(self, sevt)
                    except _PARSE_ERRORS:
                        self._parse_errors += 1
                if ts >= next_purge:
                    self._purge(ts)
                    next_purge = self._next_purge
                if listeners:
                    for listener in listeners:
                        listener(sevt)
                if kind & _HIDDEN_KIND or evt[9] & state_only_mask:
                    self._not_returned += 1
                    continue
                wanted = self._wanted
                if wanted is not None and not wanted[etype] and (self.return_at is None or ts < self.return_at):
                    self._skipped += 1
                    continue
                flt = self._filter
                if flt is not None and not flt(sevt):
                    self._not_returned += 1
                    continue
                yield sevt

    @property
    def tid_to_remove(self) -> int | None:
        """A procexit's thread, removed when the next event is processed (set by its parser)."""
        return self._tid_to_remove

    @tid_to_remove.setter
    def tid_to_remove(self, tid: int | None) -> None:
        self._tid_to_remove = tid
        if tid is not None:
            self._deferred = True

    def _run_deferred(self) -> None:
        self._deferred = False
        if self._tid_to_remove is not None:
            self.threads.remove(self._tid_to_remove)
            self._tid_to_remove = None
        fd_to_remove = self._fd_to_remove
        if fd_to_remove is not None:  # _remove_fd inlined: once per close
            self._fd_to_remove = None
            tinfo = self.threads.map.get(fd_to_remove[0])
            if tinfo is not None:
                tinfo.fdtable.pop(fd_to_remove[1], None)

    def remove_fd_later(self, tid: int, fd: int) -> None:
        """Remove ``fd`` from thread ``tid``'s table when the next event is processed
        (a parser's verdict, so that the current event's fields still see the fd)."""
        if self._fd_to_remove is not None:
            self._remove_fd()
        self._fd_to_remove = (tid, fd)
        self._deferred = True

    def _remove_fd(self) -> None:
        tid, fd = self._fd_to_remove  # type: ignore[misc]
        self._fd_to_remove = None
        tinfo = self.threads.map.get(tid)
        if tinfo is not None:
            tinfo.fdtable.pop(fd, None)

    def _purge(self, ts: int) -> None:
        if not self.first_ts:
            # the first event of a source comes here (the purge clock starts with it):
            # upstream's m_firstevent_ts (evt.reltime) is the first one that is no metaevent;
            # after a metaevent the clock stays unset so that the next event comes back
            etype = self._sevt.evt[5]
            if etype < len(EVENTS) and EVENTS[etype].category & EC.METAEVENT:
                return
            self.first_ts = ts
        if self._next_purge:
            threads_before = len(self.threads)
            self.threads.purge(ts)
            if threads_before != len(self.threads):
                self._sevt.tinfo = self.threads.map.get(self._sevt.evt[3])
        self._next_purge = ts + self.purge_interval_ns

    def __iter__(self) -> Iterator[SinspEvent]:
        return self._loop

    def stats(self) -> dict[str, int]:
        """Counters: events seen and returned, parse errors, engine drops (live), table sizes."""
        drops = 0
        if self._engine is not None:
            drops = sum(s.drops for s in self._engine.stats())
        return {
            "events_seen": self._sevt.num,
            "events_returned": self._sevt.num - self._not_returned - self._skipped,
            "parse_errors": self._parse_errors,
            "events_unconvertible": self._converter.rejected if self._converter is not None else 0,
            "events_dropped": drops,
            "threads": len(self.threads),
            "fds": sum(len(t.fdtable) for t in self.threads if t.tid == t.pid or t.pid < 0),
            "threads_added": self.threads.added,
            "threads_removed": self.threads.removed,
            "failed_thread_adds": self.threads.failed_adds,
            "users": len(self.users),
            "groups": len(self.groups),
        }

    def close(self) -> None:
        """Release the source (file, live engine). Idempotent; state stays readable."""
        close, self._close = self._close, None
        self._engine = None
        self._set_loop(iter(()))
        if close is not None:
            close()

    def __enter__(self) -> "Inspector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
