"""procexit (upstream's parse_thread_exit): the thread is marked dead now and removed
from the table when the next event is processed (so fields of the procexit event
itself still see it); its children are then reparented by the thread table."""

from __future__ import annotations

from libscap.schema import PPME

from libsinsp.parsers._common import param, pos

_REAPER = pos("PROCEXIT_1_E", "reaper_tid")


def parse_procexit(insp, sevt) -> None:
    t = sevt.tinfo
    if t is None:
        return
    insp.threads.mark_dead(t)
    insp.tid_to_remove = t.tid
    if t.children:
        reaper = param(sevt.evt, _REAPER)
        t.reaper_tid = reaper if reaper is not None else -1


PARSERS = {PPME.PROCEXIT_1_E: parse_procexit}
