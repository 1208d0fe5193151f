"""The field transformers (``tolower(...)``, ``len(...)``, ...), shared by filters and output formats.

Each takes field values and returns ``None`` when an input is ``None`` (a missing field).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any


def tolower(v: Any) -> Any:
    return None if v is None else v.lower()


def toupper(v: Any) -> Any:
    return None if v is None else v.upper()


def basename(v: Any) -> Any:
    return None if v is None else v[v.rfind("/") + 1 :]


def b64(v: Any) -> Any:
    if v is None:
        return None
    try:
        return base64.b64decode(v, validate=True).decode("utf-8", "surrogateescape")
    except (binascii.Error, ValueError):
        return None


def length(v: Any) -> Any:
    return None if v is None else len(v)


def elementwise(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn`` applied to each value of a list field."""

    def apply(v: Any) -> Any:
        return None if v is None else tuple(fn(x) for x in v)

    return apply


def concat(*parts: Any) -> Any:
    if any(p is None for p in parts):
        return None
    return "".join(str(p) for p in parts)


def join(sep: Any, *parts: Any) -> Any:
    if sep is None or any(p is None for p in parts):
        return None
    flat: list[str] = []
    for p in parts:
        flat.extend(str(x) for x in p) if isinstance(p, tuple) else flat.append(str(p))
    return sep.join(flat)


#: the one-field transformers over strings
SINGLE_STRING: dict[str, Callable[[Any], Any]] = {
    "tolower": tolower, "toupper": toupper, "basename": basename, "b64": b64,
}  # fmt: skip
#: the one-field transformers (strings, plus ``len``)
SINGLE: dict[str, Callable[[Any], Any]] = {**SINGLE_STRING, "len": length}
