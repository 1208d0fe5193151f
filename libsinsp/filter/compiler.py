"""AST -> one Python callable per filter, by generating Python source and compile().

Why generated code: the function is a single frame with inline comparisons,
short-circuiting ``and``/``or`` and each field extracted at most once (a field
used more than once is cached in a local). Measured against a closure tree (one
closure per node, same operators and extractors; benchmarks/filter_closures.py)
by benchmarks/test_filter_eval.py, CPython 3.11, the 597 exit events of
curl_google.scap, median ns/event, on a shared 2-core machine:

=========================  =========  ========  ==============
filter                     generated  closures  fields alone
=========================  =========  ========  ==============
values pre-extracted into dicts (evaluation machinery only)
single ``evt.type =``            100       104              78
30-name ``proc.name in``         118       120              79
``pmatch`` 50 prefixes           352       355              76
10-clause and/or mix             553      1112             851
libsinsp's real extractors on SinspEvents
single ``evt.type =``            645       645             615
30-name ``proc.name in``          99       101              64
``pmatch`` 50 prefixes           485       491             200
10-clause and/or mix            2958     10848           10649
=========================  =========  ========  ==============

Generated code is as fast as closures on one check and about twice as fast on
the mix, where it extracts ``evt.type`` once instead of twice and pays no call
per node ("fields alone" extracts every field of the filter once, without
short-circuit). So the product keeps generated code. With real events the cost
is mostly the extractors (``evt.type`` was ~600 ns: three properties and two
enum lookups per call; a name table since, ~150 ns), not the filter machinery.

Many filters at once (``compile_matcher``, what the rules engine runs per event
code): one function, so a field read by several rules is extracted once per
event, and/or/not subtrees repeated across rules (macros) and repeated checks
over "any of" candidates are evaluated once -- up front into plain locals when
they lie on a rule's leading path (every call evaluates them unless an earlier
rule matched). Fields ``known`` for every event of the group (``evt.type`` of
one event code) are constants; with ``event_code`` the registry may hand out
extractors specialised to the code, or Constants (fd fields of events without
an fd), so checks on those are decided here too; ``cheap`` extractors (libsinsp's
C field readers) are called up front. Official rules on the 1M-record replay
(benchmarks/test_engine_events.py, CPU time, the inspector returning only the
events of the rules' codes): the rules added 49 % to the no-rules run with one
function per rule (when that run took 3.9 s), +25 % now (0.46 s vs 0.37 s); the
matcher of open events (14 rules) takes 1.45 us median.
Parse+compile of the official rules (169 macros parsed, 56 rule conditions
parsed and compiled with them expanded): 207 ms median with the LALR tables
rebuilt in the timed call, 191 ms with tables already built (same benchmark).

What compile does once: macros and list names are expanded, fields are looked
up and their arguments validated, operators are checked against the field type,
values are parsed to the field's type (numbers, IPs, networks, hex bytes, glob
and regex matchers, frozensets, path-prefix sets), constant checks are folded
(``x in ()`` is false). A missing value (extractor returns None) makes a check
false; ``exists`` tests presence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from libsinsp.filter import ast
from libsinsp.filter.errors import FilterCompileError
from libsinsp.filter.fields import STRING_TYPES, AnyOf, ArgRule, Constant, Extractor, FieldInfo, FieldRegistry, FieldType
from libsinsp.filter.operators import RUNTIME, list_op, scalar_ops
from libsinsp.filter.transformers import SINGLE_STRING, concat, elementwise, join, length

_MISSING = object()


@dataclass(frozen=True)
class _Operand:
    code: str
    type: FieldType
    is_list: bool
    #: the value is a compile-time constant (a ``known`` field, or a transformer of constants)
    const: bool = False
    #: the field and its argument, for a plain field (not a transformer)
    field: tuple[FieldInfo, str | None] | None = None


class _Compiler:
    def __init__(
        self,
        registry: FieldRegistry,
        macros: Mapping[str, ast.Expr],
        lists: Mapping[str, Sequence[str]],
        known: Mapping[str, Any],
        event_code: int | None = None,
    ) -> None:
        self.registry = registry
        #: the registry's optional hook ``make_code_extractor(field, arg, code)``, bound to
        #: the one event code every event has (None: events of any code)
        hook = getattr(registry, "make_code_extractor", None)
        self.for_code = (None if hook is None or event_code is None
                         else lambda info, arg: hook(info, arg, event_code))  # fmt: skip
        #: the registry's optional hook ``validate_value(field, arg, value)`` (ValueError)
        self.validate = getattr(registry, "validate_value", None)
        self.macros = macros
        self.lists = lists
        self.known = known
        self.ns: dict[str, Any] = {"_M": _MISSING, **RUNTIME}
        self.fields: dict[tuple[Any, ...], int] = {}
        self.field_uses: list[int] = []
        self.n_consts = 0
        self.expanding: list[str] = []
        #: and/or/not subtrees and checks over "any of" candidates met more than once in
        #: what is compiled -> their code (None until compiled), read through a local
        #: computed on first use, or up front for the certain ones
        self.repeated: dict[ast.Expr, str | bool | None] = {}
        #: the repeated subtrees every call evaluates (see find_certain): computed up
        #: front, one line each, inner ones first
        self.certain: set[ast.Expr] = set()
        self.eager_lines: list[str] = []
        self.eager_locals: set[str] = set()
        self.n_locals = 0

    # -- names in the generated namespace -------------------------------------
    def const(self, value: Any) -> str:
        name = f"c{self.n_consts}"
        self.n_consts += 1
        self.ns[name] = value
        return name

    def helper(self, name: str, fn: Callable[..., Any]) -> str:
        self.ns[name] = fn
        return name

    # -- lists and macros -------------------------------------------------------
    def expand_values(self, values: Sequence[str], seen: tuple[str, ...] = ()) -> list[str]:
        """Expand list names appearing as list elements, as Falco's rules loader does."""
        out: list[str] = []
        for v in values:
            if v in self.lists and v not in seen:
                out.extend(self.expand_values(self.lists[v], seen + (v,)))
            else:
                out.append(v)
        return out

    def list_values(self, node: ast.ListValue | ast.ListRef) -> list[str]:
        if isinstance(node, ast.ListRef):
            if node.name not in self.lists:
                raise FilterCompileError(f"undefined list '{node.name}'", node.pos)
            return self.expand_values(self.lists[node.name], (node.name,))
        return self.expand_values(node.values)

    # -- operands ---------------------------------------------------------------
    def resolve(self, node: ast.Field) -> tuple[FieldInfo, str | None]:
        """The field ``node`` names and its argument (bracketed or dotted), validated."""
        info = self.registry.lookup(node.name)
        if info is None:
            raise FilterCompileError(f"unknown field '{node.name}'", node.pos)
        arg = node.arg
        if info.name != node.name:
            if arg is not None:
                raise FilterCompileError(
                    f"field '{node.name}' has both a dotted and a bracketed argument", node.pos
                )
            arg = node.name[len(info.name) + 1 :]
        self.check_arg(info, arg, node)
        return info, arg

    def extractor_slot(self, key: tuple[Any, ...], make: Callable[[], Extractor]) -> str:
        """The marker of extractor ``key`` (registered on first use), counting one use."""
        idx = self.fields.get(key)
        if idx is None:
            idx = len(self.fields)
            self.fields[key] = idx
            self.field_uses.append(0)
            self.ns[f"x{idx}"] = make()
        self.field_uses[idx] += 1
        return f"\x00{idx}\x00"

    def field(self, node: ast.Field) -> _Operand:
        info, arg = self.resolve(node)
        if arg is None and info.name in self.known:
            return _Operand(self.const(self.known[info.name]), info.type, info.is_list, True, (info, arg))
        special = self.for_code(info, arg) if self.for_code is not None else None
        if isinstance(special, Constant):
            return _Operand(self.const(special.value), info.type, info.is_list, True, (info, arg))
        make = (lambda: special) if special is not None else (lambda: self.registry.make_extractor(info, arg))
        code = self.extractor_slot((info.name, arg), make)
        return _Operand(code, info.type, info.is_list, False, (info, arg))

    def candidates(self, node: ast.Operand) -> tuple[str, _Operand, bool] | None:
        """For a field whose checks mean "any of several values" (upstream's
        ``proc.aname`` without an index: any ancestor's name), the code of the
        candidates tuple and the operand standing for one candidate (``a_``); the
        registry's optional hook ``make_any_extractor(field, arg)`` says which,
        and whether ``!=`` must hold for all candidates rather than any."""
        found = self.any_of(node)
        if found is None:
            return None
        info, arg, any_of = found
        # keyed by the extractor: fields with the same candidates (fd.ip, fd.net) share them
        seq = self.extractor_slot(("any", any_of.extract), lambda: any_of.extract)
        return seq, _Operand("a_", info.type, False, False, (info, arg)), any_of.ne_all

    def any_of(self, node: ast.Operand) -> tuple[FieldInfo, str | None, AnyOf] | None:
        """The field ``node`` names, its argument and its candidates' AnyOf, when it is
        an "any of" field (the registry's optional hook ``make_any_extractor``)."""
        hook = getattr(self.registry, "make_any_extractor", None)
        if hook is None or not isinstance(node, ast.Field):
            return None
        info, arg = self.resolve(node)
        any_of = hook(info, arg)
        return None if any_of is None else (info, arg, any_of)

    @staticmethod
    def check_arg(info: FieldInfo, arg: str | None, node: ast.Field) -> None:
        rule = info.arg
        if rule == ArgRule.NONE:
            if arg is not None:
                raise FilterCompileError(f"field '{info.name}' does not accept an argument", node.pos)
            return
        if arg is None:
            if rule in (ArgRule.OPTIONAL_INDEX, ArgRule.OPTIONAL_KEY):
                return
            raise FilterCompileError(f"field '{info.name}' requires an argument", node.pos)
        if rule in (ArgRule.OPTIONAL_INDEX, ArgRule.REQUIRED_INDEX) and not arg.isdigit():
            raise FilterCompileError(
                f"field '{info.name}' requires a numeric index argument, got '{arg}'", node.pos
            )
        if arg == "":
            raise FilterCompileError(f"field '{info.name}' requires a non-empty argument", node.pos)

    def operand(self, node: ast.Operand) -> _Operand:
        if isinstance(node, ast.Field):
            return self.field(node)
        if isinstance(node, ast.Transformer):
            return self.transformer(node)
        raise FilterCompileError("expected a field or a field transformer", node.pos)

    def transformer(self, node: ast.Transformer) -> _Operand:
        name = node.name
        if node.arg is not None:
            raise FilterCompileError(f"transformer '{name}' does not accept an argument", node.pos)
        if name == "val":
            return self.operand(node.args[0])
        if name in SINGLE_STRING or name == "len":
            if len(node.args) != 1:
                raise FilterCompileError(f"transformer '{name}' takes exactly one field", node.pos)
            inner = self.operand(node.args[0])
            if name == "len":
                if inner.type not in STRING_TYPES and inner.type != FieldType.BYTEBUF and not inner.is_list:
                    raise FilterCompileError(
                        f"transformer 'len' is not supported on type {inner.type.value}", node.pos
                    )
                fn = self.helper("_tr_len", length)
                return _Operand(f"{fn}({inner.code})", FieldType.UINT64, False, inner.const)
            if inner.type not in STRING_TYPES:
                raise FilterCompileError(
                    f"transformer '{name}' is not supported on type {inner.type.value}", node.pos
                )
            impl = SINGLE_STRING[name]
            if inner.is_list:
                fn = self.helper(f"_tr_{name}_each", elementwise(impl))
            else:
                fn = self.helper(f"_tr_{name}", impl)
            return _Operand(f"{fn}({inner.code})", inner.type, inner.is_list, inner.const)
        if name in ("concat", "join"):
            parts = [self.concat_part(a) for a in node.args]
            if name == "join" and len(parts) < 2:
                raise FilterCompileError("transformer 'join' takes a separator and values", node.pos)
            fn = self.helper(f"_tr_{name}", concat if name == "concat" else join)
            code = f"{fn}({', '.join(parts)})"
            return _Operand(code, FieldType.CHARBUF, False, "\x00" not in code)
        raise FilterCompileError(f"transformer '{name}' is not supported", node.pos)

    def concat_part(self, node: ast.Operand) -> str:
        if isinstance(node, ast.Value):
            return self.const(node.value)
        if isinstance(node, ast.TransformerList):
            items = [self.concat_part(i) for i in node.items]
            return "(" + "".join(f"{i}, " for i in items) + ")"
        return self.operand(node).code

    # -- checks -----------------------------------------------------------------
    def junction(self, children: tuple[ast.Expr, ...], op: str, absorbing: bool) -> str | bool:
        """``and``/``or`` with constants folded: an ``absorbing`` constant child
        (False for and, True for or) decides the whole; the other kind drops out."""
        parts = [self.expr(c) for c in children]
        if any(p is absorbing for p in parts):
            return absorbing
        code = [p for p in parts if not isinstance(p, bool)]
        return (not absorbing) if not code else "(" + f" {op} ".join(code) + ")"  # type: ignore[arg-type]

    def find_repeated(self, trees: Sequence[ast.Expr]) -> None:
        """Note the and/or/not subtrees occurring more than once (a macro used by
        several rules), and the repeated checks over "any of" candidates (a loop
        each): each is evaluated once per event and kept in a local."""
        seen: set[ast.Expr] = set()
        todo = list(trees)
        while todo:
            node = todo.pop()
            if isinstance(node, (ast.And, ast.Or, ast.Not)) or self.over_candidates(node):
                if node in seen:
                    self.repeated[node] = None
                    continue
                seen.add(node)
                if isinstance(node, (ast.And, ast.Or, ast.Not)):
                    todo.extend(node.children if isinstance(node, (ast.And, ast.Or)) else (node.child,))

    def find_certain(self, trees: Sequence[ast.Expr]) -> None:
        """The repeated subtrees on the leftmost path of a tree (a rule's leading
        conjunct, its own first operand...): whatever the event, they are evaluated
        whenever that tree is, i.e. unless an earlier rule matched. Computed up front,
        every use is a plain local instead of a test of the local's cache."""
        for node in trees:
            while True:
                if node in self.repeated:
                    self.certain.add(node)
                if isinstance(node, (ast.And, ast.Or)):
                    node = node.children[0]
                elif isinstance(node, ast.Not):
                    node = node.child
                else:
                    break

    def over_candidates(self, node: ast.Expr) -> bool:
        """Is ``node`` a check on an "any of" field (see candidates)?"""
        if not isinstance(node, ast.BinaryCheck):
            return False
        try:
            return self.any_of(node.left) is not None
        except FilterCompileError:
            return False  # reported when the check itself is compiled

    def expr(self, node: ast.Expr) -> str | bool:
        if node not in self.repeated:
            return self.expr_uncached(node)
        code = self.repeated[node]
        if code is None:
            body = self.expr_uncached(node)
            if not isinstance(body, bool):
                name = f"b{self.n_locals}"
                self.n_locals += 1
                if node in self.certain:
                    self.eager_lines.append(f"    {name} = {body}\n")
                    self.eager_locals.add(name)
                    body = name
                else:
                    body = f"({name} if {name} is not _M else ({name} := {body}))"
            code = self.repeated[node] = body
        return code

    def expr_uncached(self, node: ast.Expr) -> str | bool:
        if isinstance(node, ast.And):
            return self.junction(node.children, "and", absorbing=False)
        if isinstance(node, ast.Or):
            return self.junction(node.children, "or", absorbing=True)
        if isinstance(node, ast.Not):
            inner = self.expr(node.child)
            return (not inner) if isinstance(inner, bool) else f"(not {inner})"
        if isinstance(node, ast.Identifier):
            return self.macro(node)
        if isinstance(node, ast.UnaryCheck):
            left = self.operand(node.left)
            return self.fold(f"({left.code} is not None)", left.const)
        return self.binary(node)

    def fold(self, code: str, const: bool) -> str | bool:
        """``code`` itself, or its value when it reads only constants."""
        return bool(eval(f"(lambda: {code})()", self.ns)) if const else code

    def macro(self, node: ast.Identifier) -> str | bool:
        if node.name not in self.macros:
            raise FilterCompileError(f"undefined macro '{node.name}'", node.pos)
        if node.name in self.expanding:
            raise FilterCompileError(f"macro '{node.name}' references itself", node.pos)
        self.expanding.append(node.name)
        try:
            return self.expr(self.macros[node.name])
        finally:
            self.expanding.pop()

    def binary(self, node: ast.BinaryCheck) -> str | bool:
        cands = self.candidates(node.left)
        if cands is None:
            return self.check(node, self.operand(node.left))
        seq, one, ne_all = cands
        check = self.check(node, one)
        if isinstance(check, bool):
            return check
        quantifier = "all" if ne_all and node.op == "!=" else "any"
        if "\x00" not in check:  # the check reads no field: a helper loop, no generator
            return f"{self.quantified(check, quantifier)}({seq})"
        # the tuple goes to a local first: Python allows no ":=" (used by the field
        # cache) in a comprehension's iterable
        name = f"s{self.n_locals}"
        self.n_locals += 1
        return f"(({name} := {seq}) is not None and {quantifier}({check} for a_ in {name}))"

    def quantified(self, check: str, quantifier: str) -> str:
        """The name of a helper telling whether ``check`` (over ``a_``) holds for any
        (or all) of a candidates tuple, false when there is none: a loop in a
        function costs about half a generator under any()/all()."""
        name = f"_q{self.n_consts}"
        self.n_consts += 1
        test, hit, miss = ("", "True", "False") if quantifier == "any" else ("not ", "False", "True")
        source = (f"def {name}(s):\n    if s is None:\n        return False\n    for a_ in s:\n"
                  f"        if {test}{check}:\n            return {hit}\n    return {miss}\n")
        exec(compile(source, "<filter>", "exec"), self.ns)
        return name

    def check(self, node: ast.BinaryCheck, left: _Operand) -> str | bool:
        """The code of ``node`` with ``left`` as its left-hand operand."""
        op = "=" if node.op == "==" else node.op
        right = node.right
        where = "field" if isinstance(node.left, ast.Field) else "transformer result"
        desc = f"{where} '{_name(node.left)}' of type {left.type.value}"
        if isinstance(right, (ast.ListValue, ast.ListRef)) and node.modifier is None:
            spec = list_op(op, left.type, left.is_list)
            if spec is None:
                raise FilterCompileError(f"operator '{op}' is not supported by {desc}", node.pos)
            prepare, code = spec
            values = self.list_values(right)
            self.check_values(left, values, right)
            if not values:
                return False
            c = self.const(self._prepare(prepare, values, desc, right))
            return self.fold(f"((t := {left.code}) is not None and {code('t', c)})", left.const)
        if left.is_list:
            raise FilterCompileError(
                f"operator '{op}' is not supported by {desc}: use 'in', 'intersects' or 'exists'",
                node.pos,
            )
        spec_s = scalar_ops(left.type).get(op)
        if spec_s is None:
            raise FilterCompileError(f"operator '{op}' is not supported by {desc}", node.pos)
        if isinstance(right, ast.Transformer):
            if not spec_s.dynamic:
                raise FilterCompileError(
                    f"operator '{op}' does not accept a field on its right-hand side", right.pos
                )
            rhs = self.operand(right)
            return self.fold(f"((t := {left.code}) is not None and (u := {rhs.code}) is not None and "
                             f"{spec_s.code('t', 'u')})", left.const and rhs.const)  # fmt: skip
        if isinstance(right, ast.Value):
            self.check_values(left, [right.value], right)
            c = self.const(self._prepare(spec_s.prepare, right.value, desc, right))
            if spec_s.none_safe:
                return self.fold(f"({spec_s.code(left.code, c)})", left.const)
            return self.fold(f"((t := {left.code}) is not None and {spec_s.code('t', c)})", left.const)
        values = self.list_values(right)
        self.check_values(left, values, right)
        names = [self.const(self._prepare(spec_s.prepare, v, desc, right)) for v in values]
        if node.modifier == "allof":
            if not names:
                return self.fold(f"({left.code} is not None)", left.const)
            joined = " and ".join(spec_s.code("t", c) for c in names)
        else:
            if not names:
                return False
            joined = " or ".join(spec_s.code("t", c) for c in names)
        return self.fold(f"((t := {left.code}) is not None and ({joined}))", left.const)

    def check_values(self, left: _Operand, values: Sequence[str], node: Any) -> None:
        """The registry's own checks of a plain field's values (libsinsp rejects an
        ``evt.type`` value that names no event, whatever the operator)."""
        if self.validate is None or left.field is None:
            return
        for v in values:
            try:
                self.validate(*left.field, v)
            except ValueError as e:
                raise FilterCompileError(str(e), node.pos) from None

    @staticmethod
    def _prepare(fn: Callable[[Any], Any], value: Any, desc: str, node: Any) -> Any:
        try:
            return fn(value)
        except ValueError as e:
            shown = value if isinstance(value, str) else ", ".join(value)
            raise FilterCompileError(f"invalid value '{shown}' for {desc}: {e}", node.pos) from None

    def finish(self, name: str, body: str) -> Callable[..., Any]:
        """Define function ``name`` from ``body`` (lines after the prologue), each field
        read through its extractor once: fields used more than once are cached in a
        local on first use, or read into it first when their extractor is ``cheap``;
        the subtrees every call evaluates come first."""
        body = "".join(self.eager_lines) + body
        unset, eager = [], []
        for idx, uses in enumerate(self.field_uses):
            marker = f"\x00{idx}\x00"
            if uses > 1 and getattr(self.ns[f"x{idx}"], "cheap", False):
                # extracted up front: cheaper than testing the cache at every use
                eager.append(f"    v{idx} = x{idx}(e)\n")
                body = body.replace(marker, f"v{idx}")
            elif uses > 1:
                unset.append(f"v{idx}")
                body = body.replace(marker, f"(v{idx} if v{idx} is not _M else (v{idx} := x{idx}(e)))")
            else:
                body = body.replace(marker, f"x{idx}(e)")
        unset.extend(b for i in range(self.n_locals) if (b := f"b{i}") not in self.eager_locals)
        # one chained assignment: _M is loaded once, not once per local
        prologue = f"    {' = '.join(unset)} = _M\n" if unset else ""
        source = f"def {name}(e):\n" + prologue + "".join(eager) + body
        exec(compile(source, "<filter>", "exec"), self.ns)
        fn: Callable[..., Any] = self.ns[name]
        fn.__doc__ = source
        return fn

    def build(self, node: ast.Expr) -> Callable[[Any], bool]:
        self.find_repeated([node])
        self.find_certain([node])
        body = self.expr(node)
        if isinstance(body, bool):
            return (lambda e: True) if body else (lambda e: False)
        # every generated check is already a bool (comparisons, "is not None", "in",
        # predicates returning bool; and/or over bools), so no bool() call is needed
        return self.finish("_filter", f"    return {body}\n")

    def build_matcher(self, sections: Sequence[Sequence[tuple[ast.Expr, Any]]],
                      first: bool) -> Callable[[Any], Sequence[Any]]:  # fmt: skip
        trees = [node for section in sections for node, _ in section]
        self.find_repeated(trees)
        self.find_certain(trees)
        lines = [] if first else ["    m = []\n"]
        for i, section in enumerate(sections):
            for node, value in section:
                body = self.expr(node)
                if body is False:
                    continue
                c = self.const(value)
                hit = f"return ({c},)" if first else f"m.append({c})"
                lines.append(f"    {hit}\n" if body is True else f"    if {body}:\n        {hit}\n")
            if not first and i < len(sections) - 1:
                lines.append("    if m:\n        return m\n")
        lines.append("    return ()\n" if first else "    return m\n")
        return self.finish("_match", "".join(lines))


