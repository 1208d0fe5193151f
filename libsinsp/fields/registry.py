"""The field registry: every field libsinsp can extract, by name, per event source.

A field class (``evt``, ``process``, ``fd``...) is a list of ``FieldSpec``: the
static ``FieldInfo`` the filter compiler needs, plus what listing and output
need (class, display name, flags) and how the value prints (``ptype`` and
``fmt``: upstream's PT_* type and PF_* print format, which decide e.g. that
``fd.dev`` prints in hex and ``evt.rawtime.ns`` zero-padded). Extraction is a
``make(arg) -> extractor`` per field, so argument parsing happens once at
compile time and the per-event extractor is a plain closure.

Plugins add their classes with ``add_fields``; a name already registered is an
error, as in upstream's filter check list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from libsinsp.filter.fields import NUMERIC_TYPES, AnyOf, ArgRule, Constant, Extractor, FieldInfo, FieldType

#: upstream PT_* names of field values -> the filter compiler's type
_PTYPES: dict[str, FieldType] = {
    "INT8": FieldType.INT64, "INT16": FieldType.INT64, "INT32": FieldType.INT64,
    "INT64": FieldType.INT64, "UINT8": FieldType.UINT64, "UINT16": FieldType.UINT64,
    "UINT32": FieldType.UINT64, "UINT64": FieldType.UINT64, "DOUBLE": FieldType.DOUBLE,
    "CHARBUF": FieldType.CHARBUF, "FSPATH": FieldType.FSPATH, "BYTEBUF": FieldType.BYTEBUF,
    "BOOL": FieldType.BOOL, "IPADDR": FieldType.IPADDR, "IPNET": FieldType.IPNET,
    "PORT": FieldType.PORT, "L4PROTO": FieldType.L4PROTO, "ABSTIME": FieldType.ABSTIME,
    "RELTIME": FieldType.RELTIME, "DYN": FieldType.CHARBUF,
}  # fmt: skip

#: the filter compiler's type -> the PT_* name a plugin field prints as
_FROM_FTYPE: dict[FieldType, str] = {
    FieldType.UINT64: "UINT64", FieldType.INT64: "INT64", FieldType.DOUBLE: "DOUBLE",
    FieldType.STRING: "CHARBUF", FieldType.CHARBUF: "CHARBUF", FieldType.FSPATH: "FSPATH",
    FieldType.BYTEBUF: "BYTEBUF", FieldType.BOOL: "BOOL", FieldType.IPADDR: "IPADDR",
    FieldType.IPNET: "IPNET", FieldType.PORT: "PORT", FieldType.L4PROTO: "L4PROTO",
    FieldType.ABSTIME: "ABSTIME", FieldType.RELTIME: "RELTIME",
}  # fmt: skip

#: display flags, as upstream's EPF_* (listing and formatter use them)
FLAGS = frozenset({"filter_only", "print_only", "table_only", "deprecated", "no_rhs", "no_transformer"})

Factory = Callable[[str | None], Extractor]
#: (arg, event code) -> the field's extractor for events of that code, its Constant
#: value on all of them, or None for the general extractor
CodeFactory = Callable[[str | None, int], Extractor | Constant | None]


class FieldError(ValueError):
    """A field registration or argument problem (names the field)."""


@dataclass(frozen=True)
class FieldSpec:
    """One registered field."""

    info: FieldInfo
    cls: str
    ptype: str
    fmt: str
    display: str
    flags: frozenset[str]
    make: Factory = field(compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.info.name

    def as_dict(self) -> dict[str, Any]:
        """The listing entry (``sinsp -l -j``, ``falco --list -o json``)."""
        return {
            "name": self.name, "class": self.cls, "type": self.ptype.lower(),
            "display": self.display, "desc": self.info.description,
            "arg": self.info.arg.value, "is_list": self.info.is_list,
            "flags": sorted(self.flags),
        }  # fmt: skip


def spec(
    cls: str,
    name: str,
    ptype: str,
    desc: str,
    make: Factory,
    *,
    fmt: str = "NA",
    arg: ArgRule = ArgRule.NONE,
    display: str = "",
    flags: Iterable[str] = (),
    is_list: bool = False,
) -> FieldSpec:
    """A FieldSpec with the compiler's type derived from the PT_* name."""
    flagset = frozenset(flags)
    if ptype not in _PTYPES or not flagset <= FLAGS:
        raise FieldError(f"field '{name}': bad type {ptype!r} or flags {sorted(flagset - FLAGS)}")
    info = FieldInfo(name, _PTYPES[ptype], arg, is_list, desc)
    return FieldSpec(info, cls, ptype, fmt, display or name, flagset, make)


