"""Property tests: printer/parser round trip, and the parser only ever raises its own error."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from libsinsp.filter import FilterSyntaxError, parse, to_string
from libsinsp.filter import ast

_names = st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True).filter(
    lambda s: s not in ("and", "or", "not") and not s.startswith("not")
)
_fields = st.builds(lambda a, b: f"{a}.{b}", _names, _names)
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
_nums = st.from_regex(r"-?[0-9]{1,5}|0x[0-9a-f]{1,4}", fullmatch=True)
_field = st.builds(ast.Field, _fields, st.none() | _text)
_transformer = st.builds(lambda n, f: ast.Transformer(n, (f,)), st.sampled_from(["tolower", "toupper", "b64", "basename", "len"]), _field)
_left = _field | _transformer
_str_ops = st.sampled_from(["=", "==", "!=", "contains", "icontains", "bcontains", "startswith",
                            "bstartswith", "endswith", "glob", "iglob", "regex"])
_checks = st.one_of(
    st.builds(ast.UnaryCheck, _left, st.just("exists")),
    st.builds(ast.BinaryCheck, _left, st.sampled_from(["<", "<=", ">", ">="]), st.builds(ast.Value, _nums)),
    st.builds(ast.BinaryCheck, _left, _str_ops, st.builds(ast.Value, _text)),
    st.builds(ast.BinaryCheck, _left, _str_ops, st.builds(lambda f: ast.Transformer("val", (f,)), _field)),
    st.builds(ast.BinaryCheck, _left, _str_ops,
              st.builds(ast.ListValue, st.lists(_text, max_size=3).map(tuple)) | st.builds(ast.ListRef, _names),
              st.sampled_from(["oneof", "anyof", "allof"])),
    st.builds(ast.BinaryCheck, _left, st.sampled_from(["in", "intersects", "pmatch"]),
              st.builds(ast.ListValue, st.lists(_text, max_size=3).map(tuple)) | st.builds(ast.ListRef, _names)),
    st.builds(ast.Identifier, _names),
)


def _exprs(children: st.SearchStrategy) -> st.SearchStrategy:
    pairs = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(
        st.builds(ast.Not, children),
        st.builds(ast.And, pairs),
        st.builds(ast.Or, pairs),
    )


_trees = st.recursive(_checks, _exprs, max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(_trees)
def test_print_parse_round_trip(tree: ast.Expr) -> None:
    assert parse(to_string(tree)) == tree


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=60) | st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
def test_random_text_only_raises_syntax_error(text: str) -> None:
    try:
        parse(text)
    except FilterSyntaxError:
        pass


_alphabet = st.sampled_from(list("()[],=!<>'\"\\ \tandornotin") + ["proc.name", " and ", " or ", "not ", " in ", "contains ", "exists", "val(", "tolower(", "x", "1", "0x"])


@settings(max_examples=1000, deadline=None)
@given(st.lists(_alphabet, max_size=25).map("".join))
def test_token_soup_only_raises_syntax_error(text: str) -> None:
    try:
        parse(text)
    except FilterSyntaxError:
        pass
