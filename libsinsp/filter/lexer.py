"""Context-sensitive tokenizer feeding the PLY grammar.

The filter language is not context-free at the lexical level: ``a=b`` after an
operator is a bare string, ``(`` is a group, a list or a transformer argument
list depending on what precedes it, keywords need a blank or ``(`` after them,
and ``[...]`` directly after a field name is its argument. Upstream resolves this
inside a recursive-descent parser; here a small mode machine picks the token
rules for the current context (the same regular expressions and ordering as
upstream's lexer) and the PLY grammar in ``parser`` builds the AST. Errors found
while tokenizing carry upstream's wording and the position of the cursor.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ply.lex import LexToken

from libsinsp.filter.ast import Pos
from libsinsp.filter.errors import FilterSyntaxError
from libsinsp.filter.escaping import EscapeError, unescape

MAX_DEPTH = 100

TOKENS = (
    "LPAREN", "RPAREN", "COMMA", "NOT", "NOTLP", "AND", "ANDLP", "OR", "ORLP",
    "IDENT", "FIELD", "FIELDARG", "TRANSFORMER", "VAL", "UNARYOP", "NUMOP",
    "STROP", "LISTOP", "MODIFIER", "NUMBER", "STRING", "BARESTR", "LISTLP",
    "LISTREF", "TLISTLP",
)  # fmt: skip

_BLANKS = " \t\b\r\n"
_SPACE = " \t\n\r\f\v"  # POSIX [:space:]
_NOT_BLANK = re.compile(r"not[ \t\n\r\f\v]+")
_IDENT = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_FIELD = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+")
_FIELDARG_BARE = re.compile(r"[^\]\[\"' \t\n\r\f\v]+")
_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_NUM = re.compile(r"[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?")
_BARE = re.compile(r"[^()\"' \t\n\r\f\v=,]+")

UNARY_OPS = ("exists",)
NUM_OPS = ("<=", "<", ">=", ">")
SYMBOL_STR_OPS = ("==", "=", "!=")
WORD_STR_OPS = (
    "glob", "iglob", "contains", "icontains", "bcontains", "startswith",
    "bstartswith", "endswith", "regex",
)  # fmt: skip
LIST_OPS = ("intersects", "in", "pmatch")
MODIFIERS = ("oneof", "anyof", "allof")
TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt")
ALL_OPS = UNARY_OPS + NUM_OPS + SYMBOL_STR_OPS + WORD_STR_OPS + LIST_OPS


def _quoted_names(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{n}'" for n in names)


_TRANSFORMER_CHOICES = _quoted_names(("val",) + TRANSFORMERS)

# frames of the nesting stack
_GROUP, _LIST, _TLIST = "group", "list", "tlist"
# roles of a transformer: where the cursor goes after its ')'
_LHS, _RHS, _ARG, _TITEM = "tr-lhs", "tr-rhs", "tr-arg", "tr-titem"


class Lexer:
    """Tokenizes one filter string; ``tokens()`` yields PLY tokens or raises FilterSyntaxError."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.line = 1
        self.col = 1
        self._ascii = text.isascii()
        self.last = ""
        self.stack: list[str] = []
        self.out: list[LexToken] = []

    # -- cursor ---------------------------------------------------------------
    def pos(self) -> Pos:
        idx = self.i if self._ascii else len(self.s[: self.i].encode("utf-8", "surrogatepass"))
        return Pos(idx, self.line, self.col)

    def _advance(self, k: int) -> None:
        for c in self.s[self.i : self.i + k]:
            self.col += 1
            if c == "\r" or c == "\n":
                self.col = 1
                self.line += 1
        self.i += k

    def _blank(self) -> bool:
        j = self.i
        while j < self.n and self.s[j] in _BLANKS:
            j += 1
        found = j > self.i
        self._advance(j - self.i)
        return found

    def _at(self, lit: str) -> bool:
        return self.s.startswith(lit, self.i)

    def _error(self, msg: str) -> FilterSyntaxError:
        return FilterSyntaxError(msg, self.pos())

    def _emit(self, kind: str, value: str, pos: Pos, consumed: int) -> None:
        tok = LexToken()
        tok.type = kind
        tok.value = (value, pos)
        tok.lineno = pos.line
        tok.lexpos = pos.idx
        self.out.append(tok)
        self._advance(consumed)
        self.last = self.s[self.i - consumed : self.i] if consumed else value

    def _match(self, rx: re.Pattern[str]) -> str | None:
        m = rx.match(self.s, self.i)
        return m.group(0) if m else None

    def _push(self, frame: str) -> None:
        self.stack.append(frame)
        if len(self.stack) >= MAX_DEPTH:
            raise self._error(f"exceeded max depth limit of {MAX_DEPTH}")

    # -- token helpers --------------------------------------------------------
    def _quoted(self) -> str | None:
        """Length of a quoted string at the cursor (upstream's closing rule), or None."""
        if self.i >= self.n or self.s[self.i] not in "\"'":
            return None
        delim = self.s[self.i]
        prev = "\\"
        j = self.i
        while j < self.n:
            c = self.s[j]
            if c == delim and prev != "\\":
                return self.s[self.i : j + 1]
            prev = c
            j += 1
        return None

    def _emit_quoted(self, kind: str, raw: str) -> None:
        try:
            value = unescape(raw)
        except EscapeError as e:
            self._advance(len(raw))
            raise self._error(str(e)) from None
        self._emit(kind, value, self.pos(), len(raw))

    def _transformer_at(self) -> str | None:
        for name in TRANSFORMERS:
            if self.s.startswith(name + "(", self.i):
                return name
        return None

    def _word_op(self, words: tuple[str, ...]) -> str | None:
        """A keyword operator that must be followed by at least one blank."""
        for w in words:
            j = self.i + len(w)
            if self.s.startswith(w, self.i) and j < self.n and self.s[j] in _BLANKS:
                return w
        return None

    def _field_then_arg(self) -> None:
        """Emit FIELD (already matched at the cursor) and an optional immediate [arg]."""
        name = self._match(_FIELD)
        assert name is not None
        self._emit("FIELD", name, self.pos(), len(name))
        self._optional_arg()

    def _optional_arg(self) -> None:
        if not self._at("["):
            return
        pos = self.pos()
        self._advance(1)
        raw = self._quoted()
        if raw is not None:
            qpos = self.pos()
            self._advance(len(raw))
            try:
                arg = unescape(raw)
            except EscapeError as e:
                raise FilterSyntaxError(str(e), qpos) from None
        else:
            bare = self._match(_FIELDARG_BARE)
            if bare is None:
                raise self._error(
                    "expected a valid field argument: a quoted string or a bare string"
                )
            self._advance(len(bare))
            arg = bare
        if not self._at("]"):
            raise self._error("expected a ']' token")
        self._advance(1)
        tok = LexToken()
        tok.type, tok.value, tok.lineno, tok.lexpos = "FIELDARG", (arg, pos), pos.line, pos.idx
        self.out.append(tok)
        self.last = "]"

    def _open_transformer(self, name: str, role: str) -> str:
        self._emit("TRANSFORMER", name, self.pos(), len(name) + 1)
        self._push(role)
        return "targ"

    def _try_rhs_transformer(self) -> str | None:
        """``val(field)`` or a transformer on the right of an operator; returns next mode."""
        if self._at("val("):
            self._emit("VAL", "val", self.pos(), 4)
            self._blank()
            if self._match(_FIELD) is None:
                raise self._error("expected a field within 'val' transformer")
            self._field_then_arg()
            self._blank()
            if not self._at(")"):
                raise self._error("expected a ')' token closing the transformer")
            self._emit("RPAREN", ")", self.pos(), 1)
            self._optional_arg()
            return "after_check"
        name = self._transformer_at()
        if name is not None:
            return self._open_transformer(name, _RHS)
        return None

    def _open_list(self) -> str:
        self._emit("LISTLP", "(", self.pos(), 1)
        self._push(_LIST)
        return "list_first"

    def _close(self) -> str:
        """Emit ')' closing the innermost frame; return the mode that follows it."""
        frame = self.stack.pop()
        self._emit("RPAREN", ")", self.pos(), 1)
        if frame == _GROUP or frame == _LIST:
            return "after_check"
        if frame == _TLIST:
            return "targ_sep"
        self._optional_arg()
        return {_LHS: "op", _RHS: "after_check", _ARG: "targ_sep", _TITEM: "tlist_sep"}[frame]

    # -- modes ----------------------------------------------------------------
    def _mode_expr(self) -> str:
        self._blank()
        not_blank = self._match(_NOT_BLANK)
        if not_blank is not None:
            self._emit("NOT", "not", self.pos(), len(not_blank))
            return "expr"
        if self._at("not("):
            self._emit("NOTLP", "not(", self.pos(), 4)
            self._push(_GROUP)
            return "expr"
        if self._at("("):
            self._emit("LPAREN", "(", self.pos(), 1)
            self._push(_GROUP)
            return "expr"
        if self._match(_FIELD) is not None:
            self._field_then_arg()
            return "op"
        name = self._transformer_at()
        if name is not None:
            return self._open_transformer(name, _LHS)
        ident = self._match(_IDENT)
        if ident is not None:
            self._emit("IDENT", ident, self.pos(), len(ident))
            return "after_check"
        raise self._error("expected a '(' token, a field check, or an identifier")

    def _mode_after_check(self) -> str:
        self._blank()
        if self.i >= self.n:
            if self.stack:
                raise self._error("expected a ')' token")
            return "end"
        if self._at(")") and self.stack and self.stack[-1] == _GROUP:
            return self._close()
        for kw, plain, paren in (("and", "AND", "ANDLP"), ("or", "OR", "ORLP")):
            if self._at(kw):
                j = self.i + len(kw)
                if j < self.n and self.s[j] in _BLANKS:
                    self._emit(plain, kw, self.pos(), len(kw))
                    return "expr"
                if j < self.n and self.s[j] == "(":
                    self._emit(paren, kw + "(", self.pos(), len(kw) + 1)
                    self._push(_GROUP)
                    return "expr"
                self._advance(len(kw))
                raise self._error(f"expected blank or '(' after '{kw}'")
        if self.stack:
            raise self._error("expected a ')' token")
        raise self._error(f"unexpected token after '{self.last}', expecting 'or', 'and'")

    def _mode_op(self) -> str:
        self._blank()
        pos = self.pos()
        for op in UNARY_OPS:
            if self._at(op):
                self._emit("UNARYOP", op, pos, len(op))
                return "after_check"
        for op in NUM_OPS:
            if self._at(op):
                self._emit("NUMOP", op, pos, len(op))
                return "numval"
        for op in SYMBOL_STR_OPS:
            if self._at(op):
                self._emit("STROP", op, pos, len(op))
                return "strval_blank" if self._blank() else "strval"
        op = self._word_op(WORD_STR_OPS)
        if op is not None:
            self._emit("STROP", op, pos, len(op))
            self._blank()
            return "strval_blank"
        for op in LIST_OPS:
            if self._at(op):
                self._emit("LISTOP", op, pos, len(op))
                return "listval"
        raise self._error(f"expected a valid check operator: one of {_quoted_names(ALL_OPS)}")

    def _mode_numval(self) -> str:
        self._blank()
        nxt = self._try_rhs_transformer()
        if nxt is not None:
            return nxt
        num = self._match(_HEX) or self._match(_NUM)
        if num is not None:
            self._emit("NUMBER", num, self.pos(), len(num))
            return "after_check"
        raise self._error(
            f"expected a number value or a field with a valid transformer: {_TRANSFORMER_CHOICES}"
        )

    def _bool_keyword_follows(self) -> bool:
        for kw in ("and", "or", "not"):
            j = self.i + len(kw)
            if self._at(kw) and (j == self.n or not self.s[j].isalnum()):
                return True
        return False

    def _mode_strval_blank(self) -> str:
        """A string value after an operator followed by a blank: a modifier may come first."""
        mod = self._word_op(MODIFIERS)
        if mod is not None:
            save = (self.i, self.line, self.col)
            pos = self.pos()
            self._advance(len(mod))
            self._blank()
            list_follows = self._at("(") or self._match(_IDENT) is not None
            if list_follows and not self._bool_keyword_follows():
                tok = LexToken()
                tok.type, tok.value, tok.lineno, tok.lexpos = "MODIFIER", (mod, pos), pos.line, pos.idx
                self.out.append(tok)
                self.last = mod
                return "modlist"
            self.i, self.line, self.col = save
        return self._mode_strval()

    def _mode_strval(self) -> str:
        self._blank()
        nxt = self._try_rhs_transformer()
        if nxt is not None:
            return nxt
        raw = self._quoted()
        if raw is not None:
            self._emit_quoted("STRING", raw)
            return "after_check"
        bare = self._match(_BARE)
        if bare is not None:
            self._emit("BARESTR", bare, self.pos(), len(bare))
            return "after_check"
        raise self._error(
            f"expected a string value or a field with a valid transformer: {_TRANSFORMER_CHOICES}"
        )

    def _mode_listval(self) -> str:
        self._blank()
        if self._at("("):
            return self._open_list()
        nxt = self._try_rhs_transformer()
        if nxt is not None:
            return nxt
        ident = self._match(_IDENT)
        if ident is not None:
            self._emit("LISTREF", ident, self.pos(), len(ident))
            return "after_check"
        raise self._error(
            "expected a list, an identifier, or a field with a valid transformer: "
            + _TRANSFORMER_CHOICES
        )

    def _mode_modlist(self) -> str:
        if self._at("("):
            return self._open_list()
        ident = self._match(_IDENT)
        assert ident is not None  # guaranteed by the look-ahead that emitted MODIFIER
        self._emit("LISTREF", ident, self.pos(), len(ident))
        return "after_check"

    def _list_value(self) -> bool:
        raw = self._quoted()
        if raw is not None:
            self._emit_quoted("STRING", raw)
            return True
        bare = self._match(_BARE)
        if bare is not None:
            self._emit("BARESTR", bare, self.pos(), len(bare))
            return True
        return False

    def _mode_list_first(self) -> str:
        self._blank()
        if self._list_value():
            return "list_sep"
        if self._at(")"):
            return self._close()
        raise self._error("expected a ')' token")

    def _mode_list_sep(self) -> str:
        self._blank()
        if self._at(","):
            self._emit("COMMA", ",", self.pos(), 1)
            return "list_item"
        if self._at(")"):
            return self._close()
        raise self._error("expected a ')' token")

    def _mode_list_item(self) -> str:
        self._blank()
        if self._list_value():
            return "list_sep"
        raise self._error("expected a string value")

    def _scalar_or_field(self, after: str) -> str | None:
        """Number, quoted string, field or nested transformer inside a transformer."""
        num = self._match(_HEX) or self._match(_NUM)
        if num is not None:
            self._emit("NUMBER", num, self.pos(), len(num))
            return after
        raw = self._quoted()
        if raw is not None:
            self._emit_quoted("STRING", raw)
            return after
        name = self._transformer_at()
        if name is not None:
            return self._open_transformer(name, _ARG if after == "targ_sep" else _TITEM)
        if self._match(_FIELD) is not None:
            self._field_then_arg()
            return after
        return None

    def _mode_targ(self) -> str:
        self._blank()
        if self._at("("):
            self._emit("TLISTLP", "(", self.pos(), 1)
            self._push(_TLIST)
            return "tlist_first"
        nxt = self._scalar_or_field("targ_sep")
        if nxt is not None:
            return nxt
        raise self._error(
            "expected field transformer argument: "
            "field, transformer, quoted string, number, or transformer list"
        )

    def _mode_targ_sep(self) -> str:
        self._blank()
        if self._at(","):
            self._emit("COMMA", ",", self.pos(), 1)
            return "targ"
        if self._at(")"):
            return self._close()
        raise self._error("expected a ')' token closing the transformer")

    def _mode_tlist_first(self) -> str:
        self._blank()
        if self._at(")"):
            return self._close()
        return self._mode_tlist_item()

    def _mode_tlist_item(self) -> str:
        self._blank()
        nxt = self._scalar_or_field("tlist_sep")
        if nxt is not None:
            return nxt
        raise self._error(
            "expected transformer list argument: field, transformer, quoted string, or number"
        )

    def _mode_tlist_sep(self) -> str:
        self._blank()
        if self._at(","):
            self._emit("COMMA", ",", self.pos(), 1)
            return "tlist_item"
        if self._at(")"):
            return self._close()
        raise self._error("expected ')'")

    def tokens(self) -> Iterator[LexToken]:
        """Tokenize the whole input, then yield the tokens (errors surface before parsing)."""
        if self.n == 0:
            raise FilterSyntaxError("filter input string is empty", Pos())
        mode = "expr"
        while mode != "end":
            mode = _MODES[mode](self)
        return iter(self.out)


_MODES = {name[6:]: fn for name, fn in vars(Lexer).items() if name.startswith("_mode_")}
