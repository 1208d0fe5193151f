"""A test-only field registry over dict events, standing in for libsinsp's fields."""

from __future__ import annotations

import ipaddress
from typing import Any

from libsinsp.filter.fields import AnyOf, ArgRule, Extractor, FieldInfo, FieldType

T = FieldType
FIELDS = {
    f.name: f
    for f in (
        FieldInfo("evt.type", T.CHARBUF),
        FieldInfo("evt.num", T.UINT64),
        FieldInfo("evt.rawres", T.INT64),
        FieldInfo("evt.buffer", T.BYTEBUF),
        FieldInfo("evt.is_open_write", T.BOOL),
        FieldInfo("evt.arg", T.CHARBUF, ArgRule.REQUIRED_INDEX_OR_KEY),
        FieldInfo("proc.name", T.CHARBUF),
        FieldInfo("proc.pname", T.CHARBUF),
        FieldInfo("proc.pid", T.INT64),
        FieldInfo("proc.aname", T.CHARBUF, ArgRule.OPTIONAL_INDEX),
        FieldInfo("proc.args", T.CHARBUF),
        FieldInfo("proc.cmdnargs", T.UINT64),
        FieldInfo("proc.env", T.CHARBUF, ArgRule.OPTIONAL_KEY),
        FieldInfo("fd.name", T.FSPATH),
        FieldInfo("fd.sip", T.IPADDR),
        FieldInfo("fd.net", T.IPNET),
        FieldInfo("fd.sport", T.PORT),
        FieldInfo("fd.types", T.CHARBUF, is_list=True),
        FieldInfo("evt.rel", T.RELTIME),
        FieldInfo("evt.ratio", T.DOUBLE),
    )
}


class FakeRegistry:
    """Values come from ``event[name]`` (``event["proc.aname"]`` is the ancestor list,
    ``event["evt.args"]`` a dict of name -> value plus index -> value)."""

    def lookup(self, name: str) -> FieldInfo | None:
        if name in FIELDS:
            return FIELDS[name]
        if name.startswith("evt.arg."):
            return FIELDS["evt.arg"]
        return None

    def make_any_extractor(self, field: FieldInfo, arg: str | None) -> AnyOf | None:
        """proc.aname without an index: checks match if any ancestor does."""
        if field.name == "proc.aname" and arg is None:
            return AnyOf(lambda e: None if e.get("proc.aname") is None else tuple(e["proc.aname"]))
        return None

    def make_extractor(self, field: FieldInfo, arg: str | None) -> Extractor:
        name = field.name
        if name == "proc.aname":
            idx = int(arg) if arg is not None else 1
            return lambda e: _index(e.get("proc.aname"), idx - 1)
        if name == "evt.arg":
            key: Any = int(arg) if arg is not None and arg.isdigit() else arg
            return lambda e: (e.get("evt.args") or {}).get(key)
        if name == "fd.sip" or name == "fd.net":
            return lambda e: _ip(e.get(name))
        if field.is_list:
            return lambda e: None if e.get(name) is None else tuple(e[name])
        return lambda e: e.get(name)


def _index(values: list[str] | None, i: int) -> str | None:
    return values[i] if values is not None and 0 <= i < len(values) else None


def _ip(text: str | None) -> Any:
    return None if text is None else ipaddress.ip_address(text)


class AnyFieldRegistry(FakeRegistry):
    """Accepts every field name (as a string field taking any argument): lets the
    official rules compile before libsinsp's real field table exists."""

    def lookup(self, name: str) -> FieldInfo | None:
        return super().lookup(name) or FieldInfo(name, T.CHARBUF, ArgRule.OPTIONAL_KEY)


class Counting(FakeRegistry):
    """FakeRegistry counting extractions, per field name in ``by_field``."""

    def __init__(self) -> None:
        self.calls = 0
        self.by_field: dict[str, int] = {}

    def make_extractor(self, field: FieldInfo, arg: str | None) -> Extractor:
        inner = super().make_extractor(field, arg)

        def count(e: Any) -> Any:
            self.calls += 1
            self.by_field[field.name] = self.by_field.get(field.name, 0) + 1
            return inner(e)

        return count
