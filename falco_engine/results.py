"""Load results: Falco's error/warning codes, the location chain of each message,
and the three ways Falco shows them (summary text, verbose text, the JSON object
of ``falco -V FILE -o json_output=true``).

Facts follow falco's falco_load_result.cpp / rule_loader.cpp (engine 0.63):
line and column of YAML locations are 0-based as yaml-cpp marks are, and
locations inside a condition add the parser's 1-based line/column to them; the
JSON ``codedesc`` of an error is the short error string (upstream returns the
short string there), while a warning's ``codedesc`` is its long description.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from falco_engine.schema import VALIDATION_OK


class ErrorCode(enum.Enum):
    """(short text, long description) of each error code."""

    LOAD_ERR_FILE_READ = ("File read error",)
    LOAD_ERR_YAML_PARSE = ("YAML parse error",)
    LOAD_ERR_YAML_VALIDATE = ("Error validating internal structure of YAML file",)
    LOAD_ERR_COMPILE_CONDITION = ("Error compiling condition",)
    LOAD_ERR_COMPILE_OUTPUT = ("Error compiling output",)
    LOAD_ERR_VALIDATE = ("Error validating rule/macro/list/exception objects",)
    LOAD_ERR_EXTENSION = ("Error in extension item",)

    @property
    def text(self) -> str:
        return self.value[0]


class WarningCode(enum.Enum):
    """(short text, long description) of each warning code."""

    LOAD_UNKNOWN_SOURCE = (
        "Unknown event source",
        "A rule has a unknown event source. This can occur when reading rules content without "
        "having a corresponding plugin loaded, etc. The rule will be silently ignored.",
    )
    LOAD_UNSAFE_NA_CHECK = (
        "Unsafe <NA> comparison in condition",
        "Comparing a field value with <NA> is unsafe and can lead to unpredictable behavior of "
        "the rule condition. If you need to check for the existence of a field, consider using "
        "the 'exists' operator instead.",
    )
    LOAD_NO_EVTTYPE = (
        "Condition has no event-type restriction",
        "A rule condition matches too many evt.type values. This has a significant performance "
        "penalty. Make the condition more specific by adding an evt.type field or further "
        "restricting the number of evt.type values in the condition.",
    )
    LOAD_UNKNOWN_FILTER = (
        "Unknown field or event-type in condition or output",
        "A rule condition or output refers to a field or evt.type that does not exist. This is "
        "normally an error, but if a rule has a skip-if-unknown-filter property, the error is "
        "downgraded to a warning.",
    )
    LOAD_UNUSED_MACRO = (
        "Unused macro",
        "A macro is defined in the rules content but is not used by any other macro or rule.",
    )
    LOAD_UNUSED_LIST = (
        "Unused list",
        "A list is defined in the rules content but is not used by any other list, macro, or rule.",
    )
    LOAD_UNKNOWN_ITEM = (
        "Unknown rules file item",
        "An unknown top-level object is in the rules content. It will be ignored.",
    )
    LOAD_DEPRECATED_ITEM = (
        "Used deprecated item",
        "A deprecated item is employed by lists, macros, or rules.",
    )
    LOAD_WARNING_EXTENSION = ("Warning in extension item", "An extension item has a warning")
    LOAD_APPEND_NO_VALUES = (
        "Overriding/appending with no values",
        "A rule exception is overriding/appending with no values",
    )
    LOAD_EXCEPTION_NAME_NOT_UNIQUE = (
        "Multiple exceptions defined with the same name",
        "A rule is defining multiple exceptions with the same name",
    )
    LOAD_INVALID_MACRO_NAME = ("Invalid macro name", "A macro is defined with an invalid name")
    LOAD_INVALID_LIST_NAME = ("Invalid list name", "A list is defined with an invalid name")
    LOAD_COMPILE_CONDITION = (
        "Warning in rule condition",
        "A rule condition or output have been parsed with a warning",
    )
    LOAD_UNKNOWN_KEY = (
        "Unknown key in item definition",
        "An item in the rules content contains an unrecognized key. The key will be ignored. "
        "This may indicate a typo or a property placed on the wrong item type.",
    )

    @property
    def text(self) -> str:
        return self.value[0]

    @property
    def description(self) -> str:
        return self.value[1]


@dataclass(frozen=True)
class Location:
    """One step of a context chain: content name (file name, or a condition
    prefix), 0-based offset/line/column, the item type text and item name."""

    name: str
    offset: int
    line: int
    column: int
    item_type: str
    item_name: str = ""


@dataclass(frozen=True)
class Context:
    """Where a message is about: the chain from the rules content down to the
    item; ``alt_content`` is the condition text for locations inside a condition."""

    locations: tuple[Location, ...]
    alt_content: str = ""

    @classmethod
    def root(cls, name: str) -> Context:
        return cls((Location(name, 0, 0, 0, "rules content"),))

    @property
    def name(self) -> str:
        return self.locations[0].name

    def child(self, mark: Any, item_type: str, item_name: str = "") -> Context:
        """A location at a YAML mark (``index``/``line``/``column``) under this one."""
        loc = Location(self.name, mark.index, mark.line, mark.column, item_type, item_name)
        return Context(self.locations + (loc,))

    def in_condition(self, idx: int, line: int, col: int, condition: str) -> Context:
        """A location inside ``condition`` at parser position (0-based idx,
        1-based line/col), offset by this context's last location as upstream does."""
        short = condition if len(condition) <= 20 else condition[:17] + "..."
        name = ('"' + short + '"').replace("\n", " ").replace("\r", " ")
        last = self.locations[-1]
        loc = Location(name, idx + last.offset, line + last.line, col + last.column,
                       "condition expression")  # fmt: skip
        return Context(self.locations + (loc,), alt_content=condition)

    def as_text(self) -> str:
        out = []
        for i, loc in enumerate(self.locations):
            named = f" '{loc.item_name}'" if loc.item_name else ""
            out.append(f"{'In ' if i == 0 else '    '}{loc.item_type}{named}: "
                       f"({loc.name}:{loc.line}:{loc.column})\n")  # fmt: skip
        return "".join(out)

    def as_json(self) -> dict[str, Any]:
        return {
            "locations": [
                {
                    "item_type": loc.item_type,
                    "item_name": loc.item_name,
                    "position": {"name": loc.name, "line": loc.line, "column": loc.column,
                                 "offset": loc.offset},  # fmt: skip
                }
                for loc in self.locations
            ]
        }

    def snippet(self, contents: dict[str, str], width: int = 160) -> str:
        """The line around the last location with a ``^`` under the position."""
        loc = self.locations[-1]
        text = self.alt_content or contents.get(loc.name)
        if text is None:
            return f"<No context for file + {loc.name}>\n"
        if not text:
            return "<No context available>\n"
        half = width // 2
        pos = loc.offset
        while pos > 0 and (pos >= len(text) or text[pos] == "\n"):
            pos -= 1
        start = pos
        while start > 0 and text[start] != "\n" and pos - start < half:
            start -= 1
        end = pos
        while end < len(text) - 1 and text[end] != "\n" and end - pos < half:
            end += 1
        if start < len(text) and text[start] == "\n":
            start += 1
        if end < len(text) and text[end] == "\n":
            end -= 1
        line = text[start : end + 1]
        if not line:
            return "<No context available>\n"
        if pos - start >= half:
            line = "..." + line[3:]
        if end - pos >= half:
            line = line[:-3] + "..."
        out = line + "\n"
        if pos - start <= len(out) - 1:
            out += " " * (pos - start) + "^\n"
        return out


