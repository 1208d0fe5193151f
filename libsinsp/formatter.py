"""Output format strings: ``%field`` tokens, as sysdig ``-p`` and Falco rule outputs use them.

A format is parsed once into literal text and field tokens: ``%proc.name``,
``%proc.aname[2]``, ``%evt.arg.fd``, ``%12proc.name`` (padded/cut to 12
characters), ``%tolower(proc.name)`` (a transformer over one field). A name is
matched as long as it names a field (``%proc.name.`` is the field followed by a
dot), as upstream does. A leading ``*`` means "print even when values are
missing"; without it ``render`` returns None for such an event (sysdig skips
the line) while ``format`` always prints, with ``<NA>`` for what is missing
(what Falco does: it adds the ``*`` itself).

Values print as upstream's rawval_to_string: numbers by the field's print
format (hex, zero-padded...), booleans as true/false, addresses as text.
``values`` gives the ``output_fields`` map of Falco's JSON alerts (typed
values, None for missing; fields inside transformers are listed, transformed
ones are not).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from libscap.render import printable

from libsinsp.fields import registry as default_registry
from libsinsp.fields.registry import Bound, FieldError, SinspFieldRegistry
from libsinsp.filter.transformers import SINGLE as _TRANSFORMERS

if TYPE_CHECKING:
    from libsinsp.event import SinspEvent

NA = "<NA>"
#: sysdig's default line (-p not given); evt.outputtime prints as evt.time
DEFAULT_FORMAT = "*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info"
#: sysdig -j without -p: these fields as a JSON object
DEFAULT_JSON_FIELDS = ("evt.cpu", "evt.dir", "evt.info", "evt.num", "evt.outputtime", "evt.type",
                       "proc.name", "thread.tid")  # fmt: skip

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


class FormatError(ValueError):
    """A bad format string; ``pos`` is the 0-based position of the offending ``%``."""

    def __init__(self, message: str, fmt: str, pos: int) -> None:
        super().__init__(f"{message} at position {pos} of format '{fmt}'")
        self.reason = message
        self.pos = pos


def value_text(ptype: str, fmt: str, value: Any) -> str | None:
    """A field value as output text (None stays None: the caller prints <NA>)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        if fmt == "HEX":
            return "%X" % (value & 0xFFFFFFFFFFFFFFFF if value < 0 else value)
        if fmt == "PADDED":
            return "%09d" % value
        if fmt == "OCT":
            return "%o" % value
        return str(value)
    if isinstance(value, float):
        return "%.1f" % value
    if isinstance(value, bytes):
        return printable(value, None)
    if isinstance(value, tuple):
        return "(" + ",".join(value_text(ptype, fmt, v) or NA for v in value) + ")"
    return str(value)


def value_json(ptype: str, fmt: str, value: Any) -> Any:
    """A field value as Falco's JSON output has it (numbers stay numbers unless hex/padded)."""
    if value is None or isinstance(value, (bool, str, float)):
        return value
    if isinstance(value, int):
        return value if fmt not in ("HEX", "PADDED", "OCT") else value_text(ptype, fmt, value)
    if isinstance(value, tuple):
        return [value_json(ptype, fmt, v) for v in value]
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    return value_text(ptype, fmt, value)


@dataclass(frozen=True)
class _Token:
    """One ``%`` token: its name as written, the bound field, an optional transformer."""

    name: str
    bound: Bound
    transform: Callable[[Any], Any] | None
    width: int

    def text(self, sevt: "SinspEvent") -> str | None:
        v = self.bound.extract(sevt)
        if self.transform is not None:
            v = self.transform(v)
            return None if v is None else value_text("CHARBUF", "DEC", v)
        return value_text(self.bound.ptype, self.bound.fmt, v)


