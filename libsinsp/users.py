"""Users and groups: uid -> UserInfo, gid -> GroupInfo.

Filled from a capture's user-list block or, live, from /etc/passwd and /etc/group
(libscap.proc_scan.scan_users). Entries are
``libscap.savefile.UserInfo``/``GroupInfo`` (``name``, ``homedir``,
``shell``; ``name`` for groups), the same dataclasses a capture or the /proc
scan gives. An id seen in an event but not in the table answers None, and the
fields print ``<NA>`` for it as upstream does.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Generic, Iterable, Iterator, TypeVar

from libscap.savefile import GroupInfo, UserInfo

_Entry = TypeVar("_Entry", UserInfo, GroupInfo)


class _IdTable(Generic[_Entry]):
    """id -> entry, the id being the entry's attribute `_key` (uid or gid)."""

    _key: str

    def __init__(self, entries: Iterable[_Entry] = ()) -> None:
        self.replace(entries)

    def get(self, id_: int) -> _Entry | None:
        return self._by_id.get(id_)

    def add(self, entry: _Entry) -> None:
        self._by_id[getattr(entry, self._key)] = entry

    def replace(self, entries: Iterable[_Entry]) -> None:
        """Replace every entry (a later user-list block supersedes the earlier one)."""
        key = attrgetter(self._key)
        self._by_id: dict[int, _Entry] = {key(e): e for e in entries}

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[_Entry]:
        return iter(self._by_id.values())


class UserTable(_IdTable[UserInfo]):
    """uid -> UserInfo."""

    _key = "uid"


class GroupTable(_IdTable[GroupInfo]):
    """gid -> GroupInfo."""

    _key = "gid"
