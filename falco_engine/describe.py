"""Rule descriptions for ``falco -L`` / ``-l RULE``: the JSON document Falco
prints with ``json_output=true`` and the two-column text it prints otherwise.

Facts from falco's falco_engine.cpp ``describe_rule``/``get_json_details`` and
filter_details_resolver.cpp (0.63):

* with no rule name the document has ``required_engine_version``,
  ``required_plugin_versions`` (first requirement + ``alternatives``), and every
  compiled rule, macro and list; with a name, only ``rules`` with that rule;
* a rule's ``info`` is name, condition and output as written (appends
  included), priority name, description, enabled, source, capture,
  capture_duration, tags; its ``details`` give the macros and lists named in
  the written condition, and the operators, fields and event names of the
  compiled condition (macros and lists expanded, exceptions appended);
* ``condition_compiled`` is libsinsp's ``ast::as_string`` of that condition.

Upstream keeps the detail arrays in unordered sets; here they are sorted so
the document is stable. Keys are sorted as nlohmann::json writes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from falco_engine.compile import CompiledRule, CompileOutput
from falco_engine.evttypes import ALL_NAMES
from falco_engine.items import PRIORITIES, Collector, RuleInfo
from libsinsp.filter import ast, event_types, parse
from libsinsp.plugin.info import Capabilities, PluginInfo

SYSCALL_SOURCE = "syscall"
#: event names added to every syscall-source rule's ``events`` (plugins' async events)
_ASYNC_EVENT = "asyncevent"
_PLUGIN_EVENTS = ["asyncevent", "pluginevent"]
_EVTNAME_FIELDS = ("evt.type", "evt.asynctype")


class DescribeError(ValueError):
    """Describing before loading, or a rule that is not loaded."""


@dataclass
class _Details:
    """What upstream's filter_details_resolver collects from one condition."""

    known_macros: frozenset[str]
    known_lists: frozenset[str]
    fields: set[str] = field(default_factory=set)
    macros: set[str] = field(default_factory=set)
    operators: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)
    evtnames: set[str] = field(default_factory=set)


def _field_name(node: ast.Field) -> str:
    return node.name + (f"[{node.arg}]" if node.arg else "")


def _operand(node: Any, d: _Details, evtnames: bool) -> str:
    """Visit one operand; returns the last field name seen (for evt.type checks)."""
    if isinstance(node, ast.Field):
        name = _field_name(node)
        d.fields.add(name)
        return name
    last = ""
    if isinstance(node, ast.Transformer):
        for a in node.args:
            last = _operand(a, d, False) or last
    elif isinstance(node, ast.TransformerList):
        for a in node.items:
            last = _operand(a, d, False) or last
    elif isinstance(node, ast.ListValue):
        d.lists.update(v for v in node.values if v in d.known_lists)
        if evtnames:
            d.evtnames.update(v for v in node.values if v not in d.known_lists)
    elif isinstance(node, (ast.Value, ast.ListRef)) and evtnames:
        d.evtnames.add(node.value if isinstance(node, ast.Value) else node.name)
    return last


def _visit(node: ast.Expr, d: _Details) -> None:
    if isinstance(node, (ast.And, ast.Or)):
        for c in node.children:
            _visit(c, d)
    elif isinstance(node, ast.Not):
        _visit(node.child, d)
    elif isinstance(node, ast.Identifier):
        if node.name in d.known_macros:
            d.macros.add(node.name)
    elif isinstance(node, ast.UnaryCheck):
        _operand(node.left, d, False)
        d.operators.add(node.op)
    elif isinstance(node, ast.BinaryCheck):
        left = _operand(node.left, d, False)
        d.operators.add(_op(node))
        _operand(node.right, d, left in _EVTNAME_FIELDS)


def _details(tree: ast.Expr, col: Collector) -> _Details:
    d = _Details(frozenset(col.macros), frozenset(col.lists))
    _visit(tree, d)
    return d


def _op(node: ast.BinaryCheck) -> str:
    return f"{node.op} {node.modifier}" if node.modifier else node.op


# -- libsinsp's ast::as_string ----------------------------------------------------------
_ESCAPES = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", '"': '\\"'}
_QUOTE_ONLY = frozenset(" ='\0")


