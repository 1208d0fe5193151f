"""SinspEvent: a libscap event seen through libsinsp's state.

The inspector owns ONE SinspEvent and re-points it at every event it returns
(upstream's sinsp_evt is reused the same way), so enriching an event allocates
nothing. Field extractors and formatters take a SinspEvent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from libscap.errors import ScapError
from libsinsp.fdinfo_lookup import FD_POSITION as _FD_POSITION

_N_TYPES = len(_FD_POSITION)

if TYPE_CHECKING:
    from libscap.event import Event

    from libsinsp.fdinfo import FdInfo
    from libsinsp.inspector import Inspector
    from libsinsp.threadinfo import ThreadInfo

_UNSET = object()


class SinspEvent:
    """The current event and its context.

    * ``evt``: the libscap ``Event`` (raw access: ``evt.type``, ``evt.param(i)``...);
    * ``num``: the event number as libsinsp counts it (1-based, events it saw);
    * ``tinfo``: the ThreadInfo of ``evt.tid`` after the event was parsed
      (None if unknown);
    * ``fdinfo``: the FdInfo the event acts on (its fd parameter, or the fd
      it created), as the parser saw it — for a close, the fd that was closed;
      None when the event uses no fd or the fd is unknown. Set by the parser when
      it knows it; otherwise computed on first access from the event's fd
      parameter and ``tinfo``'s fd table;
    * ``fd``: the fd number ``fdinfo`` was looked up with (-1 none);
    * ``inspector``: the Inspector (fields reach the thread table, users,
      groups and machine info through it);
    * ``source``: the event source name ("syscall", or a plugin's source).
    """

    __slots__ = ("evt", "num", "tinfo", "_fdinfo", "fd", "inspector", "source")

    def __init__(self, inspector: "Inspector | None" = None) -> None:
        self.evt: Event | None = None
        self.num = 0
        self.tinfo: ThreadInfo | None = None
        self._fdinfo: object = _UNSET
        self.fd = -1
        self.inspector = inspector
        self.source = "syscall"

    def reset(self, evt: "Event", num: int, tinfo: "ThreadInfo | None") -> None:
        """Point at a new event (called by the inspector before parsing)."""
        self.evt = evt
        self.num = num
        self.tinfo = tinfo
        self._fdinfo = _UNSET
        self.fd = -1

    @property
    def fdinfo(self) -> "FdInfo | None":
        fi = self._fdinfo
        if fi is _UNSET:
            # the fd parameter of events flagged EF_USES_FD, looked up in the fd table
            fi = None
            evt = self.evt
            etype = evt[5]
            i = _FD_POSITION[etype] if etype < _N_TYPES else -1
            if 0 <= i < evt[6] and self.tinfo is not None:
                try:
                    fd = evt.param(i)
                except ScapError:
                    fd = None
                if fd is not None:
                    self.fd = fd
                    fi = self.tinfo.fdtable.get(fd)
            self._fdinfo = fi
        return fi  # type: ignore[return-value]

    @fdinfo.setter
    def fdinfo(self, value: "FdInfo | None") -> None:
        self._fdinfo = value
        if value is not None:
            self.fd = value.fd

