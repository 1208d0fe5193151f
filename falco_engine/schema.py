"""The JSON schema rules files are checked against, as Falco 0.63 does (its
``rule_json_schema.h``, checked with valijson's weak types): a rules document is
an array of items, each one a map of known keys with values of the right kind.

Schema findings never stop a load: they are reported as ``schema_warnings``
(``falco -V``), next to the loader's own errors and warnings. Weak types as
upstream: a YAML scalar written as text is accepted where a number or a boolean
is expected (``enabled: "true"``), any scalar where text is expected. The
schema is this project's own; it accepts what the loader accepts (priorities
in any case, ``info``), and so does not reproduce valijson's messages.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

#: upstream's yaml_helper status strings: one "ok" per valid YAML document, or one
#: "failed for <where>: <why>" per finding
VALIDATION_OK = "ok"

_TEXT = {"type": ["string", "number", "boolean"]}
_FLAG = {"anyOf": [{"type": "boolean"}, {"enum": ["true", "false", "True", "False", "TRUE", "FALSE"]}]}
_COUNT = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^[0-9]+$"}]}
_TEXTS = {"type": "array", "items": _TEXT}
_HOW = {"enum": ["append", "replace"]}
_PRIORITY = {"type": "string",
             "pattern": r"(?i)^(emergency|alert|critical|error|warning|notice|info|informational|debug)$"}  # fmt: skip

RULES_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "falco-py rules file",
    "type": "array",
    "items": {"$ref": "#/definitions/item"},
    "definitions": {
        "item": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                # what an item is
                "rule": _TEXT, "macro": _TEXT, "list": _TEXT,
                "required_engine_version": _TEXT,
                "required_plugin_versions": {"type": "array", "items": {"$ref": "#/definitions/plugin"}},
                # their contents
                "condition": _TEXT, "items": _TEXTS, "desc": _TEXT, "output": _TEXT,
                "priority": _PRIORITY, "source": _TEXT, "tags": _TEXTS, "enabled": _FLAG,
                "exceptions": {"type": "array", "items": {"$ref": "#/definitions/exception"}},
                "capture": _FLAG, "capture_duration": _COUNT, "warn_evttypes": _FLAG,
                "skip-if-unknown-filter": _FLAG,
                # changing an earlier item
                "append": _FLAG, "override": {"$ref": "#/definitions/override"},
            },
        },
        "exception": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {"name": _TEXT, "fields": {}, "comps": {}, "values": {}},
        },
        "override": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {k: _HOW for k in (
                "items", "desc", "condition", "output", "priority", "enabled", "exceptions", "capture",
                "capture_duration", "tags", "warn_evttypes", "skip-if-unknown-filter")},
        },
        "plugin": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "version"],
            "properties": {"name": _TEXT, "version": _TEXT,
                           "alternatives": {"type": "array", "items": {"$ref": "#/definitions/alternative"}}},
        },
        "alternative": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "version"],
            "properties": {"name": _TEXT, "version": _TEXT},
        },
    },
}  # fmt: skip


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema  # imported on first use: a rules load needs it, a bare import does not

    return jsonschema.Draft7Validator(RULES_SCHEMA)


def validate(document: Any) -> list[str]:
    """Upstream's status of one YAML document: ``["ok"]``, or one message per finding
    (``failed for <root>[3][priority]: ...``), in document order."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return [VALIDATION_OK]
    return ["failed for <root>" + "".join(f"[{p}]" for p in e.absolute_path) + ": " + e.message for e in errors]
