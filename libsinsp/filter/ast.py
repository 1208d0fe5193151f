"""Typed AST of the filter language.

Nodes are frozen dataclasses. Every node carries ``pos`` (where its first token
starts); ``pos`` is excluded from equality so that two parses of equivalent text
compare equal, while positions stay available for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pos:
    """A source position: byte offset ``idx`` (0-based), ``line`` and ``col`` (1-based)."""

    idx: int = 0
    line: int = 1
    col: int = 1


_NOPOS = Pos()


def _pos() -> Pos:
    return field(default=_NOPOS, compare=False, repr=False)


@dataclass(frozen=True)
class And:
    """Conjunction of two or more children (flattened as upstream does)."""

    children: tuple[Expr, ...]
    pos: Pos = _pos()


@dataclass(frozen=True)
class Or:
    """Disjunction of two or more children."""

    children: tuple[Expr, ...]
    pos: Pos = _pos()


@dataclass(frozen=True)
class Not:
    child: Expr
    pos: Pos = _pos()


@dataclass(frozen=True)
class Identifier:
    """A bare name in check position: a macro, resolved by the rules layer or the compiler."""

    name: str
    pos: Pos = _pos()


@dataclass(frozen=True)
class Field:
    """A field reference such as ``proc.aname[2]``; ``arg`` is the unescaped bracket argument."""

    name: str
    arg: str | None = None
    pos: Pos = _pos()


@dataclass(frozen=True)
class Transformer:
    """A field transformer such as ``tolower(proc.name)``; ``val`` is one too."""

    name: str
    args: tuple[Operand, ...]
    arg: str | None = None
    pos: Pos = _pos()


@dataclass(frozen=True)
class Value:
    """A scalar literal (bare string, quoted string after unescaping, or number text)."""

    value: str
    pos: Pos = _pos()


@dataclass(frozen=True)
class ListValue:
    """A literal list ``(a, b, "c d")``; elements may name lists (expanded by the compiler)."""

    values: tuple[str, ...]
    pos: Pos = _pos()


@dataclass(frozen=True)
class ListRef:
    """A list identifier on the right of a list operator or modifier (``in shell_binaries``)."""

    name: str
    pos: Pos = _pos()


@dataclass(frozen=True)
class TransformerList:
    """A parenthesized argument list inside a transformer (``join(",", (a.b, "x"))``)."""

    items: tuple[Operand, ...]
    pos: Pos = _pos()


@dataclass(frozen=True)
class UnaryCheck:
    left: Field | Transformer
    op: str
    pos: Pos = _pos()


@dataclass(frozen=True)
class BinaryCheck:
    """``left op right``; ``modifier`` is ``oneof``/``anyof``/``allof`` or None."""

    left: Field | Transformer
    op: str
    right: Value | ListValue | ListRef | Transformer
    modifier: str | None = None
    pos: Pos = _pos()


Operand = Field | Transformer | Value | TransformerList
Expr = And | Or | Not | Identifier | UnaryCheck | BinaryCheck