@dataclass(frozen=True)
class LoadMessage:
    """One error or warning: ``code`` (ErrorCode or WarningCode), message, context.
    ``deprecated_field`` names the field of a deprecated-field warning."""

    code: ErrorCode | WarningCode
    message: str
    context: Context
    deprecated_field: str = ""

    @property
    def item_type(self) -> str:
        return self.context.locations[-1].item_type

    @property
    def item_name(self) -> str:
        """Name of the nearest named item in the chain (rule, macro, list...)."""
        for loc in reversed(self.context.locations):
            if loc.item_name:
                return loc.item_name
        return ""

    @property
    def short_text(self) -> str:
        text = self.code.text
        return f"{text}: field '{self.deprecated_field}'" if self.deprecated_field else text

    def as_json(self, contents: dict[str, str]) -> dict[str, Any]:
        ctx = self.context.as_json()
        ctx["snippet"] = self.context.snippet(contents)
        out: dict[str, Any] = {"context": ctx, "code": self.code.name}
        if isinstance(self.code, WarningCode):
            out["codedesc"] = self.code.description
        else:
            out["codedesc"] = self.code.text
        out["message"] = self.message
        if self.deprecated_field:
            out["deprecated_field"] = self.deprecated_field
        return out


class LoadError(Exception):
    """Raised inside the loader to stop at the first error of a content (as upstream)."""

    def __init__(self, code: ErrorCode, message: str, context: Context) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.context = context


