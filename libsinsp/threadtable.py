"""The thread table: tid -> ThreadInfo, with the process structure upstream keeps.

* Threads of one process share the leader's ``fdtable`` and ``_fs`` objects
  (``add`` links them when the leader is known).
* Parent/children links (``ThreadInfo.children``) are kept so that removing a
  thread reparents its children as upstream does: to another live thread of
  the same process, else to the reaper procexit named if known, else to the
  closest live ancestor, else they keep a dangling ``ptid``.
* A process's main thread stays (marked dead) while other threads of the
  process live, and is removed with the last of them.
* Bounded: at most ``max_size`` rows (upstream's default 262144); when full,
  new threads are not added (``add`` returns False) and the inspector counts
  the failure. ``purge`` removes threads that are dead or idle longer than
  ``thread_timeout_ns`` (upstream's periodic purge of inactive threads).
"""

from __future__ import annotations

from typing import Iterator

from libsinsp.threadinfo import ThreadInfo

#: Upstream's default thread table size (sinsp_thread_manager::m_max_thread_table_size).
DEFAULT_MAX_THREADS = 262144
#: Upstream's defaults: threads idle this long are purged, checked this often (event time).
DEFAULT_THREAD_TIMEOUT_NS = 1800 * 10**9
DEFAULT_PURGE_INTERVAL_NS = 1200 * 10**9
NA = "<NA>"


