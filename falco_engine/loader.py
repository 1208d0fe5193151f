"""Rules YAML -> collector calls, with the location of every item and value.

Reads the composed YAML node graph (PyYAML's C LibYAML composer when present)
so every value keeps its mark (0-based offset/line/column, as yaml-cpp's marks
that upstream reports). Validation follows falco's rule_loader_reader.cpp (engine
0.63): structural problems are LOAD_ERR_YAML_VALIDATE and stop the content at
the first one; unknown keys, deprecated forms and bad names are warnings.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from falco_engine.items import (
    Collector,
    Entry,
    ExceptionInfo,
    ListInfo,
    MacroInfo,
    PluginRequirement,
    RuleInfo,
    RuleUpdate,
    parse_priority,
)
from falco_engine import schema
from falco_engine.results import Context, ErrorCode, LoadError, LoadResult, WarningCode
from falco_engine.version import Version

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULL = "tag:yaml.org,2002:null"

RGX_IDENTIFIER = "([a-zA-Z]+[a-zA-Z0-9_]*)"
RGX_BARESTR = "([^()\"'[:space:]=,]+)"
_IDENTIFIER = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_BARESTR = re.compile(r"[^()\"'\s=,]+")
_TRUE = ("y", "yes", "true", "on")
_FALSE = ("n", "no", "false", "off")

WARNING_APPEND = ("'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') "
                  "under 'override' instead.")  # fmt: skip
WARNING_ENABLED = ("The standalone 'enabled' key usage is deprecated. The correct approach "
                   "requires also a 'replace' entry under the 'override' key (i.e. 'enabled: "
                   "replace').")  # fmt: skip
ERROR_OVERRIDE_APPEND = ("Keys 'override' and 'append: true' cannot be used together. Add an "
                         "'append' entry (e.g. 'condition: append') under 'override' instead.")  # fmt: skip

RULE_APPENDABLE = ("condition", "output", "desc", "tags", "exceptions")
RULE_REPLACEABLE = ("condition", "output", "desc", "priority", "capture", "capture_duration",
                    "tags", "exceptions", "enabled", "warn_evttypes", "skip-if-unknown-filter")  # fmt: skip
RULE_KEYS = frozenset(("rule", "source", "override", "append") + RULE_REPLACEABLE)
# rule_update_info attribute of each overridable key
_UPDATE_ATTR = {"condition": "cond", "skip-if-unknown-filter": "skip_if_unknown_filter"}


def _fail(cond: bool, message: str, ctx: Context) -> None:
    if cond:
        raise LoadError(ErrorCode.LOAD_ERR_YAML_VALIDATE, message, ctx)


def _plain(node: yaml.Node | None) -> Any:
    """A composed YAML node as the Python value the schema check needs: maps, lists,
    and scalars of their resolved kind (numbers only as a type: their value is unused)."""
    if node is None:
        return None
    if isinstance(node, yaml.MappingNode):
        return {(k.value if isinstance(k, yaml.ScalarNode) else str(k)): _plain(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_plain(v) for v in node.value]
    kind = node.tag.rsplit(":", 1)[-1]
    if kind == "null":
        return None
    if kind == "bool":
        return node.value.lower() in ("true", "yes", "on")
    return {"int": 0, "float": 0.0}.get(kind, node.value)


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL


class _Map:
    """A mapping node's values by key (first occurrence wins, as yaml-cpp's lookup)."""

    def __init__(self, node: yaml.MappingNode) -> None:
        self.node = node
        self.entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else ""
            self.entries.setdefault(key, (k, v))

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str) -> yaml.Node | None:
        kv = self.entries.get(key)
        return kv[1] if kv else None


def _scalar(m: _Map, key: str, ctx: Context, *, optional: bool = False,
            can_be_empty: bool = False) -> str | None:  # fmt: skip
    """The scalar text of ``key`` (upstream's decode_val rules)."""
    val = m.get(key)
    if val is None:
        _fail(not optional, f"Item has no mapping for key '{key}'", ctx)
        return None
    if _is_null(val):
        _fail(not can_be_empty, f"Mapping for key '{key}' is empty", ctx)
        return None
    vctx = ctx.child(val.start_mark, "value for", key)
    _fail(not isinstance(val, yaml.ScalarNode), "Value is not a scalar value", vctx)
    if val.value == "":
        _fail(not can_be_empty, "Value must be non-empty", vctx)
        return None
    return str(val.value)


def _bool(m: _Map, key: str, ctx: Context, *, optional: bool = False) -> bool | None:
    text = _scalar(m, key, ctx, optional=optional)
    if text is None:
        return None
    flexible = text in (text.lower(), text.upper(), text.capitalize())
    if flexible and text.lower() in _TRUE + _FALSE:
        return text.lower() in _TRUE
    raise LoadError(ErrorCode.LOAD_ERR_YAML_VALIDATE, "Can't decode YAML scalar value",
                    ctx.child(m.get(key).start_mark, "value for", key))  # type: ignore[union-attr]


def _uint32(m: _Map, key: str, ctx: Context, *, optional: bool = False) -> int | None:
    text = _scalar(m, key, ctx, optional=optional)
    if text is None:
        return None
    if text.isascii() and text.isdigit() and int(text) < 2**32:
        return int(text)
    raise LoadError(ErrorCode.LOAD_ERR_YAML_VALIDATE, "Can't decode YAML scalar value",
                    ctx.child(m.get(key).start_mark, "value for", key))  # type: ignore[union-attr]


def _seq(m: _Map, key: str, ctx: Context, *, optional: bool) -> list[str] | None:
    val = m.get(key)
    if val is None:
        _fail(not optional, f"Item has no mapping for key '{key}'", ctx)
        return None
    vctx = ctx.child(val.start_mark, "value for", key)
    _fail(not isinstance(val, yaml.SequenceNode), "Value is not a sequence", vctx)
    out = []
    for v in val.value:
        _fail(not isinstance(v, yaml.ScalarNode), "sequence value is not scalar",
              vctx.child(v.start_mark, "list item"))  # fmt: skip
        out.append("" if _is_null(v) else str(v.value))
    return out


def _tags(m: _Map, ctx: Context) -> set[str] | None:
    items = _seq(m, "tags", ctx, optional=True)
    return None if items is None else set(items)


class Reader:
    """Reads one rules content into a Collector, recording messages in a LoadResult."""

    def __init__(self, collector: Collector, result: LoadResult) -> None:
        self.col = collector
        self.res = result

    def read(self, content: str, name: str) -> bool:
        """False when the content had an error (reading stops at the first one)."""
        root = Context.root(name)
        try:
            docs = list(yaml.compose_all(content, Loader=_Loader))
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            ctx = root.child(mark, "value for") if mark is not None else root
            self.res.add_error(ErrorCode.LOAD_ERR_YAML_PARSE, _yaml_message(e), ctx)
            return False
        except yaml.YAMLError as e:
            self.res.add_error(ErrorCode.LOAD_ERR_YAML_PARSE, str(e), root)
            return False
        self.res.schema_status = [line for doc in docs for line in schema.validate(_plain(doc))]
        for doc in docs:
            if doc is None or _is_null(doc):
                continue
            try:
                _fail(not isinstance(doc, (yaml.MappingNode, yaml.SequenceNode)),
                      "Rules content is not yaml", root)  # fmt: skip
                _fail(not isinstance(doc, yaml.SequenceNode),
                      "Rules content is not yaml array of objects", root)  # fmt: skip
                for item in doc.value:
                    if not _is_null(item):
                        self.read_item(item, root)
            except LoadError as e:
                self.res.add_error(e.code, e.message, e.context)
                return False
        return True

    # -- items ----------------------------------------------------------------
    def read_item(self, item: yaml.Node, parent: Context) -> None:
        _fail(not isinstance(item, yaml.MappingNode),
              "Unexpected element type. Each element should be a yaml associative array.",
              parent.child(item.start_mark, "rules content item"))  # fmt: skip
        m = _Map(item)
        if "required_engine_version" in m:
            self.read_engine_version(m, parent)
        elif "required_plugin_versions" in m:
            self.read_plugin_versions(m, parent)
        elif "list" in m:
            self.read_list(m, parent)
        elif "macro" in m:
            self.read_macro(m, parent)
        elif "rule" in m:
            self.read_rule(m, parent)
        else:
            self.res.add_warning(WarningCode.LOAD_UNKNOWN_ITEM, "Unknown top level item",
                                 parent.child(item.start_mark, "rules content item"))  # fmt: skip

    def warn_unknown_keys(self, m: _Map, expected: frozenset[str] | tuple[str, ...],
                          ctx: Context) -> None:  # fmt: skip
        for key in m.entries:
            if key not in expected:
                self.res.add_warning(WarningCode.LOAD_UNKNOWN_KEY,
                                     f"Unknown key '{key}'. The key will be ignored.", ctx)  # fmt: skip

    def read_engine_version(self, m: _Map, parent: Context) -> None:
        ctx = parent.child(m.node.start_mark, "required_engine_version")
        text = _scalar(m, "required_engine_version", ctx)
        assert text is not None
        if text.isascii() and text.isdigit() and int(text) < 2**32:
            version: Version | None = Version(0, int(text), 0)
        else:
            version = Version.parse(text)
            _fail(version is None, f"Unable to parse engine version '{text}' as a semver string. "
                  'Expected "x.y.z" semver format.', ctx)  # fmt: skip
        assert version is not None
        self.col.define_engine_version(version, ctx)
        self.warn_unknown_keys(m, ("required_engine_version",), ctx)

    def read_plugin_versions(self, m: _Map, parent: Context) -> None:
        node = m.get("required_plugin_versions")
        assert node is not None
        ctx = parent.child(node.start_mark, "required plugin versions")
        _fail(not isinstance(node, yaml.SequenceNode),
              "Value of required_plugin_versions must be a sequence", ctx)  # fmt: skip
        entry = "required plugin versions entry"
        alt = "required plugin versions alternative"
        for plugin in node.value:
            tmp = ctx.child(plugin.start_mark, entry)
            _fail(not isinstance(plugin, yaml.MappingNode), "Plugin version must be a mapping", tmp)
            pm = _Map(plugin)
            name = _scalar(pm, "name", tmp) or ""
            pctx = ctx.child(plugin.start_mark, entry, name)
            reqs = [PluginRequirement(name, _scalar(pm, "version", pctx) or "")]
            alts = pm.get("alternatives")
            if alts is not None:
                _fail(not isinstance(alts, yaml.SequenceNode),
                      "Value of plugin version alternatives must be a sequence", pctx)  # fmt: skip
                for req in alts.value:
                    tmp = pctx.child(req.start_mark, alt)
                    _fail(not isinstance(req, yaml.MappingNode),
                          "Plugin version alternative must be a mapping", tmp)  # fmt: skip
                    rm = _Map(req)
                    aname = _scalar(rm, "name", tmp) or ""
                    aver = _scalar(rm, "version", pctx.child(req.start_mark, alt, aname)) or ""
                    reqs.append(PluginRequirement(aname, aver))
            self.col.define_plugin_versions(reqs, pctx)
        self.warn_unknown_keys(m, ("required_plugin_versions",),
                               parent.child(m.node.start_mark, "required plugin versions"))  # fmt: skip

    def read_overrides(self, m: _Map, appendable: tuple[str, ...], replaceable: tuple[str, ...],
                       ctx: Context) -> tuple[list[str], list[str]]:  # fmt: skip
        """Keys to append and keys to replace, in the order written under ``override``."""
        val = m.get("override")
        if val is None:
            return [], []
        octx = ctx.child(m.node.start_mark, "overrides")
        append: list[str] = []
        replace: list[str] = []
        pairs = val.value if isinstance(val, yaml.MappingNode) else []
        for k, v in pairs:
            key = str(k.value) if isinstance(k, yaml.ScalarNode) else ""
            op = str(v.value) if isinstance(v, yaml.ScalarNode) else ""
            kctx = octx.child(k.start_mark, "overrides", key)
            if op == "append":
                _fail(key not in appendable,
                      f"Key '{key}' cannot be appended to, use 'replace' instead", kctx)  # fmt: skip
                append.append(key)
            elif op == "replace":
                _fail(key not in replaceable, f"Key '{key}' cannot be replaced", kctx)
                replace.append(key)
            else:
                allowed = ("append " if key in appendable else "") + (
                    "replace " if key in replaceable else "")
                _fail(True, f"Invalid override operation for key '{key}': '{op}'. "
                      f"Allowed values are: {allowed}", octx.child(v.start_mark, "value for", key))  # fmt: skip
        return append, replace

    def _deprecated_append(self, m: _Map, ctx: Context) -> bool:
        append = bool(_bool(m, "append", ctx, optional=True))
        if append:
            self.res.add_warning(WarningCode.LOAD_DEPRECATED_ITEM, WARNING_APPEND, ctx)
        return append

    def _named(self, m: _Map, parent: Context, kind: str, label: str, pattern: re.Pattern, rgx: str,
               code: WarningCode) -> tuple[str, Context]:
        """The name of a list or macro item and its context, with `code` warned when
        the name does not match `pattern` (text `rgx`)."""
        name = _scalar(m, kind, parent.child(m.node.start_mark, kind)) or ""
        ctx = parent.child(m.node.start_mark, kind, name)
        if not pattern.fullmatch(name):
            self.res.add_warning(code,
                                 f"{label} has an invalid name. {label} names should match a regular "
                                 "expression: " + rgx, ctx)  # fmt: skip
        return name, ctx

    def _appends(self, m: _Map, key: str, ctx: Context) -> bool:
        """Whether a list or macro item appends to `key` (append: true or override
        append) rather than defines it; both ways at once fail."""
        append = self._deprecated_append(m, ctx)
        ov_append, ov_replace = self.read_overrides(m, (key,), (key,), ctx)
        _fail(append and bool(ov_append or ov_replace), ERROR_OVERRIDE_APPEND, ctx)
        return append or key in ov_append

    def read_list(self, m: _Map, parent: Context) -> None:
        name, ctx = self._named(m, parent, "list", "List", _BARESTR, RGX_BARESTR,
                                WarningCode.LOAD_INVALID_LIST_NAME)
        items = _seq(m, "items", ctx, optional=False) or []
        appends = self._appends(m, "items", ctx)
        info = ListInfo(ctx, name, items)
        if appends:
            self.col.append_list(info)
        else:
            self.col.define_list(info)
        self.warn_unknown_keys(m, ("list", "items", "append", "override"), ctx)

    def read_macro(self, m: _Map, parent: Context) -> None:
        name, ctx = self._named(m, parent, "macro", "Macro", _IDENTIFIER, RGX_IDENTIFIER,
                                WarningCode.LOAD_INVALID_MACRO_NAME)
        cond = _scalar(m, "condition", ctx) or ""
        cond_node = m.get("condition")
        assert cond_node is not None
        cond_ctx = ctx.child(cond_node.start_mark, "macro condition")
        appends = self._appends(m, "condition", ctx)
        info = MacroInfo(ctx, cond_ctx, name, cond)
        if appends:
            self.col.append_macro(info)
        else:
            self.col.define_macro(info)
        self.warn_unknown_keys(m, ("macro", "condition", "append", "override"), ctx)

    def read_rule(self, m: _Map, parent: Context) -> None:
        name = _scalar(m, "rule", parent.child(m.node.start_mark, "rule")) or ""
        ctx = parent.child(m.node.start_mark, "rule", name)
        source = _scalar(m, "source", ctx, optional=True, can_be_empty=True) or ""
        append = self._deprecated_append(m, ctx)
        ov_append, ov_replace = self.read_overrides(m, RULE_APPENDABLE, RULE_REPLACEABLE, ctx)
        _fail(append and bool(ov_append or ov_replace), ERROR_OVERRIDE_APPEND, ctx)
        if ov_append or ov_replace:
            self.read_rule_overrides(m, ctx, name, source, ov_append, ov_replace)
        elif append:
            upd = RuleUpdate(ctx, name, source)
            if "condition" in m:
                upd.cond = _scalar(m, "condition", ctx)
            if "exceptions" in m:
                upd.exceptions = self.read_exceptions(m, ctx, append=True)
            self.col.append_rule(upd)
        elif not any(k in m for k in ("condition", "output", "desc", "priority")):
            enabled = _bool(m, "enabled", ctx)
            self.res.add_warning(WarningCode.LOAD_DEPRECATED_ITEM, WARNING_ENABLED, ctx)
            self.col.enable_rule(name, bool(enabled), ctx)
        else:
            self.read_rule_definition(m, ctx, name)
        self.warn_unknown_keys(m, RULE_KEYS, ctx)

    def read_rule_definition(self, m: _Map, ctx: Context, name: str) -> None:
        cond = _scalar(m, "condition", ctx) or ""
        cond_ctx = ctx.child(m.get("condition").start_mark, "rule condition")  # type: ignore[union-attr]
        output = _scalar(m, "output", ctx) or ""
        output_ctx = ctx.child(m.get("output").start_mark, "rule output")  # type: ignore[union-attr]
        desc = _scalar(m, "desc", ctx) or ""
        prio_text = _scalar(m, "priority", ctx) or ""
        priority = parse_priority(prio_text)
        _fail(priority is None, "Invalid priority",
              ctx.child(m.get("priority").start_mark, "rule priority"))  # type: ignore[union-attr]
        info = RuleInfo(ctx, cond_ctx, output_ctx, name, cond=cond, output=output.strip(" \t\n\r\f\v"),
                        desc=desc, priority=priority or 0)  # fmt: skip
        info.source = _scalar(m, "source", ctx, optional=True) or "syscall"
        for key, attr, decode in (("enabled", "enabled", _bool), ("capture", "capture", _bool),
                                  ("capture_duration", "capture_duration", _uint32),
                                  ("warn_evttypes", "warn_evttypes", _bool),
                                  ("skip-if-unknown-filter", "skip_if_unknown_filter", _bool)):  # fmt: skip
            value = decode(m, key, ctx, optional=True)
            if value is not None:
                setattr(info, attr, value)
        info.tags = _tags(m, ctx) or set()
        info.exceptions = self.read_exceptions(m, ctx, append=False) or []
        self.col.define_rule(info, self.res)

    def read_rule_overrides(self, m: _Map, ctx: Context, name: str, source: str,
                            ov_append: list[str], ov_replace: list[str]) -> None:  # fmt: skip
        expected = {k for k in RULE_APPENDABLE + RULE_REPLACEABLE if k in m}
        for kind, keys in (("append", ov_append), ("replace", ov_replace)):
            if not keys:
                continue
            upd = RuleUpdate(ctx, name)
            order = RULE_APPENDABLE if kind == "append" else RULE_REPLACEABLE
            for key in sorted(keys, key=_OVERRIDE_ORDER.index):
                _fail(key not in expected, f"An {kind} override for '{key}' was specified but "
                      f"'{key}' is not defined", ctx)  # fmt: skip
                expected.discard(key)
                assert key in order
                if key == "condition":
                    upd.source = source
                self._set_update(upd, m, key, ctx, append=kind == "append")
            if kind == "append":
                self.col.append_rule(upd)
            else:
                self.col.replace_rule(upd)
        for key in sorted(expected):
            kctx = ctx.child(m.get(key).start_mark, "overrides", key)  # type: ignore[union-attr]
            _fail(True, f"Unexpected key '{key}': no corresponding entry under 'override' is "
                  "defined.", kctx)  # fmt: skip

    def _set_update(self, upd: RuleUpdate, m: _Map, key: str, ctx: Context, append: bool) -> None:
        attr = _UPDATE_ATTR.get(key, key)
        value: Any
        if key in ("condition", "output", "desc"):
            value = _scalar(m, key, ctx)
        elif key == "tags":
            value = _tags(m, ctx)
        elif key == "exceptions":
            value = self.read_exceptions(m, ctx, append=append)
        elif key == "priority":
            value = parse_priority(_scalar(m, key, ctx) or "")
            _fail(value is None, "Invalid priority",
                  ctx.child(m.get(key).start_mark, "rule priority"))  # type: ignore[union-attr]
        elif key == "capture_duration":
            value = _uint32(m, key, ctx)
        else:
            value = _bool(m, key, ctx)
        setattr(upd, attr, value)

    # -- exceptions -----------------------------------------------------------
    def read_exceptions(self, m: _Map, parent: Context, append: bool) -> list[ExceptionInfo] | None:
        node = m.get("exceptions")
        if node is None or _is_null(node):
            return [] if node is not None else None
        exs_ctx = parent.child(node.start_mark, "exceptions")
        _fail(not isinstance(node, yaml.SequenceNode), "Rule exceptions must be a sequence", exs_ctx)
        out: list[ExceptionInfo] = []
        for ex in node.value:
            tmp = exs_ctx.child(ex.start_mark, "exception")
            _fail(not isinstance(ex, yaml.MappingNode), "Rule exception must be a mapping", tmp)
            em = _Map(ex)
            name = _scalar(em, "name", tmp) or ""
            ex_ctx = parent.child(ex.start_mark, "exception", name)
            info = ExceptionInfo(ex_ctx, name)
            if any(e.name == name for e in out):
                self.res.add_warning(WarningCode.LOAD_EXCEPTION_NAME_NOT_UNIQUE,
                                     f"Multiple definitions of exception '{name}' in the same rule",
                                     ex_ctx)  # fmt: skip
            info.fields = _entry(em.get("fields"), "fields", ex_ctx, optional=append)
            info.comps = _entry(em.get("comps"), "comps", ex_ctx, optional=True)
            vals = em.get("values")
            if vals is not None:
                vctx = ex_ctx.child(vals.start_mark, "exception values")
                _fail(not isinstance(vals, yaml.SequenceNode),
                      "Rule exception values must be a sequence", vctx)  # fmt: skip
                for v in vals.value:
                    info.values.append(_entry(v, "", vctx.child(v.start_mark, "exception value"),
                                              optional=False))  # fmt: skip
            elif append:
                self.res.add_warning(WarningCode.LOAD_APPEND_NO_VALUES,
                                     "Overriding/appending exception with no values", ex_ctx)  # fmt: skip
            out.append(info)
        return out


_OVERRIDE_ORDER = ("condition", "exceptions", "output", "desc", "tags", "priority", "capture",
                   "capture_duration", "enabled", "warn_evttypes", "skip-if-unknown-filter")  # fmt: skip


def _entry(val: yaml.Node | None, key: str, ctx: Context, optional: bool) -> Entry:
    """An exception's fields/comps/value (upstream's decode_exception_info_entry)."""
    if val is None:
        _fail(not optional, f"Item has no mapping for key '{key}'", ctx)
        return Entry()
    vctx = ctx.child(val.start_mark, "value for", key)
    if isinstance(val, yaml.ScalarNode) and not _is_null(val):
        _fail(val.value == "", "Value must be non-empty", vctx)
        return Entry(False, str(val.value))
    if isinstance(val, yaml.SequenceNode):
        return Entry(True, "", [_entry(v, "", vctx.child(v.start_mark, "exception"), False)
                                for v in val.value])  # fmt: skip
    return Entry()


def _yaml_message(e: yaml.MarkedYAMLError) -> str:
    mark = e.problem_mark or e.context_mark
    where = f"yaml error at line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return where + " ".join(p for p in (e.context, e.problem) if p)
