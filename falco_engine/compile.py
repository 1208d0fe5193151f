"""Collected items -> compiled rules, exactly as falco's rule_loader_compiler.cpp
(engine 0.63) builds them:

* lists are substituted into condition TEXT before parsing (a list name bounded
  by blanks, ``(``, ``)``, ``,`` or ``=`` is replaced by its items, items with a
  space double-quoted); a list item naming a list defined earlier is expanded;
* every macro is parsed and resolved against the macros visible to it (defined
  before its last definition/append); rules see all macros; an identifier that
  is not a macro is "Undefined macro", a cycle a "reference loop";
* exceptions become ``(cond) and not (...)`` text as upstream assembles it;
* an identifier left on the right of a list operator is a one-value list;
* the condition is compiled once by libsinsp.filter and its event types computed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from falco_engine.evttypes import ALL_NAMES, codes_of
from falco_engine.items import Collector, ExceptionInfo, MacroInfo, RuleInfo, is_str_operator_with_modifier
from falco_engine.results import Context, ErrorCode, LoadError, LoadResult, WarningCode
from libsinsp.filter import FilterError, ast, compile_filter, event_types, parse
from libsinsp.filter.fields import FieldRegistry
from libsinsp.filter.lexer import LIST_OPS

DEPRECATED_FIELDS = ("evt.dir", "evt.latency", "evt.latency.s", "evt.latency.ns",
                     "evt.latency.human", "evt.wait_latency")  # fmt: skip
_DEPRECATED_DESC = {"evt.dir": "due to the drop of enter events, 'evt.dir = <' always evaluates "
                    "to true, and 'evt.dir = >' always evaluates to false. The rule expression "
                    "can be simplified by removing the condition on 'evt.dir'"}  # fmt: skip
_LATENCY_DESC = "field is not available due to the drop of enter events."
_CONTAINER_INFO = "%container.info"
_NO_EVTTYPE_LIMIT = 100
_TOKEN_SPLIT = re.compile(r"[ \t\n\r(),=]+")
_DELIMS = " \t\n\r(),="
_BLANKS = " \t\n\r"


@dataclass(frozen=True)
class ExtraOutput:
    """An ``append_output`` entry: text appended to the output, or a named extra
    field (``key``) when ``key`` is set; applies when source/tags/rule match."""

    format: str
    source: str = ""
    tags: frozenset[str] = frozenset()
    rule: str = ""
    key: str = ""
    raw: bool = False

    def applies(self, rule: RuleInfo) -> bool:
        return ((not self.source or self.source == rule.source) and self.tags <= rule.tags
                and (not self.rule or self.rule == rule.name))  # fmt: skip


@dataclass
class Source:
    """An event source: its field registry and its output formatter factory."""

    name: str
    registry: FieldRegistry
    formatter: Callable[[str], Any]


@dataclass
class CompiledRule:
    id: int
    name: str
    source: str
    description: str
    priority: int
    tags: frozenset[str]
    output: str
    formatter: Any
    #: extra output fields: key -> (formatter, raw)
    extra_fields: dict[str, tuple[Any, bool]]
    exception_fields: frozenset[str]
    condition: ast.Expr
    #: the condition alone, ``event -> bool`` (the ruleset runs rules through per-code matchers)
    filter: Callable[[Any], bool]
    #: event-type names, or "all"
    evttypes: frozenset[str] | str
    #: event codes; empty when the rule is tried on every event
    codes: frozenset[int]
    capture: bool
    capture_duration: int
    enabled: bool
    info: RuleInfo = field(repr=False)


@dataclass
class CompileOutput:
    lists: dict[str, list[str]] = field(default_factory=dict)
    macros: dict[str, ast.Expr] = field(default_factory=dict)
    rules: list[CompiledRule] = field(default_factory=list)
    used_lists: set[str] = field(default_factory=set)
    used_macros: set[str] = field(default_factory=set)


def _quote(item: str) -> str:
    return f'"{item}"' if " " in item and item[:1] not in ('"', "'") else item


def substitute_list(cond: str, name: str, items: list[str]) -> tuple[str, bool]:
    """Replace bounded occurrences of list ``name`` in ``cond`` (upstream's resolve_list)."""
    used = False
    start = cond.find(name)
    while start != -1:
        end = start + len(name)
        if (start == 0 or cond[start - 1] in _DELIMS) and (end >= len(cond) or cond[end] in _DELIMS):
            while start > 0 and cond[start - 1] in _BLANKS:
                start -= 1
            while end < len(cond) and cond[end] in _BLANKS:
                end += 1
            sub = ", ".join(_quote(v) for v in items)
            if not sub:
                if start > 0 and cond[start - 1] == ",":
                    start -= 1
                elif end < len(cond) and cond[end] == ",":
                    end += 1
            new = (cond[:start] + " " if start > 0 else "") + sub + " " + cond[end:]
            cond = new
            start += len(sub) + 1
            used = True
        start = cond.find(name, start + 1)
    return cond, used


def build_exceptions(cond: str, exceptions: list[ExceptionInfo]) -> tuple[str, frozenset[str]]:
    """The condition with each exception appended as ``and not (...)`` (upstream's text)."""
    fields: set[str] = set()
    cond = "(" + cond + ")"
    for ex in exceptions:
        icond = ""
        if not ex.fields.is_list:
            for val in ex.values:
                if val.is_list:
                    raise LoadError(ErrorCode.LOAD_ERR_VALIDATE,
                                    "Expected values array to contain a list of strings", ex.ctx)  # fmt: skip
                icond += f"({ex.fields.item} {ex.comps.item} (" if not icond else ", "
                fields.add(ex.fields.item)
                icond += _quote(val.item)
            icond += "))" if icond else ""
        else:
            icond = "("
            for values in ex.values:
                if len(ex.fields.items) != len(values.items):
                    raise LoadError(ErrorCode.LOAD_ERR_VALIDATE,
                                    "Fields and values lists must have equal length", ex.ctx)  # fmt: skip
                icond += "" if icond == "(" else " or "
                icond += "("
                for k, fld in enumerate(ex.fields.items):
                    icond += "" if k == 0 else " and "
                    value, comp = values.items[k], ex.comps.items[k].item
                    if value.is_list:
                        istr = "(" + ", ".join(_quote(v.item) for v in value.items) + ")"
                    elif comp in LIST_OPS or is_str_operator_with_modifier(comp):
                        istr = value.item if value.item[:1] == "(" else f"({value.item})"
                    else:
                        istr = _quote(value.item)
                    icond += f" {fld.item} {comp} {istr}"
                    fields.add(fld.item)
                icond += ")"
            icond += ")"
            if icond == "()":
                icond = ""
        cond += f" and not {icond}" if icond else ""
    return cond, frozenset(fields)


_PARSE_CACHE: dict[str, ast.Expr] = {}


def _parse(text: str, ctx: Context) -> ast.Expr:
    """Parse a condition (cached: ASTs are immutable), errors located in the text."""
    tree = _PARSE_CACHE.get(text)
    if tree is None:
        try:
            tree = parse(text)
        except FilterError as e:
            raise LoadError(ErrorCode.LOAD_ERR_COMPILE_CONDITION, e.reason,
                            ctx.in_condition(e.pos.idx, e.pos.line, e.pos.col, text)) from None  # fmt: skip
        _PARSE_CACHE[text] = tree
    return tree


class _MacroResolver:
    """Substitutes macros (upstream's filter_macro_resolver), recording the first
    loop error and unknown identifiers; also turns leftover list identifiers
    into one-value lists."""

    def __init__(self, lookup: Callable[[str], ast.Expr | None]) -> None:
        self.lookup = lookup
        self.path: list[str] = []
        self.errors: list[tuple[str, ast.Pos]] = []
        self.unknown: list[tuple[str, ast.Pos]] = []
        self.resolved: set[str] = set()

    def run(self, node: ast.Expr) -> ast.Expr:
        if isinstance(node, (ast.And, ast.Or)):
            return replace(node, children=tuple(self.run(c) for c in node.children))
        if isinstance(node, ast.Not):
            return replace(node, child=self.run(node.child))
        if isinstance(node, ast.Identifier):
            macro = self.lookup(node.name)
            if macro is None:
                self.unknown.append((node.name, node.pos))
                return node
            if node.name in self.path:
                self.errors.append((f"reference loop in macro '{node.name}'", node.pos))
                self.unknown.append((node.name, node.pos))
                return node
            self.path.append(node.name)
            out = self.run(macro)
            self.path.pop()
            self.resolved.add(node.name)
            return out
        if isinstance(node, ast.BinaryCheck) and isinstance(node.right, ast.ListRef):
            return replace(node, right=ast.ListValue((node.right.name,), pos=node.right.pos))
        return node


class Compiler:
    """Compiles everything a Collector holds for the given sources."""

    def __init__(self, sources: Mapping[str, Source], extra: list[ExtraOutput]) -> None:
        self.sources = sources
        self.extra = extra

    def compile(self, col: Collector, res: LoadResult) -> CompileOutput | None:
        """None when an error was recorded in ``res``."""
        out = CompileOutput()
        try:
            self._lists(col, out)
            self._macros(col, out)
            self._rules(col, out, res)
        except LoadError as e:
            res.add_error(e.code, e.message, e.context)
            return None
        for name, info in col.macros.items():
            if name not in out.used_macros:
                res.add_warning(WarningCode.LOAD_UNUSED_MACRO,
                                "Macro not referred to by any other rule/macro", info.ctx)  # fmt: skip
        for name, linfo in col.lists.items():
            if name not in out.used_lists:
                res.add_warning(WarningCode.LOAD_UNUSED_LIST,
                                "List not referred to by any other rule/macro", linfo.ctx)  # fmt: skip
        return out

    # -- lists and macros -----------------------------------------------------
    def _lists(self, col: Collector, out: CompileOutput) -> None:
        for info in col.lists.values():
            items: list[str] = []
            for item in info.items:
                ref = col.lists.get(item)
                if ref is not None and ref.index < info.visibility:
                    out.used_lists.add(ref.name)
                    items.extend(ref.items)
                else:
                    items.append(item)
            out.lists[info.name] = items

    def _substitute_lists(self, cond: str, out: CompileOutput) -> str:
        tokens = set(_TOKEN_SPLIT.split(cond))
        if tokens.isdisjoint(out.lists):
            return cond
        for name, items in out.lists.items():
            if name in tokens:
                cond, used = substitute_list(cond, name, items)
                if used:
                    out.used_lists.add(name)
                    tokens = set(_TOKEN_SPLIT.split(cond))
        return cond

    def _resolve(self, tree: ast.Expr, cond: str, ctx: Context, out: CompileOutput,
                 lookup: Callable[[str], ast.Expr | None]) -> ast.Expr:  # fmt: skip
        resolver = _MacroResolver(lookup)
        tree = resolver.run(tree)
        if resolver.errors or resolver.unknown:
            msg, pos = resolver.errors[0] if resolver.errors else resolver.unknown[0]
            if not resolver.errors:
                msg = f"Undefined macro '{msg}' used in filter."
            raise LoadError(ErrorCode.LOAD_ERR_VALIDATE, msg,
                            ctx.in_condition(pos.idx, pos.line, pos.col, cond))  # fmt: skip
        out.used_macros |= resolver.resolved
        return tree

    def _macros(self, col: Collector, out: CompileOutput) -> None:
        for info in col.macros.values():
            out.macros[info.name] = _parse(self._substitute_lists(info.cond, out), info.cond_ctx)
        for info in col.macros.values():
            out.macros[info.name] = self._resolve(out.macros[info.name], info.cond, info.ctx, out,
                                                  _visible(col.macros, out.macros, info))  # fmt: skip

    # -- rules ----------------------------------------------------------------
    def _rules(self, col: Collector, out: CompileOutput, res: LoadResult) -> None:
        for info in col.rules.values():
            if info.unknown_source:
                continue
            source = self.sources[info.source]
            rule = self._rule(info, source, len(out.rules), out, res)
            if rule is not None:
                out.rules.append(rule)

    def _output(self, info: RuleInfo, source: Source, res: LoadResult) -> tuple[str, dict[str, tuple[Any, bool]]]:
        output = info.output
        for extra in self.extra:
            if not extra.key and extra.applies(info):
                output = output + " " + extra.format
        if _CONTAINER_INFO in output:
            res.add_warning(WarningCode.LOAD_DEPRECATED_ITEM,
                            "%container.info is deprecated and no more useful, and will be dropped "
                            "by Falco 1.0.0. The container plugin will automatically add required "
                            "fields to the output message.", info.ctx)  # fmt: skip
            output = output.replace(_CONTAINER_INFO, "")
        fields = {e.key: (e.format, e.raw) for e in self.extra if e.key and e.applies(info)}
        return output, fields

    def _formatter(self, source: Source, fmt: str, info: RuleInfo, res: LoadResult) -> Any:
        try:
            formatter = source.formatter(fmt)
        except Exception as e:  # the formatter's own error type (unknown field, bad token)
            if info.skip_if_unknown_filter and _is_unknown_field(str(e)):
                res.add_warning(WarningCode.LOAD_UNKNOWN_FILTER, str(e), info.output_ctx)
                return None
            raise LoadError(ErrorCode.LOAD_ERR_COMPILE_OUTPUT, str(e), info.output_ctx) from None
        for name in DEPRECATED_FIELDS:
            if name in fmt:
                res.add_warning(WarningCode.LOAD_DEPRECATED_ITEM, f"usage of deprecated field "
                                f"'{name}' has been detected in the rule output", info.output_ctx,
                                deprecated_field=name)  # fmt: skip
        return formatter

    def _rule(self, info: RuleInfo, source: Source, rule_id: int, out: CompileOutput,
              res: LoadResult) -> CompiledRule | None:  # fmt: skip
        cond, exception_fields = info.cond, frozenset[str]()
        if info.exceptions:
            cond, exception_fields = build_exceptions(cond, info.exceptions)
        output, extra_fmts = self._output(info, source, res)
        formatter = self._formatter(source, output, info, res)
        if formatter is None:
            return None
        extra_fields = {}
        for key, (fmt, raw) in extra_fmts.items():
            try:
                extra_fields[key] = (source.formatter(fmt), raw)
            except Exception as e:
                raise LoadError(ErrorCode.LOAD_ERR_COMPILE_OUTPUT, str(e), info.output_ctx) from None
        tree = _parse(self._substitute_lists(cond, out), info.cond_ctx)
        tree = self._resolve(tree, cond, info.ctx, out, out.macros.get)
        _condition_warnings(tree, info.cond_ctx.in_condition(0, 0, 0, cond), res)
        try:
            types = event_types(tree, ALL_NAMES)
            codes = codes_of(ALL_NAMES if types == "all" else types)
            fn = compile_filter(tree, source.registry)
        except FilterError as e:
            ctx = info.cond_ctx.in_condition(e.pos.idx, e.pos.line, e.pos.col, cond)
            if info.skip_if_unknown_filter and _is_unknown_field(e.reason):
                res.add_warning(WarningCode.LOAD_UNKNOWN_FILTER, e.reason, ctx)
                return None
            raise LoadError(ErrorCode.LOAD_ERR_COMPILE_CONDITION, e.reason, ctx) from None
        if info.source == "syscall" and len(codes) > _NO_EVTTYPE_LIMIT and info.warn_evttypes:
            res.add_warning(WarningCode.LOAD_NO_EVTTYPE, "Rule matches too many evt.type values. "
                            "This has a significant performance penalty.", info.ctx)  # fmt: skip
        return CompiledRule(
            id=rule_id, name=info.name, source=info.source, description=info.desc,
            priority=info.priority, tags=frozenset(info.tags), output=output, formatter=formatter,
            extra_fields=extra_fields, exception_fields=exception_fields, condition=tree, filter=fn,
            evttypes=types, codes=frozenset() if types == "all" else codes, capture=info.capture,
            capture_duration=info.capture_duration, enabled=info.enabled, info=info,
        )  # fmt: skip


def _visible(infos: Mapping[str, MacroInfo], trees: Mapping[str, ast.Expr],
             info: MacroInfo) -> Callable[[str], ast.Expr | None]:  # fmt: skip
    """Macro lookup limited to macros first defined before ``info``'s last change."""

    def lookup(name: str) -> ast.Expr | None:
        other = infos.get(name)
        return trees[name] if other is not None and other.index < info.visibility else None

    return lookup


def _is_unknown_field(message: str) -> bool:
    return any(s in message for s in ("unknown field", "nonexistent field", "unknown event type",
                                      "invalid formatting token", "unknown filter:"))  # fmt: skip


def fields_of(node: Any) -> Any:
    """Every Field node under ``node`` (including inside transformers)."""
    if isinstance(node, ast.Field):
        yield node
    elif isinstance(node, (ast.And, ast.Or)):
        for c in node.children:
            yield from fields_of(c)
    elif isinstance(node, ast.Not):
        yield from fields_of(node.child)
    elif isinstance(node, (ast.UnaryCheck, ast.BinaryCheck)):
        yield from fields_of(node.left)
        if isinstance(node, ast.BinaryCheck):
            yield from fields_of(node.right)
    elif isinstance(node, ast.Transformer):
        for a in node.args:
            yield from fields_of(a)
    elif isinstance(node, ast.TransformerList):
        for a in node.items:
            yield from fields_of(a)


def _unsafe_na(node: ast.Expr) -> bool:
    """An equality check of a ka./jevt. field against "<NA>"."""
    if isinstance(node, (ast.And, ast.Or)):
        return any(_unsafe_na(c) for c in node.children)
    if isinstance(node, ast.Not):
        return _unsafe_na(node.child)
    if not isinstance(node, ast.BinaryCheck) or not isinstance(node.left, ast.Field):
        return False
    if not node.left.name.startswith(("ka.", "jevt.")) or node.op not in (
            "==", "=", "!=", "in", "intersects", "pmatch"):  # fmt: skip
        return False
    right = node.right
    return (isinstance(right, ast.Value) and right.value == "<NA>") or (
        isinstance(right, ast.ListValue) and "<NA>" in right.values)


def _condition_warnings(tree: ast.Expr, ctx: Context, res: LoadResult) -> None:
    if _unsafe_na(tree):
        res.add_warning(WarningCode.LOAD_UNSAFE_NA_CHECK, "", ctx)
    used = {f.name for f in fields_of(tree)}
    for name in DEPRECATED_FIELDS:
        if name in used:
            res.add_warning(WarningCode.LOAD_DEPRECATED_ITEM, _DEPRECATED_DESC.get(name, _LATENCY_DESC),
                            ctx, deprecated_field=name)  # fmt: skip