@dataclass
class LoadResult:
    """The outcome of loading one rules content (file or string) named ``name``."""

    name: str
    contents: dict[str, str] = field(default_factory=dict)
    errors: list[LoadMessage] = field(default_factory=list)
    warnings: list[LoadMessage] = field(default_factory=list)
    #: the rules schema check, per YAML document: "ok" or its findings (see
    #: falco_engine.schema); empty when no check ran (unreadable content)
    schema_status: list[str] = field(default_factory=list)

    @property
    def successful(self) -> bool:
        return not self.errors

    @property
    def schema_valid(self) -> bool:
        """As upstream: the first document's status is "ok" (later documents' findings
        are still listed in schema_warnings when it is not)."""
        return bool(self.schema_status) and self.schema_status[0] == VALIDATION_OK

    @property
    def schema_warnings(self) -> list[str]:
        """Every status line when the check failed, else none."""
        return [] if self.schema_valid else list(self.schema_status)

    @property
    def has_warnings(self) -> bool:
        return bool(self.warnings)

    def add_error(self, code: ErrorCode, message: str, context: Context) -> None:
        self.errors.append(LoadMessage(code, message, context))

    def add_warning(self, code: WarningCode, message: str, context: Context,
                    deprecated_field: str = "") -> None:  # fmt: skip
        self.warnings.append(LoadMessage(code, message, context, deprecated_field))

    def _head(self) -> str:
        head = f"{self.name}: " if self.name else ""
        if self.successful:
            return head + ("Ok, with warnings" if self.warnings else "Ok")
        return head + "Invalid"

    def as_summary(self) -> str:
        """One line per kind, as ``falco -V`` logs without verbose."""
        out = self._head()
        if self.schema_warnings:
            out += f"\n {len(self.schema_warnings)} schema warnings: [{' '.join(self.schema_warnings)}]"
        if self.errors:
            items = " ".join(f"{e.code.name} ({e.code.text})" for e in self.errors)
            out += f"\n {len(self.errors)} errors: [{items}]"
        if self.warnings:
            items = " ".join(f"{w.code.name} ({w.short_text})" for w in self.warnings)
            out += f"\n {len(self.warnings)} warnings: [{items}]"
        return out

    def as_text(self) -> str:
        """The verbose text ``falco -V`` prints: each message with its location
        chain, a snippet of the content and the code."""
        out = [self._head()]
        if self.schema_warnings:
            out.append(f"\n{len(self.schema_warnings)} Schema warnings:\n")
            out.extend(f"------\n{s}\n" for s in self.schema_warnings)
            out.append("------\n")
        for title, msgs in (("Errors", self.errors), ("Warnings", self.warnings)):
            if not msgs:
                continue
            out.append(f"\n{len(msgs)} {title}:\n")
            for m in msgs:
                out.append(m.context.as_text())
                out.append("------\n" + m.context.snippet(self.contents) + "------\n")
                out.append(f"{m.code.name} ({m.short_text}): {m.message}\n")
        return "".join(out)

    def as_json(self) -> dict[str, Any]:
        """The per-file object of ``falco_load_results`` in ``falco -V`` JSON output."""
        out: dict[str, Any] = {"name": self.name, "successful": self.successful}
        if self.schema_status:
            out["schema_valid"] = self.schema_valid
            out["schema_warnings"] = self.schema_warnings
        out["errors"] = [e.as_json(self.contents) for e in self.errors]
        out["warnings"] = [w.as_json(self.contents) for w in self.warnings]
        return out
