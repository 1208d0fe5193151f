"""fs.path.*: the filesystem paths a syscall operates on, resolved and raw.

``fs.path.name`` is the path of single-path syscalls (open family, mkdir,
unlink, chmod...); ``fs.path.source``/``fs.path.target`` are the two paths of
rename, link and symlink. Resolved values join relative paths to the dirfd or
the cwd and normalize them (as evt.arg does); ``*raw`` values are as passed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from libscap.schema import PT

from libsinsp.fields.args import param_text
from libsinsp.fields.registry import FieldClass, spec

if TYPE_CHECKING:
    from libsinsp.event import SinspEvent

_NAME = ("name", "path", "pathname", "filename")
_SOURCE = ("oldpath", "target")
_TARGET = ("newpath", "linkpath")
_PATH_TYPES = (PT.FSPATH, PT.FSRELPATH)


def _path(names: tuple[str, ...], raw: bool, exclude: tuple[str, ...] = ()) -> Callable[["SinspEvent"], Any]:
    def extract(sevt: "SinspEvent") -> str | None:
        evt = sevt.evt
        info = evt.info
        if info is None or any(n in info.param_positions for n in exclude):
            return None
        for n in names:
            i = evt.param_index(n)
            if i is None:
                continue
            pinfo = evt.param_info(i)
            if pinfo is None or pinfo.type not in _PATH_TYPES:
                continue
            if raw:
                return evt.param(i)
            value, resolved = param_text(sevt, i, None)
            return resolved or value
        return None

    return extract


def _S(name: str, desc: str, fn: Callable[["SinspEvent"], Any]):  # noqa: N802
    return spec("fs.path", name, "CHARBUF", desc, lambda arg: fn)


FSPATH = FieldClass("fs.path", "Paths of filesystem syscalls, resolved and as passed.", (
    _S("fs.path.name", "path of a single-path filesystem syscall, resolved", _path(_NAME, False, _SOURCE)),
    _S("fs.path.nameraw", "path of a single-path filesystem syscall, as passed", _path(_NAME, True, _SOURCE)),
    _S("fs.path.source", "source path of rename/link/symlink, resolved", _path(_SOURCE, False)),
    _S("fs.path.sourceraw", "source path of rename/link/symlink, as passed", _path(_SOURCE, True)),
    _S("fs.path.target", "target path of rename/link/symlink, resolved", _path(_TARGET, False)),
    _S("fs.path.targetraw", "target path of rename/link/symlink, as passed", _path(_TARGET, True)),
))  # fmt: skip

CLASSES = (FSPATH,)
