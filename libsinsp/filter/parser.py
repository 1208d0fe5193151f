"""The PLY (LALR) grammar of the filter language and ``parse()``.

Productions follow upstream's documented EBNF (libsinsp/filter/parser.h):

    Expr        ::= OrExpr
    OrExpr      ::= AndExpr ('or' (' ' AndExpr | '(' Expr ')'))*
    AndExpr     ::= NotExpr ('and' (' ' NotExpr | '(' Expr ')'))*
    NotExpr     ::= ('not ')* ('not(' Expr ')' | Check)
    Check       ::= Field Condition | Transformer Condition | Identifier | '(' Expr ')'
    Condition   ::= 'exists' | NumOp (Number | Transformer) | StrOp (Str | Transformer)
                  | StrOp Modifier ListValue | ListOp (ListValue | Transformer)

A chain of ``not `` prefixes toggles (``not not a`` is ``a``), and ``or(...)``
closes its or-chain: ``a or(b) and c`` is an error, as upstream. ``and``/``or``
chains are flat n-ary nodes. The tokenizer (``lexer``) resolves the lexical
context; see its docstring.

PLY builds its LALR tables in memory when this module is first used
(``write_tables=False``, no debug file, errors to a null logger): nothing is
written to the package directory and nothing is printed. Building them costs
about 5 ms, once per process; the 225 official rule/macro conditions parse in
about 27 ms (about 120 us each).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import ply.yacc as yacc

from libsinsp.filter import ast
from libsinsp.filter.errors import FilterSyntaxError
from libsinsp.filter.lexer import TOKENS, Lexer

tokens = TOKENS


def _rule(grammar: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Attach a production to a PLY action without relying on docstrings (``-OO`` safe)."""

    def deco(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        fn.__doc__ = grammar
        return fn

    return deco


def _v(p: Any, i: int) -> str:
    return p[i][0]


def _pos(p: Any, i: int) -> ast.Pos:
    return p[i][1]


def _group(cls: type, items: list[Any]) -> Any:
    return items[0] if len(items) == 1 else cls(tuple(items), pos=items[0].pos)


@_rule("expr : or_seq")
def p_expr(p: Any) -> None:
    p[0] = _group(ast.Or, p[1])


@_rule("or_seq : and_node")
def p_or_seq_first(p: Any) -> None:
    p[0] = [p[1]]


@_rule("""or_seq : or_seq OR and_node
                 | or_seq ORLP expr RPAREN""")
def p_or_seq_more(p: Any) -> None:
    p[0] = p[1] + [p[3]]


@_rule("and_node : and_seq")
def p_and_node(p: Any) -> None:
    p[0] = _group(ast.And, p[1])


@_rule("and_seq : not_expr")
def p_and_seq_first(p: Any) -> None:
    p[0] = [p[1]]


@_rule("""and_seq : and_seq AND not_expr
                  | and_seq ANDLP expr RPAREN""")
def p_and_seq_more(p: Any) -> None:
    p[0] = p[1] + [p[3]]


@_rule("not_expr : nots not_tail")
def p_not_expr_prefixed(p: Any) -> None:
    count, pos = p[1]
    negated, node, _ = p[2]
    p[0] = ast.Not(node, pos=pos) if (count + negated) % 2 else node


@_rule("not_expr : not_tail")
def p_not_expr_plain(p: Any) -> None:
    negated, node, pos = p[1]
    p[0] = ast.Not(node, pos=pos) if negated else node


@_rule("nots : NOT")
def p_nots_first(p: Any) -> None:
    p[0] = (1, _pos(p, 1))


@_rule("nots : nots NOT")
def p_nots_more(p: Any) -> None:
    p[0] = (p[1][0] + 1, p[1][1])


@_rule("not_tail : NOTLP expr RPAREN")
def p_not_tail_paren(p: Any) -> None:
    p[0] = (1, p[2], _pos(p, 1))


@_rule("not_tail : check")
def p_not_tail_check(p: Any) -> None:
    p[0] = (0, p[1], p[1].pos)


@_rule("check : LPAREN expr RPAREN")
def p_check_paren(p: Any) -> None:
    p[0] = p[2]


@_rule("check : IDENT")
def p_check_ident(p: Any) -> None:
    p[0] = ast.Identifier(_v(p, 1), pos=_pos(p, 1))


@_rule("""check : field condition
                | transformer condition""")
def p_check_condition(p: Any) -> None:
    left = p[1]
    kind, op, right, modifier = p[2]
    if kind == "unary":
        p[0] = ast.UnaryCheck(left, op, pos=left.pos)
    else:
        p[0] = ast.BinaryCheck(left, op, right, modifier, pos=left.pos)


@_rule("condition : UNARYOP")
def p_condition_unary(p: Any) -> None:
    p[0] = ("unary", _v(p, 1), None, None)


@_rule("""condition : NUMOP num_rhs
                    | STROP str_rhs
                    | LISTOP list_rhs
                    | LISTOP rhs_transformer""")
def p_condition_binary(p: Any) -> None:
    p[0] = ("binary", _v(p, 1), p[2], None)


@_rule("condition : STROP MODIFIER list_value")
def p_condition_modifier(p: Any) -> None:
    p[0] = ("binary", _v(p, 1), p[3], _v(p, 2))


@_rule("""num_rhs : NUMBER
         str_rhs : STRING
                 | BARESTR""")
def p_scalar_rhs(p: Any) -> None:
    p[0] = ast.Value(_v(p, 1), pos=_pos(p, 1))


@_rule("""num_rhs : rhs_transformer
         str_rhs : rhs_transformer
         list_rhs : list_value""")
def p_rhs_passthrough(p: Any) -> None:
    p[0] = p[1]


@_rule("""list_value : LISTLP RPAREN
                     | LISTLP list_items RPAREN""")
def p_list_value(p: Any) -> None:
    p[0] = ast.ListValue(tuple(p[2]) if len(p) == 4 else (), pos=_pos(p, 1))


@_rule("list_value : LISTREF")
def p_list_ref(p: Any) -> None:
    p[0] = ast.ListRef(_v(p, 1), pos=_pos(p, 1))


@_rule("""list_items : STRING
                     | BARESTR""")
def p_list_items_first(p: Any) -> None:
    p[0] = [_v(p, 1)]


@_rule("""list_items : list_items COMMA STRING
                     | list_items COMMA BARESTR""")
def p_list_items_more(p: Any) -> None:
    p[0] = p[1] + [_v(p, 3)]


@_rule("""rhs_transformer : transformer""")
def p_rhs_transformer(p: Any) -> None:
    p[0] = p[1]


@_rule("""rhs_transformer : VAL field RPAREN
                          | VAL field RPAREN FIELDARG""")
def p_rhs_val(p: Any) -> None:
    arg = _v(p, 4) if len(p) == 5 else None
    p[0] = ast.Transformer("val", (p[2],), arg, pos=_pos(p, 1))


@_rule("""field : FIELD
                | FIELD FIELDARG""")
def p_field(p: Any) -> None:
    arg = _v(p, 2) if len(p) == 3 else None
    p[0] = ast.Field(_v(p, 1), arg, pos=_pos(p, 1))


@_rule("""transformer : TRANSFORMER targs RPAREN
                      | TRANSFORMER targs RPAREN FIELDARG""")
def p_transformer(p: Any) -> None:
    arg = _v(p, 4) if len(p) == 5 else None
    p[0] = ast.Transformer(_v(p, 1), tuple(p[2]), arg, pos=_pos(p, 1))


@_rule("""targs : targ
         titems : titem""")
def p_seq_first(p: Any) -> None:
    p[0] = [p[1]]


@_rule("""targs : targs COMMA targ
         titems : titems COMMA titem""")
def p_seq_more(p: Any) -> None:
    p[0] = p[1] + [p[3]]


@_rule("""targ : titem
         titem : field
               | transformer""")
def p_targ_passthrough(p: Any) -> None:
    p[0] = p[1]


@_rule("""titem : NUMBER
                | STRING""")
def p_titem_scalar(p: Any) -> None:
    p[0] = ast.Value(_v(p, 1), pos=_pos(p, 1))


@_rule("""targ : TLISTLP RPAREN
               | TLISTLP titems RPAREN""")
def p_targ_list(p: Any) -> None:
    p[0] = ast.TransformerList(tuple(p[2]) if len(p) == 4 else (), pos=_pos(p, 1))


def p_error(tok: Any) -> None:
    # The tokenizer rejects everything but the few sequences only the grammar can see
    # (e.g. ``a or(b) and c``, where ``or(`` closes the or-chain).
    if tok is None:
        raise _UnexpectedEnd
    value, pos = tok.value
    raise FilterSyntaxError(f"unexpected token '{value}', expecting 'or'", pos)


class _UnexpectedEnd(Exception):
    """Raised by p_error at end of input; ``parse`` adds the end position."""


class _NullLogger:
    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


_parser: Any = None


def _get_parser() -> Any:
    global _parser
    if _parser is None:
        import sys

        _parser = yacc.yacc(
            module=sys.modules[__name__],
            start="expr",
            write_tables=False,
            debug=False,
            optimize=True,
            errorlog=_NullLogger(),
        )
    return _parser


def parse(text: str) -> ast.Expr:
    """Parse a filter/condition string into an AST; raises FilterSyntaxError."""
    lexer = Lexer(text)
    toks = lexer.tokens()
    try:
        feed = SimpleNamespace(token=lambda: next(toks, None))
        return _get_parser().parse(lexer=feed)
    except _UnexpectedEnd:
        raise FilterSyntaxError("unexpected end of filter", lexer.pos()) from None