class Formatter:
    """A parsed format string (see the module docs)."""

    def __init__(self, fmt: str, registry: SinspFieldRegistry | None = None) -> None:
        if not fmt:
            raise FormatError("empty format", fmt, 0)
        self.fmt = fmt
        self.registry = registry or default_registry()
        self.require_all = not fmt.startswith("*")
        self._parts: list[str | _Token] = []
        #: name as written -> bound field, for values() (fields inside transformers too)
        self._fields: dict[str, Bound] = {}
        self._parse(fmt[0 if self.require_all else 1 :], 0 if self.require_all else 1)

    @property
    def field_names(self) -> list[str]:
        """The fields of the format as written (``proc.aname[2]``), in order, once each."""
        return list(self._fields)

    # -- parsing ------------------------------------------------------------------
    def _parse(self, text: str, base: int) -> None:
        i, n, lit = 0, len(text), []
        while i < n:
            c = text[i]
            if c != "%":
                lit.append(c)
                i += 1
                continue
            if i == n - 1:
                raise FormatError("format ends with '%'", self.fmt, base + i)
            if lit:
                self._parts.append("".join(lit))
                lit = []
            j = i + 1
            while j < n and text[j].isdigit():
                j += 1
            width = int(text[i + 1 : j]) if j > i + 1 else 0
            try:
                token, i = self._token(text, j, base, width)
            except FormatError as e:
                raise FormatError(e.reason, self.fmt, base + i) from None
            self._parts.append(token)
        if lit:
            self._parts.append("".join(lit))

    def _token(self, text: str, start: int, base: int, width: int) -> tuple[_Token, int]:
        m = _NAME.match(text, start)
        if m is None:
            raise FormatError("expected a field name after '%'", self.fmt, base + start)
        word = m.group(0)
        end = m.end()
        if word in _TRANSFORMERS and end < len(text) and text[end] == "(":
            inner_name, bound, close = self._field(text, end + 1, base)
            if close >= len(text) or text[close] != ")":
                raise FormatError(f"transformer '{word}' lacks ')'", self.fmt, base + close)
            name = f"{word}({inner_name})"
            return _Token(name, bound, _TRANSFORMERS[word], width), close + 1
        name, bound, stop = self._field(text, start, base)
        return _Token(name, bound, None, width), stop

    def _field(self, text: str, start: int, base: int) -> tuple[str, Bound, int]:
        """(name as written, bound field, index after it) of the field at ``start``."""
        m = _NAME.match(text, start)
        if m is None:
            raise FormatError("expected a field name", self.fmt, base + start)
        word = m.group(0)
        cand = word
        while cand and self.registry.spec(cand) is None:
            cand = cand[:-1]
        spec = self.registry.spec(cand) if cand else None
        if spec is None:
            raise FormatError(f"unknown field '{word.rstrip('.')}'", self.fmt, base + start)
        stop = start + len(cand)
        arg = cand[len(spec.name) + 1 :] if len(cand) > len(spec.name) else None
        if arg is None and stop < len(text) and text[stop] == "[":
            close = text.find("]", stop)
            if close < 0:
                raise FormatError(f"field '{spec.name}': '[' without ']'", self.fmt, base + stop)
            arg = text[stop + 1 : close]
            stop = close + 1
        name = text[start:stop]
        try:
            bound = self.registry.bind(spec.name, arg)
        except FieldError as e:
            raise FormatError(str(e), self.fmt, base + start) from None
        if arg is None and spec.info.arg.name.startswith("REQUIRED"):
            raise FormatError(f"field '{spec.name}' requires an argument", self.fmt, base + start)
        self._fields.setdefault(name, bound)
        return name, bound, stop

    # -- output -------------------------------------------------------------------
    def render(self, sevt: "SinspEvent") -> str | None:
        """The line; None when a value is missing and the format has no leading '*'."""
        return self._line(sevt, self.require_all)

    def format(self, sevt: "SinspEvent") -> str:
        """The line, with <NA> for missing values (as Falco prints rule outputs)."""
        return self._line(sevt, False)  # type: ignore[return-value]  # never None without require_all

    def _line(self, sevt: "SinspEvent", require_all: bool) -> str | None:
        out = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            s = part.text(sevt)
            if s is None:
                if require_all:
                    return None
                s = NA
            if part.width:
                s = s[: part.width].ljust(part.width)
            out.append(s)
        return "".join(out)

    def values(self, sevt: "SinspEvent") -> dict[str, Any]:
        """Falco's ``output_fields``: field name as written -> JSON value (None missing)."""
        return {name: value_json(b.ptype, b.fmt, b.extract(sevt)) for name, b in self._fields.items()}

    def to_json(self, sevt: "SinspEvent") -> str:
        """One JSON object of the format's fields (sysdig ``-j -p``)."""
        return json.dumps(self.values(sevt), separators=(",", ":"))
