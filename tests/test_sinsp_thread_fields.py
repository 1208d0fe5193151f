"""proc.nthreads / proc.nchilds from crafted events, as upstream's thread groups count
them (get_num_threads, get_num_not_leader_threads): live threads, the main thread
excluded from nchilds only while it lives, and 0 for a fake row (no thread group)."""

from __future__ import annotations

from test_sinsp_parsers import base, clone, ev

from libsinsp import Inspector
from libsinsp.formatter import Formatter
from libsinsp.parsers._common import CL_CLONE_THREAD


def rows(events, fmt="%proc.nthreads %proc.nchilds"):
    insp = Inspector()
    insp.open_events(events)
    f = Formatter(fmt)
    return {s.evt.ts: f.format(s) for s in insp}


def test_thread_counts_follow_clone_and_exit():
    r = rows(base() + [
        clone(5, 100, 102, 100, 1, flags=CL_CLONE_THREAD),
        ev(6, 102, "SYSCALL_GETCWD_X", res=0, path="/"),
        ev(7, 100, "PROCEXIT_1_E", status=0, ret=0, sig=0, core=0),
        ev(8, 102, "SYSCALL_GETCWD_X", res=0, path="/"),
        ev(9, 4242, "SYSCALL_GETCWD_X", res=0, path="/"),  # unknown thread: a fake row
    ])
    assert r[4] == "1 0"
    assert r[6] == "2 1"
    assert r[8] == "1 1"  # the main thread is dead: every live thread is a "child"
    assert r[9] == "0 0"
