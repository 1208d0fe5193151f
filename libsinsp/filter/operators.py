"""Typed comparison operators: which operators each field type supports, how a
filter value is parsed once at compile time, and the Python expression that
performs the comparison at run time.

Each operator is an ``OpSpec``: ``prepare(text) -> constant`` (raises ValueError
with a reason) and ``code(t, c) -> str`` building an expression over the
extracted value variable ``t`` (known not to be None) and the constant's name.

Semantics (as upstream): ``glob``/``iglob`` are fnmatch(3) without FNM_PATHNAME
or escapes (``*`` crosses ``/``), ``iglob``/``icontains`` fold case,
``regex`` must match the whole value (Python ``re`` syntax stands in for RE2),
``bcontains``/``bstartswith`` take hex bytes, ``pmatch`` is a path-prefix match
on whole path components, ``in`` on a list field means every element is in the
set while ``intersects`` means at least one is.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from libsinsp.filter.fields import NUMERIC_TYPES, STRING_TYPES, FieldType

_DEC = re.compile(r"[+\-]?[0-9]+")
_HEXNUM = re.compile(r"[+\-]?0[xX][0-9a-fA-F]+")
_HEXBYTES = re.compile(r"(?:[0-9a-fA-F]{2})+")
_RANGES = {
    FieldType.UINT64: (0, 2**64 - 1),
    FieldType.ABSTIME: (0, 2**64 - 1),
    FieldType.RELTIME: (0, 2**64 - 1),
    FieldType.PORT: (0, 2**16 - 1),
    FieldType.L4PROTO: (0, 2**8 - 1),
    FieldType.INT64: (-(2**63), 2**63 - 1),
}


def parse_number(text: str, ftype: FieldType) -> int | float:
    """Parse a numeric filter value for a field of type ``ftype``.

    Integers are decimal only, as upstream: libs parses numeric filter values with
    ``sscanf("%" PRId64 "%c")`` (sinsp_numparser in utils.cpp, called from
    value_parser.cpp), which stops at the ``x`` of ``0x10`` and rejects the value;
    sysdig 0.29 does the same ("0x3 is not a valid number"). The grammar still
    lexes hex literals, so the error comes from here, naming the field."""
    if ftype == FieldType.DOUBLE:
        try:
            return float(text)
        except ValueError:
            raise ValueError("not a number") from None
    if _DEC.fullmatch(text):
        n = int(text)
    elif _HEXNUM.fullmatch(text):
        raise ValueError("not a decimal integer (hex values are not accepted, as upstream)")
    else:
        raise ValueError("not an integer")
    lo, hi = _RANGES[ftype]
    if not lo <= n <= hi:
        raise ValueError(f"out of range for {ftype.value}")
    return n


def parse_bool(text: str) -> bool:
    if text == "true":
        return True
    if text == "false":
        return False
    raise ValueError("not 'true' or 'false'")


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ValueError("not an IP address") from None


def parse_net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError("not an IP network") from None


def parse_hex_bytes(text: str) -> bytes:
    if not _HEXBYTES.fullmatch(text):
        raise ValueError("not a hex byte string")
    return bytes.fromhex(text)


def glob_matcher(pattern: str, ignore_case: bool) -> Callable[[str], Any]:
    """``fullmatch`` of an fnmatch(3) pattern without FNM_PATHNAME/escaping."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = i
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
                continue
            body = pattern[i:j]
            i = j + 1
            neg = body[:1] in ("!", "^")
            if neg:
                body = body[1:]
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            out.append("[" + ("^" if neg else "") + body + "]")
        else:
            out.append(re.escape(c))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(out), flags).fullmatch


def to_bytes(v: str | bytes) -> bytes:
    return v if isinstance(v, bytes) else v.encode("utf-8", "surrogateescape")


def path_prefixes(values: Iterable[str]) -> frozenset[str]:
    """Normalize pmatch prefixes: no trailing '/' (so a prefix matches whole components)."""
    return frozenset(v.rstrip("/") or "/" for v in values)


def pmatch(path: str, prefixes: frozenset[str]) -> bool:
    """True when ``path`` equals one prefix or lies below it (component-wise)."""
    if path in prefixes:
        return True
    if "/" in prefixes and path.startswith("/"):
        return True
    i = path.find("/", 1)
    while i != -1:
        if path[:i] in prefixes:
            return True
        i = path.find("/", i + 1)
    return False


