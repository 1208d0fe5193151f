"""Rules-file items as collected across contents, and the collector that applies
definitions, appends, selective replaces and enable toggles in file order.

Semantics follow falco's rule_loader_collector.cpp (engine 0.63): a redefinition
keeps the item's original position (``index``) but moves its ``visibility``
forward; appends/replaces only move ``visibility``; errors are
LOAD_ERR_VALIDATE with the item's context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from falco_engine.results import Context, ErrorCode, LoadError, LoadResult, WarningCode
from falco_engine.version import ENGINE, Version
from libsinsp.filter.lexer import ALL_OPS, MODIFIERS, SYMBOL_STR_OPS, WORD_STR_OPS

PRIORITIES = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice",
              "Informational", "Debug")  # fmt: skip


def parse_priority(text: str) -> int | None:
    """Priority number (0 Emergency .. 7 Debug), case-insensitive, "info" accepted."""
    low = text.lower()
    for i, name in enumerate(PRIORITIES):
        if low == name.lower() or (name == "Informational" and low == "info"):
            return i
    return None


def is_str_operator_with_modifier(op: str) -> bool:
    """``startswith oneof`` and the like: a string operator and a list modifier."""
    parts = op.split()
    return len(parts) == 2 and parts[0] in SYMBOL_STR_OPS + WORD_STR_OPS and parts[1] in MODIFIERS


@dataclass
class Entry:
    """An exception's fields/comps/value: one string or a list of entries."""

    is_list: bool = False
    item: str = ""
    items: list[Entry] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return bool(self.items) if self.is_list else bool(self.item)


@dataclass
class ExceptionInfo:
    ctx: Context
    name: str
    fields: Entry = field(default_factory=Entry)
    comps: Entry = field(default_factory=Entry)
    values: list[Entry] = field(default_factory=list)


@dataclass
class ListInfo:
    ctx: Context
    name: str
    items: list[str]
    index: int = 0
    visibility: int = 0


@dataclass
class MacroInfo:
    ctx: Context
    cond_ctx: Context
    name: str
    cond: str
    index: int = 0
    visibility: int = 0


@dataclass
class RuleInfo:
    ctx: Context
    cond_ctx: Context
    output_ctx: Context
    name: str
    cond: str = ""
    output: str = ""
    desc: str = ""
    priority: int = 7
    source: str = "syscall"
    tags: set[str] = field(default_factory=set)
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    enabled: bool = True
    capture: bool = False
    capture_duration: int = 0
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    unknown_source: bool = False
    index: int = 0
    visibility: int = 0


@dataclass
class RuleUpdate:
    """An append or selective replace of a rule: only the keys given are set."""

    ctx: Context
    name: str
    source: str = ""
    cond: str | None = None
    output: str | None = None
    desc: str | None = None
    tags: set[str] | None = None
    exceptions: list[ExceptionInfo] | None = None
    priority: int | None = None
    capture: bool | None = None
    capture_duration: int | None = None
    enabled: bool | None = None
    warn_evttypes: bool | None = None
    skip_if_unknown_filter: bool | None = None

    def has_any_value(self) -> bool:
        keys = ("cond", "output", "desc", "tags", "exceptions", "priority", "capture",
                "capture_duration", "enabled", "warn_evttypes", "skip_if_unknown_filter")  # fmt: skip
        return any(getattr(self, k) is not None for k in keys)


@dataclass(frozen=True)
class PluginRequirement:
    name: str
    version: str


def _fail(cond: bool, message: str, ctx: Context) -> None:
    if cond:
        raise LoadError(ErrorCode.LOAD_ERR_VALIDATE, message, ctx)


_I = TypeVar("_I", ListInfo, MacroInfo, RuleInfo)

#: is ``field`` (possibly with a transformer) a valid left-hand side for ``source``?
FieldCheck = Callable[[str, str], bool]


