"""The rules engine: load rules contents, compile them, choose which rules run,
and evaluate events.

As falco_engine (0.63): every load compiles everything collected so far (so a
later file can append to or override an earlier one); a successful load
rebuilds the rulesets and enables, in the default ruleset 0, the rules marked
enabled whose priority passes the threshold set BEFORE loading; rules below the
threshold are not in the rulesets at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from falco_engine import describe
from falco_engine.compile import CompiledRule, CompileOutput, Compiler, ExtraOutput, Source, fields_of
from falco_engine.evttypes import ALL_NAMES, syscalls_of
from falco_engine.items import PRIORITIES, Collector, PluginRequirement, parse_priority
from falco_engine.loader import Reader
from falco_engine.results import Context, ErrorCode, LoadResult
from falco_engine.ruleset import Matcher, Ruleset
from falco_engine.version import ENGINE_VERSION, Version
from libsinsp.filter import FilterError, parse
from libsinsp.filter.fields import FieldRegistry

SYSCALL_SOURCE = "syscall"


@dataclass
class Match:
    """One rule matching one event, with its output already formatted."""

    rule: str
    priority: int
    source: str
    tags: frozenset[str]
    output: str
    output_fields: dict[str, Any]
    time: int
    #: append_output extra fields: key -> value
    extra_fields: dict[str, Any] = field(default_factory=dict)
    exception_fields: frozenset[str] = frozenset()

    @property
    def priority_name(self) -> str:
        return PRIORITIES[self.priority]


def _default_registry() -> FieldRegistry:
    from libsinsp.fields import registry  # the real field table, imported only when needed

    return registry()


def _default_formatter(registry: FieldRegistry) -> Callable[[str], Any]:
    from libsinsp.formatter import Formatter

    return lambda fmt: Formatter(fmt, registry=registry)


class Engine:
    """Falco's rules engine over libsinsp events."""

    def __init__(self, registry: FieldRegistry | None = None,
                 formatter: Callable[[str], Any] | None = None) -> None:  # fmt: skip
        """``registry``: field registry of the syscall source (default libsinsp's);
        ``formatter``: ``fmt -> object with format(evt)/values(evt)`` (default
        libsinsp.formatter.Formatter over the same registry)."""
        self._sources: dict[str, Source] = {}
        self._collector = Collector(lambda: set(self._sources), self._field_ok)
        self._extra: list[ExtraOutput] = []
        self._rulesets: dict[str, Ruleset] = {}
        #: (source, ruleset id) -> its matchers by event code (for the current rule_matching)
        self._matchers: dict[tuple[str, int], Mapping[int, Any]] = {}
        self._output: CompileOutput | None = None
        self.min_priority = len(PRIORITIES) - 1
        self._first = True
        reg = registry if registry is not None else _default_registry()
        self.add_source(SYSCALL_SOURCE, reg, formatter or _default_formatter(reg))

    # -- configuration -------------------------------------------------------
    def add_source(self, name: str, registry: FieldRegistry, formatter: Callable[[str], Any]) -> None:
        """Make rules of ``source: name`` loadable (add sources before loading)."""
        self._sources[name] = Source(name, registry, formatter)
        self._rulesets[name] = Ruleset((), registry)
        self._matchers.clear()

    def set_min_priority(self, priority: str | int) -> None:
        """Keep only rules at least as severe as ``priority`` (name or 0..7); applies
        to the rules loaded afterwards, as upstream."""
        level = priority if isinstance(priority, int) else parse_priority(priority)
        if level is None or not 0 <= level < len(PRIORITIES):
            raise ValueError(f"unknown priority '{priority}'")
        self.min_priority = level

    def set_rule_matching(self, strategy: str) -> None:
        if strategy.lower() not in ("first", "all"):
            raise ValueError(f"unknown rule_matching '{strategy}' (first, all)")
        self._first = strategy.lower() == "first"
        self._matchers.clear()

    @property
    def rule_matching(self) -> str:
        """"first" (the first matching rule per event) or "all"."""
        return "first" if self._first else "all"

    def add_extra_output(self, fmt: str, source: str = "", tags: Iterable[str] = (),
                         rule: str = "") -> None:  # fmt: skip
        """``append_output`` text for the matching rules (set before loading)."""
        self._extra.append(ExtraOutput(fmt, source, frozenset(tags), rule))

    def add_extra_output_field(self, key: str, fmt: str, source: str = "", tags: Iterable[str] = (),
                               rule: str = "", raw: bool = False) -> None:  # fmt: skip
        """``append_output`` extra field ``key`` for the matching rules (set before loading)."""
        self._extra.append(ExtraOutput(fmt, source, frozenset(tags), rule, key=key, raw=raw))

    # -- loading --------------------------------------------------------------
    def load_rules(self, content: str, name: str) -> LoadResult:
        """Read ``content`` (named ``name`` in messages) and compile all rules so far."""
        res = LoadResult(name, contents={name: content})
        if not Reader(self._collector, res).read(content, name):
            return res
        out = Compiler(self._sources, self._extra).compile(self._collector, res)
        if out is None:
            return res
        self._output = out
        self._matchers.clear()
        for src in self._sources:
            rules = [r for r in out.rules if r.source == src and r.priority <= self.min_priority]
            ruleset = self._rulesets[src] = Ruleset(rules, self._sources[src].registry)
            for r in rules:
                ruleset.enable(r.name, r.info.enabled, 0, match="exact")
        return res

    def load_rules_file(self, path: str | os.PathLike[str]) -> LoadResult:
        name = os.fspath(path)
        try:
            with open(name, encoding="utf-8") as f:
                content = f.read()
        except (OSError, UnicodeDecodeError) as e:
            res = LoadResult(name)
            res.add_error(ErrorCode.LOAD_ERR_FILE_READ, f"Could not open file {name} for reading: "
                          f"{getattr(e, 'strerror', None) or e}", Context.root(name))  # fmt: skip
            return res
        return self.load_rules(content, name)

    def load_rules_files(self, paths: Iterable[str | os.PathLike[str]]) -> list[LoadResult]:
        """Files in order; a directory contributes its regular files in name order."""
        results = []
        for p in paths:
            if os.path.isdir(p):
                names = sorted(e.path for e in os.scandir(p) if e.is_file())
                results.extend(self.load_rules_file(n) for n in names)
            else:
                results.append(self.load_rules_file(p))
        return results

    # -- selection ------------------------------------------------------------
    def enable_rule(self, pattern: str, enabled: bool, ruleset: int = 0,
                    match: str = "wildcard") -> None:  # fmt: skip
        """Enable/disable rules by name: ``match`` is "wildcard" (``*``), "exact" or
        "substring" (upstream's ``-D``)."""
        for rs in self._rulesets.values():
            rs.enable(pattern, enabled, ruleset, match)

    def enable_rule_by_tag(self, tags: Iterable[str], enabled: bool, ruleset: int = 0) -> None:
        """Enable/disable the rules having any of ``tags``."""
        tags = frozenset(tags)
        for rs in self._rulesets.values():
            rs.enable_tags(tags, enabled, ruleset)

    def enabled_rules(self, ruleset: int = 0) -> list[CompiledRule]:
        return [r for rs in self._rulesets.values() for r in rs.enabled_rules(ruleset)]

    @property
    def rules(self) -> list[CompiledRule]:
        """Every compiled rule (enabled or not), in definition order."""
        return list(self._output.rules) if self._output else []

    @property
    def collector(self) -> Collector:
        return self._collector

    @property
    def required_plugin_versions(self) -> list[list[PluginRequirement]]:
        """Each entry: alternatives (name, version), any one of which satisfies it."""
        return self._collector.required_plugin_versions

    @property
    def required_engine_version(self) -> Version:
        return self._collector.required_engine_version

    def interesting_event_types(self, source: str = SYSCALL_SOURCE, ruleset: int = 0) -> set[int]:
        """Event codes the enabled rules of ``source`` can match."""
        return self._rulesets[source].enabled_codes(ruleset)

    def interesting_syscalls(self, ruleset: int = 0) -> set[str]:
        """Syscall names the enabled syscall rules can match."""
        names: set[str] = set()
        for r in self._rulesets[SYSCALL_SOURCE].enabled_rules(ruleset):
            names |= syscalls_of(ALL_NAMES if r.evttypes == "all" else r.evttypes)
        return names

    # -- descriptions (-L / -l) ---------------------------------------------------------
    def describe(self, name: str | None = None, plugins: Iterable[Any] = ()) -> dict[str, Any]:
        """Falco's rules description document: every rule, macro and list, or only rule
        ``name``; ``plugins`` are the loaded plugins' PluginInfo. Raises DescribeError
        before any successful load or for a rule that is not loaded."""
        return describe.describe(self._collector, self._output, name, plugins)

    def describe_rules(self, name: str | None = None, json: bool = False, plugins: Iterable[Any] = ()) -> str:
        """What ``falco -L`` (``name`` None) or ``-l name`` prints: the two-column text,
        or with ``json`` the JSON document (``-o json_output=true``), without newline."""
        doc = self.describe(name, plugins)
        return describe.as_json(doc) if json else describe.as_text(doc)

    # -- evaluation -----------------------------------------------------------
    def process_event(self, sevt: Any, source: str = SYSCALL_SOURCE, ruleset: int = 0) -> list[Match]:
        """Rules of ``source`` matching ``sevt`` (first or all, per rule_matching). An
        event no enabled rule can match costs two dict lookups."""
        fn = self.matcher_table(source, ruleset)[sevt.evt.type]
        rules = fn(sevt) if fn is not None else None
        return self.matches(rules, sevt) if rules else []

    def matcher_table(self, source: str = SYSCALL_SOURCE, ruleset: int = 0) -> Mapping[int, Matcher | None]:
        """Event code -> the function returning the rules (CompiledRule) an event of that
        code matches, None where no enabled rule can: what process_event looks events
        up in, for a caller's own per-event loop (falco's capture loop: one subscript
        per event). Valid until the next load, add_source or set_rule_matching."""
        try:
            return self._matchers[source, ruleset]
        except KeyError:
            table = self._matchers[source, ruleset] = self._rulesets[source].matchers(ruleset, self._first)
            return table

    def matches(self, rules: Iterable[CompiledRule], sevt: Any) -> list[Match]:
        """The Match (alert) of each of ``rules`` (what a matcher returned) for ``sevt``."""
        ts = sevt.evt.ts
        return [self._match(r, sevt, ts) for r in rules]

    @staticmethod
    def _match(r: CompiledRule, sevt: Any, ts: int) -> Match:
        extra = {}
        for key, (fmt, raw) in r.extra_fields.items():
            extra[key] = fmt.values(sevt).get(key) if raw else fmt.format(sevt)
        return Match(r.name, r.priority, r.source, r.tags, r.formatter.format(sevt),
                     r.formatter.values(sevt), ts, extra, r.exception_fields)  # fmt: skip

    # -- helpers --------------------------------------------------------------
    def _field_ok(self, source: str, text: str) -> bool:
        """Is ``text`` a field (or transformer of fields) of ``source``? For exceptions."""
        try:
            tree = parse(text + " exists")
        except FilterError:
            return False
        registry = self._sources[source].registry
        return all(registry.lookup(f.name) is not None for f in fields_of(tree))

    @staticmethod
    def version() -> str:
        return ENGINE_VERSION
