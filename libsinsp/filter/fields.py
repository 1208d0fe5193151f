"""The interface between the filter compiler and the field classes of libsinsp.

The compiler needs, per field name, its type and argument rules (to validate and
to parse constants at compile time) and an extractor (to read the value from an
event at run time). libsinsp's field classes implement ``FieldRegistry``; tests
use a small fake one.

Extractor value conventions (``None`` always means "value missing"):
numeric types -> ``int`` (``float`` for DOUBLE); string types -> ``str``;
BYTEBUF -> ``bytes``; BOOL -> ``bool``; IPADDR and IPNET -> an
``ipaddress.IPv4Address``/``IPv6Address`` (an IPNET field's value is the address
that filter values, which are networks, must contain); list fields -> a tuple of
the element values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple, Protocol


class FieldType(str, Enum):
    UINT64 = "uint64"
    INT64 = "int64"
    DOUBLE = "double"
    STRING = "string"
    CHARBUF = "charbuf"
    FSPATH = "fspath"
    BYTEBUF = "bytebuf"
    BOOL = "bool"
    IPADDR = "ipaddr"
    IPNET = "ipnet"
    PORT = "port"
    L4PROTO = "l4proto"
    ABSTIME = "abstime"
    RELTIME = "reltime"


NUMERIC_TYPES = frozenset(
    {FieldType.UINT64, FieldType.INT64, FieldType.DOUBLE, FieldType.PORT,
     FieldType.L4PROTO, FieldType.ABSTIME, FieldType.RELTIME}
)  # fmt: skip
STRING_TYPES = frozenset({FieldType.STRING, FieldType.CHARBUF, FieldType.FSPATH})


class ArgRule(Enum):
    """What may follow the field name in ``[...]`` (or as a dotted suffix, ``evt.arg.fd``)."""

    NONE = "none"
    OPTIONAL_INDEX = "optional index"  # proc.aname / proc.aname[2]
    REQUIRED_INDEX = "required index"
    REQUIRED_KEY = "required key"  # any non-empty text
    REQUIRED_INDEX_OR_KEY = "required index or key"  # evt.arg[0] / evt.arg.name
    OPTIONAL_KEY = "optional key"


@dataclass(frozen=True)
class FieldInfo:
    """Static description of one field (``name`` is the canonical name without argument)."""

    name: str
    type: FieldType
    arg: ArgRule = ArgRule.NONE
    is_list: bool = False
    description: str = ""


Extractor = Callable[[Any], Any]


class AnyOf(NamedTuple):
    """Candidates of an "any of" field: a check matches if it holds for any
    candidate, or with ``ne_all`` a ``!=`` check only if it holds for all of them
    (upstream's fd.ip/fd.port/fd.net: "!=" means both ends differ)."""

    extract: Extractor
    ne_all: bool = False


class Constant(NamedTuple):
    """What a field extracts from every event of one event code (``None``: the
    field is missing on all of them), so checks on it are decided at compile time."""

    value: Any


class FieldRegistry(Protocol):
    """Field lookup and extractor construction, implemented by libsinsp's field classes.

    Optionally a registry has ``validate_value(field, arg, value) -> None`` raising
    ValueError (its message is the compile error) for a right-hand value the field
    can never have; the compiler calls it on every value of a check on a plain field
    (libsinsp's validate_filter_value: unknown ``evt.type`` names).

    Optionally also ``make_any_extractor(field, arg) -> AnyOf | None``: for a
    field whose checks mean "any of several values match" (``proc.aname`` without
    an index: any ancestor; ``fd.ip``: either end), the extractor of the candidate
    values as a tuple; the compiler then tests each check against every candidate.
    None for other fields.

    An extractor with a true ``cheap`` attribute (a few tens of ns, no side effect)
    is called up front by a function using it more than once, instead of on first use.

    Optionally also ``make_code_extractor(field, arg, code) -> Extractor | Constant | None``:
    for a function that only ever sees events of event code ``code`` (the rules
    engine compiles one per code), an extractor that skips what the code already
    decides, or the field's ``Constant`` value on every such event; None for the
    general extractor.
    """

    def lookup(self, name: str) -> FieldInfo | None:
        """Field named ``name``; for dotted-argument fields (``evt.arg.fd``) return the
        field whose ``name`` is a dotted prefix of ``name`` (here ``evt.arg``)."""
        ...

    def make_extractor(self, field: FieldInfo, arg: str | None) -> Extractor:
        """A callable ``event -> value | None`` for ``field`` with argument ``arg``."""
        ...