class Collector:
    """Everything read so far, across every content loaded into an engine."""

    def __init__(self, sources: Callable[[], set[str]], field_ok: FieldCheck) -> None:
        self._sources = sources
        self._field_ok = field_ok
        self.lists: dict[str, ListInfo] = {}
        self.macros: dict[str, MacroInfo] = {}
        self.rules: dict[str, RuleInfo] = {}
        self.required_engine_version: Version = Version(0, 0, 0)
        self.required_plugin_versions: list[list[PluginRequirement]] = []
        self._next = 0

    def _tick(self) -> int:
        n = self._next
        self._next += 1
        return n

    def _define(self, table: dict[str, _I], info: _I) -> None:
        n = self._tick()
        prev = table.get(info.name)
        info.index = prev.index if prev is not None else n
        info.visibility = n
        table[info.name] = info  # dicts keep first-insertion order, as upstream's indexed_vector

    # -- versions -----------------------------------------------------------
    def define_engine_version(self, version: Version, ctx: Context) -> None:
        _fail(not ENGINE.compatible_with(version),
              f"Rules require engine version {version}, but engine version is {ENGINE}", ctx)  # fmt: skip
        self.required_engine_version = max(self.required_engine_version, version)

    def define_plugin_versions(self, alternatives: list[PluginRequirement], ctx: Context) -> None:
        names: set[str] = set()
        for req in alternatives:
            _fail(Version.parse(req.version) is None,
                  f"Invalid required version '{req.version}' for plugin '{req.name}'", ctx)  # fmt: skip
            _fail(req.name in names,
                  f"Defined multiple alternative version requirements for plugin '{req.name}'", ctx)  # fmt: skip
            names.add(req.name)
        self.required_plugin_versions.append(alternatives)

    # -- lists and macros ---------------------------------------------------
    def define_list(self, info: ListInfo) -> None:
        self._define(self.lists, info)

    def append_list(self, info: ListInfo) -> None:
        prev = self.lists.get(info.name)
        _fail(prev is None,
              "List uses 'append' or 'override.items: append' but no list by that name already exists",
              info.ctx)  # fmt: skip
        assert prev is not None
        prev.items = prev.items + info.items
        prev.visibility = self._tick()

    def define_macro(self, info: MacroInfo) -> None:
        self._define(self.macros, info)

    def append_macro(self, info: MacroInfo) -> None:
        prev = self.macros.get(info.name)
        _fail(prev is None,
              "Macro uses 'append' or 'override.condition: append' but no macro by that name "
              "already exists", info.ctx)  # fmt: skip
        assert prev is not None
        prev.cond = prev.cond + " " + info.cond
        prev.visibility = self._tick()

    # -- rules --------------------------------------------------------------
    def _prev_rule(self, name: str, source: str, ctx: Context) -> RuleInfo | None:
        prev = self.rules.get(name)
        _fail(prev is not None and prev.source != "" and source != "" and prev.source != source,
              "Rule has been re-defined with a different source", ctx)  # fmt: skip
        return prev

    def define_rule(self, info: RuleInfo, result: LoadResult) -> None:
        self._prev_rule(info.name, info.source, info.ctx)
        known = info.source in self._sources()
        if not known:
            info.unknown_source = True
            result.add_warning(WarningCode.LOAD_UNKNOWN_SOURCE,
                               f"Unknown source {info.source}, skipping", info.ctx)  # fmt: skip
        for ex in info.exceptions:
            _fail(not ex.fields.valid,
                  "Rule exception item must have fields property with a list of fields", ex.ctx)  # fmt: skip
            self._validate_exception(info.source if known else None, ex)
        self._define(self.rules, info)

    def _updatable(self, info: RuleUpdate, missing: str, empty: str) -> tuple[RuleInfo, str | None]:
        prev = self._prev_rule(info.name, info.source, info.ctx)
        _fail(prev is None, missing, info.ctx)
        assert prev is not None
        _fail(not info.has_any_value(), empty, info.ctx)
        return prev, (None if prev.unknown_source else prev.source)

    def append_rule(self, info: RuleUpdate) -> None:
        prev, source = self._updatable(
            info,
            "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists",
            "Appended rule must have exceptions or condition property",
        )
        if info.cond:
            prev.cond += " " + info.cond
        if info.output:
            prev.output += " " + info.output
        if info.desc:
            prev.desc += " " + info.desc
        if info.tags is not None:
            prev.tags |= info.tags
        for ex in info.exceptions or ():
            base = next((e for e in prev.exceptions if e.name == ex.name), None)
            if base is None:
                _fail(not ex.fields.valid,
                      "Rule exception must have fields property with a list of fields", ex.ctx)  # fmt: skip
                _fail(not ex.values,
                      "Rule exception must have values property with a list of values", ex.ctx)  # fmt: skip
                self._validate_exception(source, ex)
                prev.exceptions.append(ex)
            else:
                _fail(ex.fields.valid,
                      "Can not append exception fields to existing exception, only values", ex.ctx)  # fmt: skip
                _fail(ex.comps.valid,
                      "Can not append exception comps to existing exception, only values", ex.ctx)  # fmt: skip
                base.values = base.values + ex.values
        prev.visibility = self._tick()

    def replace_rule(self, info: RuleUpdate) -> None:
        prev, _ = self._updatable(
            info,
            "An 'override.<key>: replace' to a rule was requested but no rule by that name "
            "already exists",
            "The rule must have at least one field that can be replaced",
        )
        for key in ("cond", "output", "desc", "tags", "exceptions", "priority", "capture",
                    "capture_duration", "enabled", "warn_evttypes", "skip_if_unknown_filter"):  # fmt: skip
            value = getattr(info, key)
            if value is not None:
                setattr(prev, key, value)
        prev.visibility = self._tick()

    def enable_rule(self, name: str, enabled: bool, ctx: Context) -> None:
        prev = self.rules.get(name)
        _fail(prev is None, "Rule has 'enabled' key but no rule by that name already exists", ctx)
        assert prev is not None
        prev.enabled = enabled

    # -- exceptions ---------------------------------------------------------
    def _validate_exception(self, source: str | None, ex: ExceptionInfo) -> None:
        """Default comps, check operators and fields (as upstream, mutating ``ex``)."""
        if ex.fields.is_list:
            if not ex.comps.valid:
                ex.comps = Entry(True, "", [Entry(False, "=") for _ in ex.fields.items])
            _fail(len(ex.fields.items) != len(ex.comps.items),
                  "Fields and comps lists must have equal length", ex.ctx)  # fmt: skip
            ex.comps.items = [replace(c, item=c.item.strip(" \t\r\n")) for c in ex.comps.items]
            for c in ex.comps.items:
                _fail(c.item not in ALL_OPS and not is_str_operator_with_modifier(c.item),
                      f"'{c.item}' is not a supported comparison operator", ex.ctx)  # fmt: skip
            if source is not None:
                for f in ex.fields.items:
                    _fail(not self._field_ok(source, f.item),
                          f"'{f.item}' is not a supported filter field", ex.ctx)  # fmt: skip
        else:
            if not ex.comps.valid:
                ex.comps = Entry(False, "in")
            _fail(ex.comps.is_list, "Fields and comps must both be strings", ex.ctx)
            ex.comps.item = ex.comps.item.strip(" \t\r\n")
            _fail(ex.comps.item not in ("in", "pmatch", "intersects")
                  and not is_str_operator_with_modifier(ex.comps.item),
                  "When fields is a single value, comps must be one of (in, pmatch, intersects) "
                  "or a modifier operator (e.g. startswith oneof)", ex.ctx)  # fmt: skip
            if source is not None:
                _fail(not self._field_ok(source, ex.fields.item),
                      f"'{ex.fields.item}' is not a supported filter field", ex.ctx)  # fmt: skip
