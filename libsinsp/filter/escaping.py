"""Quoted-string escapes of the filter language, with the rules upstream applies.

Recognized escapes: ``\\b \\f \\n \\r \\t \\\\ \\/ \\<space>`` (kept as a backslash,
as upstream tolerates it for old rules), ``\\xHH``, and the escaped delimiter of
the string (``\\"`` only inside ``"..."``, ``\\'`` only inside ``'...'``).
"""

from __future__ import annotations

_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "\\": "\\", "/": "/", " ": "\\"}
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


class EscapeError(ValueError):
    """An invalid escape sequence; the parser turns it into a positioned syntax error."""


def unescape(quoted: str) -> str:
    """Return the content of ``quoted`` (delimiters included) with escapes resolved."""
    delim = quoted[0]
    body = quoted[1:-1]
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            # a trailing lone backslash cannot occur: the lexer never closes after one
            raise EscapeError("unsupported string escape sequence: \\")
        e = body[i + 1]
        if e in _SIMPLE:
            out.append(_SIMPLE[e])
            i += 2
        elif e in "\"'":
            if e != delim:
                raise EscapeError(f"invalid \\{e} escape in {delim}-quoted string")
            out.append(e)
            i += 2
        elif e == "x":
            if i + 2 >= n:
                raise EscapeError("truncated hex char escape sequence")
            digits = body[i + 2 : i + 4]
            if len(digits) != 2 or not all(d in _HEXDIGITS for d in digits):
                raise EscapeError(f"invalid hex char escape sequence: {digits}")
            out.append(chr(int(digits, 16)))
            i += 4
        else:
            raise EscapeError(f"unsupported string escape sequence: \\{e}")
    return "".join(out)


# Characters ``quote`` writes as escapes. A backslash becomes \x5c, not "\\\\":
# the lexer (as upstream's) never closes a string right after "\\".
_QUOTED = {"\\": "\\x5c", '"': '\\"', "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _quote_char(c: str) -> str:
    if c in _QUOTED:
        return _QUOTED[c]
    if ord(c) < 0x20 or ord(c) == 0x7F:
        return f"\\x{ord(c):02x}"
    return c


def quote(value: str) -> str:
    """Return ``value`` as a double-quoted literal that ``unescape`` maps back to it."""
    return '"' + "".join(_quote_char(c) for c in value) + '"'