def simple(fn: Callable[[Any], Any]) -> Factory:
    """The factory of a field without argument: the extractor is ``fn`` itself."""
    return lambda arg: fn


@dataclass(frozen=True)
class FieldClass:
    """A named group of fields (``sinsp -l`` prints one section per class)."""

    name: str
    desc: str
    fields: tuple[FieldSpec, ...]
    sources: tuple[str, ...] = ("syscall",)


@dataclass(frozen=True)
class Bound:
    """A field with its argument: what a formatter token or a filter check holds."""

    spec: FieldSpec
    arg: str | None
    extract: Extractor
    ptype: str
    fmt: str


class SinspFieldRegistry:
    """Field lookup for the filter compiler and the formatter (FieldRegistry protocol).

    ``lookup`` finds ``evt.arg.fd`` under ``evt.arg`` (the longest registered
    dotted prefix that takes an argument). ``evt.rawarg.NAME`` is looked up with
    the type of the first event parameter called NAME, as upstream does.
    """

    def __init__(self) -> None:
        self._classes: list[FieldClass] = []
        self._by_name: dict[str, FieldSpec] = {}
        self._sources: dict[str, tuple[str, ...]] = {}
        self._dynamic_types: dict[str, Callable[[str], tuple[str, str] | None]] = {}
        self._validators: dict[str, Callable[[str], str | None]] = {}
        self._any_of: dict[str, Callable[[str | None], AnyOf | None]] = {}
        self._any_of_made: dict[tuple[str, str | None], AnyOf | None] = {}
        self._for_code: dict[str, CodeFactory] = {}
        #: names of the async events loaded plugins emit (valid evt.type values)
        self.async_event_names: set[str] = set()

    # -- registration ----------------------------------------------------------
    def add_class(self, fc: FieldClass) -> None:
        clash = [f.name for f in fc.fields if f.name in self._by_name]
        if clash:
            raise FieldError(f"field class '{fc.name}': fields already registered: {', '.join(clash)}")
        self._classes.append(fc)
        for f in fc.fields:
            self._by_name[f.name] = f
            self._sources[f.name] = fc.sources

    def add_fields(
        self,
        class_name: str,
        infos: Iterable[FieldInfo],
        extractor_factory: Callable[[FieldInfo, str | None], Extractor],
        sources: Iterable[str],
        desc: str = "",
    ) -> None:
        """Register a plugin's field class; overlapping names raise FieldError."""
        specs = []
        for info in infos:
            ptype = _FROM_FTYPE[info.type]
            fmt = "DEC" if info.type in NUMERIC_TYPES else "NA"
            make = (lambda i: lambda arg: extractor_factory(i, arg))(info)
            specs.append(FieldSpec(info, class_name, ptype, fmt, info.name, frozenset(), make))
        self.add_class(FieldClass(class_name, desc, tuple(specs), tuple(sources)))

    def set_dynamic_type(self, name: str, resolve: Callable[[str], tuple[str, str] | None]) -> None:
        """For a field whose type depends on its argument (evt.rawarg): arg -> (ptype, fmt)."""
        self._dynamic_types[name] = resolve

    def set_value_validator(self, name: str, check: Callable[[str], str | None]) -> None:
        """For a field with a closed set of values (evt.type): value -> error or None."""
        self._validators[name] = check

    def set_any_of(self, name: str, make: Callable[[str | None], AnyOf | None]) -> None:
        """For a field whose checks match if any of several values does (proc.aname
        without index, fd.ip): arg -> the candidates' extractor, or None."""
        self._any_of[name] = make
        self._any_of_made.clear()

    def make_any_extractor(self, field: FieldInfo, arg: str | None) -> AnyOf | None:
        """The filter compiler's hook for "any of" fields (see set_any_of): one AnyOf per
        field and argument, so that a function compiled from several checks on the
        field extracts its candidates once."""
        key = (field.name, arg)
        if key not in self._any_of_made:
            make = self._any_of.get(field.name)
            self._any_of_made[key] = None if make is None else make(arg)
        return self._any_of_made[key]

    def set_code_extractor(self, name: str, make: CodeFactory) -> None:
        """For a field whose extraction the event code partly decides (fd fields are
        missing on events using no fd; evt.arg.NAME sits at one position per code):
        how to extract it from events of one code (see make_code_extractor)."""
        self._for_code[name] = make

    def make_code_extractor(self, field: FieldInfo, arg: str | None, code: int) -> Extractor | Constant | None:
        """The filter compiler's hook for functions compiled per event code: the
        field's extractor for events of ``code``, its Constant value on all of them,
        or None (use make_extractor)."""
        make = self._for_code.get(field.name)
        return None if make is None else make(arg, code)

    def validate_value(self, field: FieldInfo, arg: str | None, value: str) -> None:
        """The filter compiler's hook: ValueError for a value ``field`` can never have."""
        check = self._validators.get(field.name)
        error = check(value) if check is not None else None
        if error:
            raise ValueError(error)

    # -- lookup ------------------------------------------------------------------
    def spec(self, name: str) -> FieldSpec | None:
        """The spec of ``name`` or of its longest dotted prefix taking an argument."""
        f = self._by_name.get(name)
        if f is not None:
            return f
        i = name.rfind(".")
        while i > 0:
            f = self._by_name.get(name[:i])
            if f is not None and f.info.arg != ArgRule.NONE:
                return f
            i = name.rfind(".", 0, i)
        return None

    def lookup(self, name: str) -> FieldInfo | None:
        f = self.spec(name)
        if f is None:
            return None
        resolve = self._dynamic_types.get(f.name)
        if resolve is not None and len(name) > len(f.name):
            typed = resolve(name[len(f.name) + 1 :])
            if typed is not None:
                info = f.info
                return FieldInfo(info.name, _PTYPES[typed[0]], info.arg, info.is_list, info.description)
        return f.info

    def make_extractor(self, field: FieldInfo, arg: str | None) -> Extractor:
        return self.bind(field.name, arg).extract

    def bind(self, name: str, arg: str | None) -> Bound:
        """The field ``name`` (canonical) bound to ``arg``; FieldError for a bad argument."""
        f = self._by_name.get(name)
        if f is None:
            raise FieldError(f"unknown field '{name}'")
        ptype, fmt = f.ptype, f.fmt
        resolve = self._dynamic_types.get(name)
        if resolve is not None and arg is not None:
            typed = resolve(arg)
            if typed is None:
                raise FieldError(f"field '{name}': no event parameter called '{arg}'")
            ptype, fmt = typed
        return Bound(f, arg, f.make(arg), ptype, fmt)

    def sources_of(self, name: str) -> tuple[str, ...]:
        return self._sources.get(name, ())

    # -- listing -------------------------------------------------------------------
    def fields_by_class(self) -> list[FieldClass]:
        return list(self._classes)

    def __iter__(self) -> Iterator[FieldSpec]:
        for fc in self._classes:
            yield from fc.fields

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


_REGISTRY: SinspFieldRegistry | None = None
_LOCK = threading.Lock()


def registry() -> SinspFieldRegistry:
    """The one shared registry with libsinsp's own field classes (built on first use)."""
    global _REGISTRY
    with _LOCK:
        if _REGISTRY is None:
            from libsinsp.fields import container, evt, fd, fspath, plugin_meta, proc, user

            reg = SinspFieldRegistry()
            for mod in (evt, plugin_meta, proc, user, container, fd, fspath):
                for fc in mod.CLASSES:
                    reg.add_class(fc)
            evt.install(reg)
            proc.install(reg)
            fd.install(reg)
            _REGISTRY = reg
        return _REGISTRY
