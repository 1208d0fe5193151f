"""Parser: expected ASTs (hand-written), error positions, and every official rule."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from libsinsp.filter import FilterSyntaxError, Pos, compile_filter, parse
from libsinsp.filter.ast import (
    And, BinaryCheck, Field, Identifier, ListRef, ListValue, Not, Or, Transformer,
    TransformerList, UnaryCheck, Value,
)  # fmt: skip
from test_filter_fakes import AnyFieldRegistry

RULES = sorted((Path(__file__).resolve().parents[2] / "shared" / "rules").glob("*.yaml"))

F = Field
I = Identifier  # noqa: E741


def B(name: str, op: str, value: str) -> BinaryCheck:
    return BinaryCheck(F(name), op, Value(value))


VALID = [
    ("a", I("a")),
    ("proc.name=bash", B("proc.name", "=", "bash")),
    ("proc.name == bash", B("proc.name", "==", "bash")),
    ("proc.name != 'ba sh'", B("proc.name", "!=", "ba sh")),
    ("proc.pid < 10", B("proc.pid", "<", "10")),
    ("proc.pid<=0x1F", B("proc.pid", "<=", "0x1F")),
    ("proc.pid > -1.5e+3", B("proc.pid", ">", "-1.5e+3")),
    ("proc.pid >= +7", B("proc.pid", ">=", "+7")),
    ("fd.name contains /tmp", B("fd.name", "contains", "/tmp")),
    ("fd.name icontains TMP", B("fd.name", "icontains", "TMP")),
    ("evt.buffer bcontains 7f454c46", B("evt.buffer", "bcontains", "7f454c46")),
    ("fd.name startswith /etc", B("fd.name", "startswith", "/etc")),
    ("evt.buffer bstartswith 7f45", B("evt.buffer", "bstartswith", "7f45")),
    ("fd.name endswith .so", B("fd.name", "endswith", ".so")),
    ("fd.name glob /etc/*", B("fd.name", "glob", "/etc/*")),
    ("fd.name iglob /ETC/*", B("fd.name", "iglob", "/ETC/*")),
    ('fd.name regex "^/a.*b$"', B("fd.name", "regex", "^/a.*b$")),
    ("fd.name exists", UnaryCheck(F("fd.name"), "exists")),
    ('proc.name in (a, b, "c d")', BinaryCheck(F("proc.name"), "in", ListValue(("a", "b", "c d")))),
    ("proc.name in ()", BinaryCheck(F("proc.name"), "in", ListValue(()))),
    ("proc.name in(a)", BinaryCheck(F("proc.name"), "in", ListValue(("a",)))),
    ("proc.name in shells", BinaryCheck(F("proc.name"), "in", ListRef("shells"))),
    ("fd.types intersects (ipv4, file)", BinaryCheck(F("fd.types"), "intersects", ListValue(("ipv4", "file")))),
    ("fd.name pmatch (/etc, /usr)", BinaryCheck(F("fd.name"), "pmatch", ListValue(("/etc", "/usr")))),
    ("proc.aname[2] = sshd", BinaryCheck(F("proc.aname", "2"), "=", Value("sshd"))),
    ("evt.arg[0] = 3", BinaryCheck(F("evt.arg", "0"), "=", Value("3"))),
    ("evt.arg.name = x", B("evt.arg.name", "=", "x")),
    ('proc.env["HOME dir"] = x', BinaryCheck(F("proc.env", "HOME dir"), "=", Value("x"))),
    ("proc.env[a.b/c] = x", BinaryCheck(F("proc.env", "a.b/c"), "=", Value("x"))),
    ("proc.name = 'it\\'s'", B("proc.name", "=", "it's")),
    ('proc.name = "a\\x41\\n"', B("proc.name", "=", "aA\n")),
    ("fd.name contains oneof (a, b)", BinaryCheck(F("fd.name"), "contains", ListValue(("a", "b")), "oneof")),
    ("fd.name startswith anyof dirs", BinaryCheck(F("fd.name"), "startswith", ListRef("dirs"), "anyof")),
    ("fd.name = allof (a)", BinaryCheck(F("fd.name"), "=", ListValue(("a",)), "allof")),
    # a modifier word followed by a boolean keyword is a plain value, as upstream
    ("fd.name = oneof and a", And((B("fd.name", "=", "oneof"), I("a")))),
    ("fd.name=oneof", B("fd.name", "=", "oneof")),
    ("tolower(proc.name) = bash", BinaryCheck(Transformer("tolower", (F("proc.name"),)), "=", Value("bash"))),
    ("toupper( proc.name ) exists", UnaryCheck(Transformer("toupper", (F("proc.name"),)), "exists")),
    ("b64(proc.args) contains x", BinaryCheck(Transformer("b64", (F("proc.args"),)), "contains", Value("x"))),
    ("basename(fd.name) = ls", BinaryCheck(Transformer("basename", (F("fd.name"),)), "=", Value("ls"))),
    ("len(proc.args) > 3", BinaryCheck(Transformer("len", (F("proc.args"),)), ">", Value("3"))),
    ("tolower(basename(fd.name)) = ls",
     BinaryCheck(Transformer("tolower", (Transformer("basename", (F("fd.name"),)),)), "=", Value("ls"))),
    ('concat(proc.name, "-", 1) = a-1',
     BinaryCheck(Transformer("concat", (F("proc.name"), Value("-"), Value("1"))), "=", Value("a-1"))),
    ('join(",", (proc.name, "x")) = a',
     BinaryCheck(Transformer("join", (Value(","), TransformerList((F("proc.name"), Value("x"))))), "=", Value("a"))),
    ('getopt(proc.args, "-c") exists', UnaryCheck(Transformer("getopt", (F("proc.args"), Value("-c"))), "exists")),
    ("join(\",\", ())[0] exists", UnaryCheck(Transformer("join", (Value(","), TransformerList(())), "0"), "exists")),
    ("proc.name = val(proc.pname)", BinaryCheck(F("proc.name"), "=", Transformer("val", (F("proc.pname"),)))),
    ("proc.pid > len(proc.args)", BinaryCheck(F("proc.pid"), ">", Transformer("len", (F("proc.args"),)))),
    ("proc.name in tolower(proc.pname)", BinaryCheck(F("proc.name"), "in", Transformer("tolower", (F("proc.pname"),)))),
    ("a and b", And((I("a"), I("b")))),
    ("a and b and c", And((I("a"), I("b"), I("c")))),
    ("a or b and c", Or((I("a"), And((I("b"), I("c")))))),
    ("a and b or c", Or((And((I("a"), I("b"))), I("c")))),
    ("a and (b or c)", And((I("a"), Or((I("b"), I("c")))))),
    ("a and(b or c)", And((I("a"), Or((I("b"), I("c")))))),
    ("a or(b and c)", Or((I("a"), And((I("b"), I("c")))))),
    ("(a and b) and c", And((And((I("a"), I("b"))), I("c")))),
    ("not a", Not(I("a"))),
    ("not not a", I("a")),
    ("not not not a", Not(I("a"))),
    ("not(a)", Not(I("a"))),
    ("not not(a)", I("a")),
    ("not (not a)", Not(Not(I("a")))),
    ("not a and b", And((Not(I("a")), I("b")))),
    ("a and not b or c", Or((And((I("a"), Not(I("b")))), I("c")))),
    ("not", I("not")),
    ("nota", I("nota")),
    ("\n a\tand\r\nb ", And((I("a"), I("b")))),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[t for t, _ in VALID])
def test_valid(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_positions() -> None:
    tree = parse("a and\n  not proc.name in (x, y)")
    assert tree.pos == Pos(0, 1, 1)
    neg = tree.children[1]
    assert neg.pos == Pos(8, 2, 3)
    check = neg.child
    assert check.pos == Pos(12, 2, 7)
    assert check.left.pos == Pos(12, 2, 7)
    assert check.right.pos == Pos(25, 2, 20)
    val = parse("fd.name = 'é' and x").children[1]
    assert val.pos == Pos(19, 1, 19)  # byte offset counts the 2-byte 'é'


INVALID = [
    ("", 0, "filter input string is empty"),
    ("(", 1, "expected a '(' token, a field check, or an identifier"),
    ("(a", 2, "expected a ')' token"),
    ("a)", 1, "unexpected token after 'a', expecting 'or', 'and'"),
    ("a b", 2, "unexpected token after 'a', expecting 'or', 'and'"),
    ("a andb", 5, "expected blank or '(' after 'and'"),
    ("a or", 4, "expected blank or '(' after 'or'"),
    ("a and ", 6, "expected a '(' token, a field check, or an identifier"),
    ("a or(b) and c", 8, "unexpected token 'and'"),
    ("1a", 0, "expected a '(' token, a field check, or an identifier"),
    ("proc.name", 9, "expected a valid check operator"),
    ("proc.name foo", 10, "expected a valid check operator"),
    ("proc.name contains", 10, "expected a valid check operator"),
    ("proc.name =", 11, "expected a string value or a field with a valid transformer"),
    ("proc.name = (a)", 12, "expected a string value"),
    ("proc.name > abc", 12, "expected a number value"),
    ("proc.name in", 12, "expected a list, an identifier"),
    ("proc.name in (a,)", 16, "expected a string value"),
    ("proc.name in (a b)", 16, "expected a ')' token"),
    ("proc.name in (a", 15, "expected a ')' token"),
    ("proc.name[", 10, "expected a valid field argument"),
    ("proc.name[1", 11, "expected a ']' token"),
    ("proc.name = 'abc", 12, "expected a string value"),
    ('proc.name = "a\\q"', 17, "unsupported string escape sequence: \\q"),
    ("proc.name = \"a\\'\"", 17, "invalid \\' escape in \"-quoted string"),
    ('proc.name = "\\x4"', 17, "invalid hex char escape sequence"),
    ("tolower() = a", 8, "expected field transformer argument"),
    ("tolower(proc.name = a", 18, "expected a ')' token closing the transformer"),
    ("proc.name = val(a)", 16, "expected a field within 'val' transformer"),
    ("proc.name = val(proc.pname", 26, "expected a ')' token closing the transformer"),
    ("join(\",\", (proc.name, ", 22, "expected transformer list argument"),
    ("join(\",\", (proc.name x", 21, "expected ')'"),
    ("val(proc.name) = a", 3, "unexpected token after 'val'"),
    ("not(a", 5, "expected a ')' token"),
    ("(" * 101 + "a" + ")" * 101, 100, "exceeded max depth limit of 100"),
]


@pytest.mark.parametrize(("text", "idx", "message"), INVALID, ids=[t[:30] for t, _, _ in INVALID])
def test_invalid(text: str, idx: int, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse(text)
    assert info.value.pos.idx == idx
    assert message in info.value.reason
    assert str(info.value).startswith(f"filter error at position {idx} ")


def _rules_items() -> list[dict]:
    items = []
    for path in RULES:
        items.extend(yaml.safe_load(path.read_text()) or [])
    return items


def test_every_official_condition_parses_and_compiles() -> None:
    items = _rules_items()
    assert len(RULES) == 2 and len(items) > 200
    start = time.perf_counter()
    macros = {i["macro"]: parse(i["condition"]) for i in items if "macro" in i}
    lists = {i["list"]: [str(x) for x in i["items"]] for i in items if "list" in i}
    rules = {i["rule"]: parse(i["condition"]) for i in items if "rule" in i}
    registry = AnyFieldRegistry()
    for tree in rules.values():
        compile_filter(tree, registry, macros=macros, lists=lists)
    elapsed = time.perf_counter() - start
    assert len(rules) > 50 and len(macros) > 50
    assert elapsed < 0.5, elapsed