class Networks:
    """The IP networks of a filter value, compiled to (network, mask) integers:
    ``addr in networks`` is a few integer operations (ipaddress's own ``in``
    costs ~1 us per network). An address matches only networks of its version."""

    __slots__ = ("v4", "v6")

    def __init__(self, nets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
        nets = tuple(nets)
        self.v4 = tuple((int(n.network_address), int(n.netmask)) for n in nets if n.version == 4)
        self.v6 = tuple((int(n.network_address), int(n.netmask)) for n in nets if n.version == 6)

    def __contains__(self, addr: Any) -> bool:
        ip = int(addr)
        return any(ip & mask == net for net, mask in (self.v4 if addr.version == 4 else self.v6))


def subset(values: tuple[Any, ...], allowed: frozenset[Any]) -> bool:
    return bool(values) and all(v in allowed for v in values)


@dataclass(frozen=True)
class OpSpec:
    prepare: Callable[[str], Any]
    code: Callable[[str, str], str]
    none_safe: bool = False  # code(t, c) is False when t is None, so no guard is needed
    dynamic: bool = False  # usable with a field (val()/transformer) on the right


def _scalar_parser(ftype: FieldType) -> Callable[[str], Any]:
    if ftype in NUMERIC_TYPES:
        return lambda s: parse_number(s, ftype)
    if ftype == FieldType.BOOL:
        return parse_bool
    if ftype == FieldType.IPADDR:
        return parse_ip
    if ftype == FieldType.IPNET:
        return parse_net
    if ftype == FieldType.BYTEBUF:
        return to_bytes
    return str


def _ident(s: str) -> str:
    return s


_CMP = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}


def scalar_ops(ftype: FieldType) -> dict[str, OpSpec]:
    """Operators (other than exists) for a single-valued field of type ``ftype``."""
    parse = _scalar_parser(ftype)
    ops: dict[str, OpSpec] = {}
    if ftype == FieldType.IPNET:
        ops["="] = OpSpec(lambda s: Networks((parse(s),)), lambda t, c: f"{t} in {c}")
        ops["!="] = OpSpec(lambda s: Networks((parse(s),)), lambda t, c: f"{t} not in {c}")
    else:
        ops["="] = OpSpec(parse, lambda t, c: f"{t} == {c}", none_safe=True, dynamic=True)
        ops["!="] = OpSpec(parse, lambda t, c: f"{t} != {c}", dynamic=True)
    ops["=="] = ops["="]
    if ftype in NUMERIC_TYPES or ftype in STRING_TYPES:
        for op, sym in _CMP.items():
            ops[op] = OpSpec(parse, lambda t, c, sym=sym: f"{t} {sym} {c}", dynamic=True)
    if ftype in STRING_TYPES or ftype == FieldType.BYTEBUF:
        ops["contains"] = OpSpec(parse, lambda t, c: f"{c} in {t}", dynamic=True)
        ops["startswith"] = OpSpec(parse, lambda t, c: f"{t}.startswith({c})", dynamic=True)
        ops["bcontains"] = OpSpec(parse_hex_bytes, lambda t, c: f"{c} in _to_bytes({t})")
        ops["bstartswith"] = OpSpec(
            parse_hex_bytes, lambda t, c: f"_to_bytes({t}).startswith({c})"
        )
    if ftype in STRING_TYPES:
        ops["icontains"] = OpSpec(
            lambda s: s.lower(), lambda t, c: f"{c}.lower() in {t}.lower()", dynamic=True
        )
        ops["endswith"] = OpSpec(_ident, lambda t, c: f"{t}.endswith({c})", dynamic=True)
        ops["glob"] = OpSpec(lambda s: glob_matcher(s, False), lambda t, c: f"{c}({t}) is not None")
        ops["iglob"] = OpSpec(lambda s: glob_matcher(s, True), lambda t, c: f"{c}({t}) is not None")
        ops["regex"] = OpSpec(_compile_regex, lambda t, c: f"{c}({t}) is not None")
    return ops


def _compile_regex(text: str) -> Callable[[str], Any]:
    try:
        return re.compile(text).fullmatch
    except re.error as e:
        raise ValueError(f"invalid regular expression: {e}") from None


def list_op(
    op: str, ftype: FieldType, is_list: bool
) -> tuple[Callable[[Iterable[str]], Any], Callable[[str, str], str]] | None:
    """(prepare over all values, code) of a list operator, or None when unsupported."""
    parse = _scalar_parser(ftype)
    if op == "pmatch":
        if ftype not in STRING_TYPES or is_list:
            return None
        return path_prefixes, lambda t, c: f"_pmatch({t}, {c})"
    if op not in ("in", "intersects"):
        return None
    if ftype == FieldType.IPNET:
        nets = lambda vals: Networks(parse(v) for v in vals)  # noqa: E731
        if is_list:
            return nets, lambda t, c: f"any(x in {c} for x in {t})"
        return nets, lambda t, c: f"{t} in {c}"
    values = lambda vals: frozenset(parse(v) for v in vals)  # noqa: E731
    if not is_list:
        return values, lambda t, c: f"{t} in {c}"
    if op == "in":
        return values, lambda t, c: f"_subset({t}, {c})"
    return values, lambda t, c: f"not {c}.isdisjoint({t})"


RUNTIME = {
    "_to_bytes": to_bytes,
    "_pmatch": pmatch,
    "_subset": subset,
}
