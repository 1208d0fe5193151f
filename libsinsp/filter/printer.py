"""AST -> filter text. The output re-parses to an equal AST (used by property tests,
error messages and the rules layer when it needs to show an expanded condition)."""

from __future__ import annotations

import re

from libsinsp.filter import ast
from libsinsp.filter.escaping import quote

# a bare string is printed unquoted only when it re-lexes as the same single token
_SAFE_BARE = re.compile(r"[A-Za-z0-9_./*?\-+:@%^~]+")
_SAFE_ARG = re.compile(r"[^\]\[\"' \t\n\r\f\v\\]+")
_KEYWORDS = ("and", "or", "not", "oneof", "anyof", "allof")


def _str(value: str) -> str:
    if _SAFE_BARE.fullmatch(value) and not value.startswith(_KEYWORDS):
        return value
    return quote(value)


def _arg(arg: str | None) -> str:
    if arg is None:
        return ""
    return f"[{arg}]" if _SAFE_ARG.fullmatch(arg) else f"[{quote(arg)}]"


def _operand(node: ast.Operand) -> str:
    if isinstance(node, ast.Field):
        return node.name + _arg(node.arg)
    if isinstance(node, ast.Transformer):
        args = ", ".join(_operand(a) for a in node.args)
        return f"{node.name}({args}){_arg(node.arg)}"
    if isinstance(node, ast.TransformerList):
        return "(" + ", ".join(_operand(a) for a in node.items) + ")"
    if isinstance(node, ast.Value):
        return quote(node.value)
    raise TypeError(f"not an operand: {node!r}")


def _right(node: ast.Value | ast.ListValue | ast.ListRef | ast.Transformer) -> str:
    if isinstance(node, ast.Value):
        return _str(node.value)
    if isinstance(node, ast.ListValue):
        return "(" + ", ".join(_str(v) for v in node.values) + ")"
    if isinstance(node, ast.ListRef):
        return node.name
    return _operand(node)


def to_string(node: ast.Expr) -> str:
    """Print ``node`` as filter text; sub-expressions are parenthesized where needed."""
    if isinstance(node, ast.And):
        return " and ".join(_wrap(c, (ast.Or, ast.And)) for c in node.children)
    if isinstance(node, ast.Or):
        return " or ".join(_wrap(c, (ast.Or,)) for c in node.children)
    if isinstance(node, ast.Not):
        return "not " + _wrap(node.child, (ast.Or, ast.And, ast.Not))
    if isinstance(node, ast.Identifier):
        return node.name
    if isinstance(node, ast.UnaryCheck):
        return f"{_operand(node.left)} {node.op}"
    if isinstance(node, ast.BinaryCheck):
        op = node.op if node.modifier is None else f"{node.op} {node.modifier}"
        return f"{_operand(node.left)} {op} {_right(node.right)}"
    raise TypeError(f"not an expression: {node!r}")


def _wrap(node: ast.Expr, needs_parens: tuple[type, ...]) -> str:
    text = to_string(node)
    return f"({text})" if isinstance(node, needs_parens) else text
