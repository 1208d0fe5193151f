"""Which event types can a filter match? For rule indexing and for choosing the
syscalls the kernel probe must send.

Same algebra as upstream's event-code search: ``and`` intersects and ``or``
unites the children's sets, negation is pushed to the leaves (De Morgan), an
``evt.type``/``syscall.type`` check with ``=``/``==``/``!=``/``in`` gives its
names (complemented under ``!=`` or negation), ``evt.type exists`` gives all
types (none under negation), checks on ``evt.num`` that are always false
(``evt.num = 0``, ``evt.num < 1``...) or always true (``evt.num > 0``...) give
none/all, and any other check gives all types whether negated or not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from libsinsp.filter import ast
from libsinsp.filter.errors import FilterCompileError

_EVTTYPE_FIELDS = ("evt.type", "syscall.type")
_EVTTYPE_OPS = ("=", "==", "!=", "in")


def event_types(
    node: ast.Expr,
    all_types: Iterable[str],
    *,
    macros: Mapping[str, ast.Expr] | None = None,
    lists: Mapping[str, Sequence[str]] | None = None,
) -> frozenset[str] | Literal["all"]:
    """Event type names (out of ``all_types``) ``node`` can match, or ``"all"``."""
    universe = frozenset(all_types)
    result = _Search(universe, macros or {}, lists or {}).visit(node, False)
    return "all" if result == universe else result


def _u64(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) < 2**64 else None


def _evt_num_invariant(node: ast.BinaryCheck) -> bool | None:
    """True/False when an ``evt.num`` check is always true/false (evt.num starts at 1)."""
    left = node.left
    if not isinstance(left, ast.Field) or left.name != "evt.num" or left.arg is not None:
        return None
    op, right = node.op, node.right
    if op == "in":
        if not isinstance(right, ast.ListValue):
            return None
        return False if all(_u64(v) == 0 for v in right.values) else None
    if not isinstance(right, ast.Value):
        return None
    n = _u64(right.value)
    if n is None:
        return None
    if op in ("=", "==", "<="):
        return False if n == 0 else None
    if op == "<":
        return False if n <= 1 else None
    if op in ("!=", ">"):
        return True if n == 0 else None
    if op == ">=":
        return True if n <= 1 else None
    return None


class _Search:
    def __init__(
        self,
        universe: frozenset[str],
        macros: Mapping[str, ast.Expr],
        lists: Mapping[str, Sequence[str]],
    ) -> None:
        self.all = universe
        self.macros = macros
        self.lists = lists

    def visit(self, node: ast.Expr, neg: bool) -> frozenset[str]:
        if isinstance(node, (ast.And, ast.Or)):
            intersect = isinstance(node, ast.And) != neg
            sets = [self.visit(c, neg) for c in node.children]
            if intersect:
                return self.all.intersection(*sets)
            return frozenset().union(*sets)
        if isinstance(node, ast.Not):
            return self.visit(node.child, not neg)
        if isinstance(node, ast.Identifier):
            macro = self.macros.get(node.name)
            return self.all if macro is None else self.visit(macro, neg)
        if isinstance(node, ast.UnaryCheck):
            is_evttype = _is_evttype_field(node.left) and node.op == "exists"
            return frozenset() if (is_evttype and neg) else self.all
        return self.binary(node, neg)

    def binary(self, node: ast.BinaryCheck, neg: bool) -> frozenset[str]:
        invariant = _evt_num_invariant(node)
        if invariant is not None:
            return self.all if invariant != neg else frozenset()
        if node.op not in _EVTTYPE_OPS:
            return self.all
        if isinstance(node.left, ast.Transformer) and any(
            _is_evttype_field(a) for a in node.left.args
        ):
            raise FilterCompileError(
                "event code search does not support `evt.type` checks with transformers",
                node.pos,
            )
        if not _is_evttype_field(node.left):
            return self.all
        right = node.right
        if isinstance(right, ast.Transformer):
            raise FilterCompileError(
                "right-hand field comparisons on `evt.type`/`syscall.type` checks are not "
                "supported by event code search",
                right.pos,
            )
        names = self.names(right)
        codes = self.all & names
        if neg:
            codes = self.all - codes
        if node.op == "!=":
            codes = self.all - codes
        return codes

    def names(self, right: ast.Value | ast.ListValue | ast.ListRef) -> frozenset[str]:
        if isinstance(right, ast.Value):
            return frozenset((right.value,))
        values = right.values if isinstance(right, ast.ListValue) else self.list_ref(right)
        out: set[str] = set()
        for v in values:
            out.update(self.lists.get(v, (v,)))
        return frozenset(out)

    def list_ref(self, right: ast.ListRef) -> Sequence[str]:
        if right.name not in self.lists:
            raise FilterCompileError(f"undefined list '{right.name}'", right.pos)
        return self.lists[right.name]


def _is_evttype_field(node: ast.Operand) -> bool:
    return isinstance(node, ast.Field) and node.name in _EVTTYPE_FIELDS and node.arg is None
