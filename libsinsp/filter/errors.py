"""Errors of the filter language, each carrying the source position it is about."""

from __future__ import annotations

from libsinsp.filter.ast import Pos


class FilterError(Exception):
    """Base of every error the filter package raises on bad input."""

    def __init__(self, message: str, pos: Pos) -> None:
        self.reason = message
        self.pos = pos
        super().__init__(
            f"filter error at position {pos.idx} (line {pos.line}, column {pos.col}): {message}"
        )


class FilterSyntaxError(FilterError):
    """The text is not a well-formed filter (raised by the parser)."""


class FilterCompileError(FilterError):
    """The filter is well-formed but invalid for the fields/macros/lists it uses."""