def escape_str(s: str) -> str:
    """libsinsp's escape_str: quoted (with escapes) when it has a blank, '=', quote,
    backslash or control character among b/f/n/r/t."""
    if not any(c in _ESCAPES or c in _QUOTE_ONLY for c in s):
        return s
    return '"' + "".join(_ESCAPES.get(c, c) for c in s) + '"'


def _arg_text(arg: str | None) -> str:
    if arg is None:
        return ""
    return '[""]' if arg == "" else f"[{escape_str(arg)}]"


def as_string(node: Any) -> str:
    """The condition text libsinsp's string_visitor prints for ``node``."""
    if isinstance(node, (ast.And, ast.Or)):
        op = " and " if isinstance(node, ast.And) else " or "
        return "(" + op.join(as_string(c) for c in node.children) + ")"
    if isinstance(node, ast.Not):
        return "not " + as_string(node.child)
    if isinstance(node, ast.Identifier):
        return node.name
    if isinstance(node, ast.UnaryCheck):
        return f"{as_string(node.left)} {node.op}"
    if isinstance(node, ast.BinaryCheck):
        return f"{as_string(node.left)} {_op(node)} {as_string(node.right)}"
    if isinstance(node, ast.Field):
        return node.name + _arg_text(node.arg)
    if isinstance(node, ast.Transformer):
        return f"{node.name}({','.join(as_string(a) for a in node.args)}){_arg_text(node.arg)}"
    if isinstance(node, ast.TransformerList):
        return "(" + ",".join(as_string(a) for a in node.items) + ")"
    if isinstance(node, ast.Value):
        return escape_str(node.value)
    if isinstance(node, ast.ListRef):
        return escape_str(node.name)
    if isinstance(node, ast.ListValue):
        return "(" + ", ".join(escape_str(v) for v in node.values) + ")"
    raise TypeError(f"not a filter node: {node!r}")


# -- the document -----------------------------------------------------------------------
def _events(source: str, types: frozenset[str] | str) -> list[str]:
    if source not in ("", SYSCALL_SOURCE):
        return list(_PLUGIN_EVENTS)
    return sorted((ALL_NAMES if types == "all" else types) | {_ASYNC_EVENT})


def _used_plugins(source: str, evtnames: set[str], fields: Iterable[str], plugins: Iterable[PluginInfo]) -> list[str]:
    """Plugins a rule uses: its source's, the ones providing its fields or async events."""
    names = {f.split("[", 1)[0] for f in fields}
    used: set[str] = set()
    for p in plugins:
        if p.caps & Capabilities.SOURCING and p.event_source == source:
            used.add(p.name)
        elif p.caps & Capabilities.EXTRACTION and p.compatible(p.extract_sources, source) and any(
                f.name in names for f in p.fields):  # fmt: skip
            used.add(p.name)
        elif p.caps & Capabilities.ASYNC and p.compatible(p.async_sources, source) and p.async_events & evtnames:
            used.add(p.name)
    return sorted(used)


def _rule(r: CompiledRule, info: RuleInfo, col: Collector, plugins: list[PluginInfo]) -> dict[str, Any]:
    written = _details(parse(info.cond), col)
    compiled = _details(r.condition, col)
    out_fields = [getattr(fmt, "fmt", "") for fmt, _ in r.extra_fields.values()]
    out_fields += getattr(r.formatter, "field_names", [])
    details: dict[str, Any] = {
        "macros": sorted(written.macros),
        "lists": sorted(written.lists),
        "condition_operators": sorted(compiled.operators),
        "condition_fields": sorted(compiled.fields),
        "output_fields": out_fields,
        "exception_fields": sorted(r.exception_fields),
        "exception_names": sorted({e.name for e in info.exceptions}),
        "exception_operators": sorted(_exception_operators(info)),
        "events": _events(r.source, r.evttypes),
        "condition_compiled": as_string(r.condition),
        "output_compiled": r.output,
        "plugins": _used_plugins(r.source, compiled.evtnames, compiled.fields | set(out_fields), plugins),
    }
    formatted = {k: getattr(fmt, "fmt", "") for k, (fmt, raw) in r.extra_fields.items() if not raw}
    if formatted:
        details["extra_output_formatted_fields"] = formatted
    return {
        "info": {
            "name": r.name, "condition": info.cond, "priority": PRIORITIES[r.priority],
            "output": info.output, "description": r.description, "enabled": info.enabled,
            "source": r.source, "capture": r.capture, "capture_duration": r.capture_duration,
            "tags": sorted(info.tags),
        },
        "details": details,
    }  # fmt: skip


