"""user.* and group.*: the credentials of the thread that produced the event.

Names come from the inspector's user and group tables. As upstream, an id not
in the table prints the string ``<NA>`` (``root`` and ``/root`` for id 0), and
``user.loginuid`` is -1 when the audit id is unset (0xFFFFFFFF).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from libsinsp.fields.registry import FieldClass, spec

if TYPE_CHECKING:
    from libsinsp.event import SinspEvent
    from libsinsp.threadinfo import ThreadInfo

_U32 = 0xFFFFFFFF


def _lookup(table: str, ident: Callable[["ThreadInfo"], int], attr: str, root: str | None):
    """Extractor of ``attr`` of the user/group entry ``ident(thread)`` names."""

    def extract(sevt: "SinspEvent") -> Any:
        t = sevt.tinfo
        if t is None:
            return None
        key = ident(t)
        insp = sevt.inspector
        entry = None if insp is None else getattr(insp, table).get(key)
        if entry is not None:
            return getattr(entry, attr)
        return root if key == 0 and root is not None else "<NA>"

    return extract


def _tval(fn: Callable[["ThreadInfo"], Any]) -> Callable[["SinspEvent"], Any]:
    return lambda sevt: None if sevt.tinfo is None else fn(sevt.tinfo)


def _U(name: str, ptype: str, desc: str, fn: Callable[["SinspEvent"], Any], **kw: Any):  # noqa: N802
    return spec("user", name, ptype, desc, lambda arg: fn, **kw)


USER = FieldClass("user", "The user of the process that generated the event.", (
    _U("user.uid", "UINT32", "user id", _tval(lambda t: t.uid), fmt="ID"),
    _U("user.name", "CHARBUF", "user name", _lookup("users", lambda t: t.uid, "name", "root")),
    _U("user.homedir", "CHARBUF", "home directory of the user", _lookup("users", lambda t: t.uid, "homedir", "/root")),
    _U("user.shell", "CHARBUF", "login shell of the user", _lookup("users", lambda t: t.uid, "shell", None)),
    _U("user.loginuid", "INT64", "audit user id (auid); -1 when unset",
       _tval(lambda t: t.loginuid if t.loginuid < _U32 else -1), fmt="ID"),
    _U("user.loginname", "CHARBUF", "name of the audit user",
       _lookup("users", lambda t: t.loginuid, "name", "root")),
))  # fmt: skip

GROUP = FieldClass("group", "The group of the process that generated the event.", (
    spec("group", "group.gid", "UINT32", "group id", lambda arg: _tval(lambda t: t.gid), fmt="ID"),
    spec("group", "group.name", "CHARBUF", "group name",
         lambda arg: _lookup("groups", lambda t: t.gid, "name", "root")),
))  # fmt: skip

CLASSES = (USER, GROUP)
