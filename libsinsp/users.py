"""Users and groups: uid -> UserInfo, gid -> GroupInfo.

Filled from a capture's user-list block or, live, from /etc/passwd and /etc/group
(libscap.proc_scan.scan_users). Entries are
``libscap.savefile.UserInfo``/``GroupInfo`` (``name``, ``homedir``,
``shell``; ``name`` for groups), the same dataclasses a capture or the /proc
scan gives. An id seen in an event but not in the table answers None, and the
fields print ``<NA>`` for it as upstream does.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from libscap.savefile import GroupInfo, UserInfo


class UserTable:
    """uid -> UserInfo."""

    def __init__(self, users: Iterable[UserInfo] = ()) -> None:
        self._by_id: dict[int, UserInfo] = {u.uid: u for u in users}

    def get(self, uid: int) -> UserInfo | None:
        return self._by_id.get(uid)

    def add(self, user: UserInfo) -> None:
        self._by_id[user.uid] = user

    def replace(self, users: Iterable[UserInfo]) -> None:
        """Replace every entry (a later user-list block supersedes the earlier one)."""
        self._by_id = {u.uid: u for u in users}

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[UserInfo]:
        return iter(self._by_id.values())


class GroupTable:
    """gid -> GroupInfo."""

    def __init__(self, groups: Iterable[GroupInfo] = ()) -> None:
        self._by_id: dict[int, GroupInfo] = {g.gid: g for g in groups}

    def get(self, gid: int) -> GroupInfo | None:
        return self._by_id.get(gid)

    def add(self, group: GroupInfo) -> None:
        self._by_id[group.gid] = group

    def replace(self, groups: Iterable[GroupInfo]) -> None:
        self._by_id = {g.gid: g for g in groups}

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[GroupInfo]:
        return iter(self._by_id.values())