def _exception_operators(info: RuleInfo) -> set[str]:
    ops: set[str] = set()
    for e in info.exceptions:
        if not e.comps.is_list:
            ops.add(e.comps.item)
            continue
        for c in e.comps.items:
            ops.update(i.item for i in c.items) if c.is_list else ops.add(c.item)
    return ops


def _macro(name: str, tree: ast.Expr, col: Collector, out: CompileOutput) -> dict[str, Any]:
    info = col.macros[name]
    written = _details(parse(info.cond), col)
    compiled = _details(tree, col)
    return {
        "info": {"name": name, "condition": info.cond},
        "details": {
            "used": name in out.used_macros,
            "macros": sorted(written.macros),
            "lists": sorted(written.lists),
            "condition_operators": sorted(compiled.operators),
            "condition_fields": sorted(compiled.fields),
            "events": _events("", event_types(tree, ALL_NAMES)),
            "condition_compiled": as_string(tree),
            "plugins": [],
        },
    }


def _list(name: str, items: list[str], col: Collector, out: CompileOutput) -> dict[str, Any]:
    written = col.lists[name].items
    return {
        "info": {"name": name, "items": [i for i in written if i in items]},
        "details": {
            "used": name in out.used_lists,
            "lists": sorted({i for i in written if i not in items}),
            "items_compiled": items,
            "plugins": [],
        },
    }


def describe(col: Collector, out: CompileOutput | None, name: str | None = None,
             plugins: Iterable[PluginInfo] = ()) -> dict[str, Any]:  # fmt: skip
    """The ``-L`` (``name`` None) or ``-l name`` document; ``plugins``: the loaded
    plugins' PluginInfo, for each rule's ``plugins`` detail."""
    if out is None:
        raise DescribeError("rules must be loaded before describing them")
    plugins = list(plugins)
    if name is not None:
        info = col.rules.get(name)
        rule = next((r for r in out.rules if r.name == name), None)
        if info is None or info.unknown_source or rule is None:
            raise DescribeError(f'Rule "{name}" is not loaded')
        return {"rules": [_rule(rule, info, col, plugins)]}
    return {
        "required_engine_version": str(col.required_engine_version),
        "required_plugin_versions": [
            {"name": alts[0].name, "version": alts[0].version,
             "alternatives": [{"name": a.name, "version": a.version} for a in alts[1:]]}
            for alts in col.required_plugin_versions],
        "rules": [_rule(r, col.rules[r.name], col, plugins) for r in out.rules],
        "macros": [_macro(n, t, col, out) for n, t in out.macros.items()],
        "lists": [_list(n, items, col, out) for n, items in out.lists.items()],
    }  # fmt: skip


def as_json(doc: dict[str, Any]) -> str:
    """The document as Falco dumps it (compact, keys sorted, UTF-8)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def wrap_text(text: str, indent: int, line_len: int) -> str:
    """falco's wrap_text: words each followed by a blank, new lines indented by ``indent``."""
    out: list[str] = []
    length = 0
    for word in text.split():
        if length + len(word) + 1 <= line_len - indent:
            length += len(word) + 1
        else:
            out.append("\n" + " " * indent)
            length = len(word) + 1
        out.append(word + " ")
    return "".join(out)


def _two_columns(left: str, right: str) -> str:
    return f"{left:<50} {right}"[:4094] + "\n"  # snprintf into a 4096-byte buffer minus one


def as_text(doc: dict[str, Any]) -> str:
    """The text Falco prints for ``-L``/``-l`` (format_described_rules_as_text)."""
    lines = [_two_columns("Rule", "Description"), _two_columns("----", "-----------")]
    for r in doc["rules"]:
        lines.append(_two_columns(r["info"]["name"], wrap_text(r["info"]["description"], 51, 110) + "\n"))
    return "".join(lines)
