"""C readers of the fields rules read most (libscap._events.FieldReader, _fields.c).

A reader does its field's common case in C at the slot offsets of SinspEvent,
FdInfo and ThreadInfo, and calls the Python extractor it stands for (``generic``)
for anything else, so the Python extractors stay the definition of every field.
The fd and open-flag readers are for the events of one code known to have an fd
or open flags (the extractors compiled per event code, see the fd and evt field
classes); the thread readers work on any event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from libscap import _events

from libsinsp.event import _UNSET, SinspEvent
from libsinsp.fdinfo import FdInfo
from libsinsp.threadinfo import ThreadInfo

if TYPE_CHECKING:
    Extractor = Callable[[SinspEvent], Any]

_events.set_field_types(SinspEvent, FdInfo, ThreadInfo, _UNSET)


def fd_num(generic: "Extractor") -> "Extractor":
    return _events.FieldReader(_events.R_FD_NUM, generic)


def fd_name(generic: "Extractor") -> "Extractor":
    return _events.FieldReader(_events.R_FD_NAME, generic)


def fd_typechar(generic: "Extractor", letters: dict[str, str]) -> "Extractor":
    """``letters``: fd type -> the letter upstream prints (others print as the type)."""
    return _events.FieldReader(_events.R_FD_TYPECHAR, generic, letters)


def fd_directory(generic: "Extractor") -> "Extractor":
    return _events.FieldReader(_events.R_FD_DIRECTORY, generic)


def open_bit(generic: "Extractor", flags_at: int, bit: int) -> "Extractor":
    """Whether the open flags parameter at ``flags_at`` has ``bit`` (False when absent)."""
    return _events.FieldReader(_events.R_OPEN_BIT, generic, n=flags_at, bits=bit)


def thread_attr(generic: "Extractor", slot: str, default: str | None = None) -> "Extractor":
    """The ThreadInfo's ``slot`` (``default`` when it is empty); missing without a thread."""
    return _events.FieldReader(_events.R_THREAD_ATTR, generic, slot, default=default)


def split_arg(generic: "Extractor", code: int, i: int,
              texts: Callable[[int, int, bytes], tuple[str, str]]) -> "Extractor":  # fmt: skip
    """evt.arg of parameter ``i`` (a number with symbolic names) of events of ``code``:
    the resolved text of ``texts(code, i, raw)`` when there is one, else the value."""
    return _events.FieldReader(_events.R_SPLIT_ARG, generic, texts, n=i, code=code)