class ThreadTable:
    """tid -> ThreadInfo (see the module doc)."""

    def __init__(self, max_size: int = DEFAULT_MAX_THREADS,
                 thread_timeout_ns: int = DEFAULT_THREAD_TIMEOUT_NS) -> None:
        if max_size < 1:
            raise ValueError(f"the thread table needs room for at least one thread, not {max_size}")
        self.max_size = max_size
        self.thread_timeout_ns = thread_timeout_ns
        #: the rows; the inspector reads it directly on its hot path
        self.map: dict[int, ThreadInfo] = {}
        #: pid -> tids of its live (not dead) threads in the table
        self._groups: dict[int, set[int]] = {}
        self.added = self.removed = self.failed_adds = 0

    # -- lookup -------------------------------------------------------------------

    def get(self, tid: int) -> ThreadInfo | None:
        return self.map.get(tid)

    def __len__(self) -> int:
        return len(self.map)

    def __iter__(self) -> Iterator[ThreadInfo]:
        return iter(list(self.map.values()))

    def __contains__(self, tid: object) -> bool:
        return tid in self.map

    def main_thread(self, tinfo: ThreadInfo) -> ThreadInfo | None:
        """The process leader of ``tinfo`` (itself for a leader), if known."""
        return tinfo if tinfo.pid == tinfo.tid else self.map.get(tinfo.pid)

    def parent(self, tinfo: ThreadInfo) -> ThreadInfo | None:
        """The thread ``tinfo.ptid`` names, if in the table."""
        return self.map.get(tinfo.ptid)

    def ancestors(self, tinfo: ThreadInfo) -> Iterator[ThreadInfo]:
        """Parent, grandparent... through the process leaders (proc.aname[N], proc.apid[N]).

        Stops at a missing parent or a loop, never runs forever."""
        seen = {tinfo.tid}
        main = self.main_thread(tinfo) or tinfo
        cur = self.map.get(main.ptid)
        while cur is not None and cur.tid not in seen:
            yield cur
            seen.add(cur.tid)
            leader = self.main_thread(cur) or cur
            seen.add(leader.tid)
            cur = self.map.get(leader.ptid)

    def thread_count(self, pid: int) -> int:
        """Live threads of process ``pid`` in the table."""
        return len(self._groups.get(pid, ()))

    def group(self, pid: int) -> set[int]:
        """tids of the live threads of process ``pid`` (a copy)."""
        return set(self._groups.get(pid, ()))

    # -- changes ------------------------------------------------------------------

    def add(self, tinfo: ThreadInfo, ts: int = 0) -> bool:
        """Insert (or replace) a thread; a non-leader shares its leader's fd table and cwd.

        Returns False when the table is full."""
        tid = tinfo.tid
        old = self.map.get(tid)
        if old is None and len(self.map) >= self.max_size:
            self.failed_adds += 1
            return False
        if old is not None:
            self._unlink(old)
        if tinfo.pid != tid and tinfo.pid >= 0:
            leader = self.map.get(tinfo.pid)
            if leader is not None:
                tinfo.fdtable = leader.fdtable
                tinfo._fs = leader._fs
        self.map[tid] = tinfo
        tinfo.lastaccess_ts = ts
        if not tinfo.dead:
            self._groups.setdefault(tinfo.pid, set()).add(tid)
        parent = self.map.get(tinfo.ptid)
        if parent is not None and parent is not tinfo:
            parent.children.add(tid)
        self.added += 1
        return True

    def placeholder(self, tid: int, ts: int = 0) -> ThreadInfo | None:
        """A new row for a thread seen in an event but unknown (None when the table is full)."""
        tinfo = ThreadInfo(tid, -1, -1)
        tinfo.comm = tinfo.exe = NA
        tinfo.uid = tinfo.gid = tinfo.euid = tinfo.egid = 0xFFFFFFFF
        return tinfo if self.add(tinfo, ts) else None

    def set_pid(self, tinfo: ThreadInfo, pid: int) -> None:
        """Change a thread's pid keeping the process groups right (exec, placeholder filled)."""
        if pid == tinfo.pid:
            return
        group = self._groups.get(tinfo.pid)
        if group is not None:
            group.discard(tinfo.tid)
            if not group:
                del self._groups[tinfo.pid]
        tinfo.pid = pid
        if not tinfo.dead:
            self._groups.setdefault(pid, set()).add(tinfo.tid)

    def set_parent(self, tinfo: ThreadInfo, ptid: int) -> None:
        """Change a thread's parent keeping the children sets right."""
        old = self.map.get(tinfo.ptid)
        if old is not None:
            old.children.discard(tinfo.tid)
        tinfo.ptid = ptid
        new = self.map.get(ptid)
        if new is not None and new is not tinfo:
            new.children.add(tinfo.tid)

    def mark_dead(self, tinfo: ThreadInfo) -> None:
        """procexit: the thread no longer counts as a live thread of its process."""
        if not tinfo.dead:
            tinfo.dead = True
            group = self._groups.get(tinfo.pid)
            if group is not None:
                group.discard(tinfo.tid)

    def remove(self, tid: int) -> None:
        """Remove a thread as upstream's remove_thread: reparent its children, then drop
        it (a leader only once its process has no live thread left)."""
        tinfo = self.map.get(tid)
        if tinfo is None:
            return
        self.mark_dead(tinfo)
        if tinfo.children:
            self._reparent(tinfo)
        if self.thread_count(tinfo.pid) == 0:
            self._groups.pop(tinfo.pid, None)
            leader = self.map.get(tinfo.pid)
            if leader is not None and leader is not tinfo and leader.dead:
                self._drop(leader)
            self._drop(tinfo)
        elif tinfo.tid != tinfo.pid:
            self._drop(tinfo)

    def _drop(self, tinfo: ThreadInfo) -> None:
        if self.map.get(tinfo.tid) is tinfo:
            del self.map[tinfo.tid]
            self._unlink(tinfo)
            self.removed += 1

    def _unlink(self, tinfo: ThreadInfo) -> None:
        parent = self.map.get(tinfo.ptid)
        if parent is not None:
            parent.children.discard(tinfo.tid)
        group = self._groups.get(tinfo.pid)
        if group is not None:
            group.discard(tinfo.tid)
            if not group:
                del self._groups[tinfo.pid]

    def _reparent(self, tinfo: ThreadInfo) -> None:
        reaper = self._find_reaper(tinfo)
        for child_tid in list(tinfo.children):
            child = self.map.get(child_tid)
            if child is None:
                continue
            if reaper is None:
                child.ptid = 0  # upstream: no reaper found, the child keeps no parent
            else:
                child.ptid = reaper.tid
                reaper.children.add(child_tid)
        tinfo.children.clear()
        if reaper is not None:
            tinfo.reaper_tid = reaper.tid

    def _find_reaper(self, tinfo: ThreadInfo) -> ThreadInfo | None:
        """Another live thread of the process, the reaper procexit named, the closest live
        ancestor (upstream's find_new_reaper, without subreaper/namespace knowledge)."""
        for tid in self._groups.get(tinfo.pid, ()):
            if tid != tinfo.tid:
                t = self.map.get(tid)
                if t is not None and not t.dead:
                    return t
        if tinfo.reaper_tid > 0:
            t = self.map.get(tinfo.reaper_tid)
            if t is not None and not t.is_invalid:
                return t
        for anc in self.ancestors(tinfo):
            if not anc.dead:
                return anc
        return None

    def purge(self, now_ts: int) -> int:
        """Remove threads idle longer than the timeout (upstream's inactive-thread purge);
        returns how many rows went."""
        limit = now_ts - self.thread_timeout_ns
        stale = [t.tid for t in self.map.values() if t.lastaccess_ts < limit]
        before = len(self.map)
        for tid in stale:
            self.remove(tid)
        return before - len(self.map)
