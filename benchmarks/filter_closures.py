"""A minimal closure-tree filter compiler, for comparison with libsinsp.filter's
generated code (benchmarks/test_filter_eval.py). Not part of the product.

Each AST node becomes a Python closure; evaluating a filter calls one closure per
visited node. Same field registry, same value preparation (libsinsp.filter.operators)
and the same short-circuit order as the product compiler; no per-event field cache
(a field used twice is extracted twice, as each leaf owns its extractor). Covers what
the benchmark filters use: and/or/not, = != < <= > >=, in, pmatch, exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from libsinsp.filter import ast
from libsinsp.filter.operators import list_op, pmatch, scalar_ops

Pred = Callable[[Any], bool]


def compile_closures(node: ast.Expr, registry: Any) -> Pred:
    if isinstance(node, ast.And):
        parts = tuple(compile_closures(c, registry) for c in node.children)
        if len(parts) == 2:
            a, b = parts
            return lambda e: a(e) and b(e)

        def all_of(e: Any) -> bool:
            for p in parts:
                if not p(e):
                    return False
            return True

        return all_of
    if isinstance(node, ast.Or):
        parts = tuple(compile_closures(c, registry) for c in node.children)
        if len(parts) == 2:
            a, b = parts
            return lambda e: a(e) or b(e)

        def any_of(e: Any) -> bool:
            for p in parts:
                if p(e):
                    return True
            return False

        return any_of
    if isinstance(node, ast.Not):
        inner = compile_closures(node.child, registry)
        return lambda e: not inner(e)
    assert isinstance(node, (ast.UnaryCheck, ast.BinaryCheck)) and isinstance(node.left, ast.Field)
    info = registry.lookup(node.left.name)
    x = registry.make_extractor(info, node.left.arg)
    if isinstance(node, ast.UnaryCheck):
        return lambda e: x(e) is not None
    op = "=" if node.op == "==" else node.op
    if isinstance(node.right, ast.ListValue):
        prepare, _ = list_op(op, info.type, info.is_list)
        c = prepare(node.right.values)
        if op == "pmatch":
            return lambda e: (v := x(e)) is not None and pmatch(v, c)
        return lambda e: (v := x(e)) is not None and v in c
    spec = scalar_ops(info.type)[op]
    c = spec.prepare(node.right.value)
    if op == "=":
        return lambda e: x(e) == c
    if op == "!=":
        return lambda e: (v := x(e)) is not None and v != c
    if op == "<":
        return lambda e: (v := x(e)) is not None and v < c
    if op == "<=":
        return lambda e: (v := x(e)) is not None and v <= c
    if op == ">":
        return lambda e: (v := x(e)) is not None and v > c
    return lambda e: (v := x(e)) is not None and v >= c