def _name(node: ast.Field | ast.Transformer) -> str:
    if isinstance(node, ast.Field):
        return node.name if node.arg is None else f"{node.name}[{node.arg}]"
    return f"{node.name}(...)"


def compile_filter(
    node: ast.Expr,
    registry: FieldRegistry,
    *,
    macros: Mapping[str, ast.Expr] | None = None,
    lists: Mapping[str, Sequence[str]] | None = None,
    known: Mapping[str, Any] | None = None,
) -> Callable[[Any], bool]:
    """Compile ``node`` into ``event -> bool``; raises FilterCompileError with positions.

    ``macros`` maps macro names to parsed ASTs, ``lists`` maps list names to their
    items; both are resolved here (recursively) and unresolved names are errors.
    ``known`` maps field names (used without argument) to the value they have on
    every event the filter will see: checks on them are decided at compile time.
    The generated source is kept in the callable's ``__doc__`` for debugging.
    """
    return _Compiler(registry, macros or {}, lists or {}, known or {}).build(node)


def compile_matcher(
    sections: Sequence[Sequence[tuple[ast.Expr, Any]]],
    registry: FieldRegistry,
    *,
    first: bool,
    known: Mapping[str, Any] | None = None,
    event_code: int | None = None,
) -> Callable[[Any], Sequence[Any]]:
    """Compile many filters into one ``event -> matches`` function.

    ``sections`` holds ``(filter, value)`` pairs tried in order; the function
    returns the values of the matching filters: only the first with ``first``,
    otherwise all the matches of the first section having any. Every field is
    extracted at most once per call, whichever filters use it (one function, one
    set of locals). ``known`` as for compile_filter. ``event_code``: the code of
    every event the function will see; fields are then extracted by the registry's
    ``make_code_extractor`` when it has one for the code (a Constant is decided here).
    """
    return _Compiler(registry, {}, {}, known or {}, event_code).build_matcher(sections, first)
