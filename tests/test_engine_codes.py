"""Every load error and warning code, triggered by a small rules content, with
its item and location (0-based line/column as upstream's yaml-cpp marks)."""

from __future__ import annotations

import json

import pytest

from falco_engine import ErrorCode, WarningCode, schema
from test_engine_fakes import fake_engine

E, W = ErrorCode, WarningCode

BASE = """\
- list: shells
  items: [bash, sh]
- macro: opened
  condition: evt.type in (open, openat)
- rule: r1
  desc: d
  condition: opened and proc.name in (shells)
  output: "%proc.name"
  priority: WARNING
"""

# (content loaded after BASE, code, message fragment, item name, line of the last location)
CASES = [
    ("- rule: x\n  condition: [a\n", E.LOAD_ERR_YAML_PARSE, "", "", None),
    ("- rule: x\n  desc: d\n  condition: evt.type=open\n  output: o\n", E.LOAD_ERR_YAML_VALIDATE,
     "Item has no mapping for key 'priority'", "x", 0),
    ("- rule: x\n  desc: d\n  condition: evt.type=open and (\n  output: o\n  priority: INFO\n",
     E.LOAD_ERR_COMPILE_CONDITION, "", "x", None),
    ("- rule: x\n  desc: d\n  condition: evt.type=open\n  output: '%nope.field'\n  priority: INFO\n",
     E.LOAD_ERR_COMPILE_OUTPUT, "nope.field", "x", 3),
    ("- rule: x\n  desc: d\n  condition: evt.type=open and undefined_macro\n  output: o\n"
     "  priority: INFO\n", E.LOAD_ERR_VALIDATE, "Undefined macro 'undefined_macro' used in filter.",
     "x", None),
    ("- list: l\n  items: [a]\n  append: true\n  override:\n    items: append\n",
     E.LOAD_ERR_YAML_VALIDATE, "cannot be used together", "l", 0),
    ("- rule: x\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n"
     "  source: k8s_audit\n", W.LOAD_UNKNOWN_SOURCE, "Unknown source k8s_audit, skipping", "x", 0),
    ("- rule: x\n  desc: d\n  condition: proc.name=cat\n  output: o\n  priority: INFO\n",
     W.LOAD_NO_EVTTYPE, "Rule matches too many evt.type values", "x", 0),
    ("- rule: x\n  desc: d\n  condition: evt.type=open and nope.field=1\n  output: o\n"
     "  priority: INFO\n  skip-if-unknown-filter: true\n", W.LOAD_UNKNOWN_FILTER, "nope.field", "x", None),
    ("- macro: unused_m\n  condition: proc.name=x\n", W.LOAD_UNUSED_MACRO,
     "Macro not referred to by any other rule/macro", "unused_m", 0),
    ("- list: unused_l\n  items: [a]\n", W.LOAD_UNUSED_LIST,
     "List not referred to by any other rule/macro", "unused_l", 0),
    ("- something: else\n", W.LOAD_UNKNOWN_ITEM, "Unknown top level item", "", 0),
    ("- rule: r1\n  enabled: false\n", W.LOAD_DEPRECATED_ITEM, "standalone 'enabled'", "r1", 0),
    ("- rule: y\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n"
     "  exceptions:\n  - name: e1\n    fields: proc.name\n    values: [a]\n"
     "- rule: y\n  exceptions:\n  - name: e1\n  override:\n    exceptions: append\n",
     W.LOAD_APPEND_NO_VALUES, "with no values", "e1", 11),
    ("- rule: x\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n"
     "  exceptions:\n  - name: e\n    fields: proc.name\n    values: [a]\n  - name: e\n"
     "    fields: proc.name\n    values: [b]\n", W.LOAD_EXCEPTION_NAME_NOT_UNIQUE,
     "Multiple definitions of exception 'e' in the same rule", "e", 9),
    ("- macro: 1bad\n  condition: evt.type=open\n", W.LOAD_INVALID_MACRO_NAME,
     "Macro has an invalid name", "1bad", 0),
    ("- list: 'bad list'\n  items: [a]\n", W.LOAD_INVALID_LIST_NAME, "List has an invalid name",
     "bad list", 0),
    ("- rule: r1\n  desc: d\n  oops: 1\n  override:\n    desc: replace\n", W.LOAD_UNKNOWN_KEY,
     "Unknown key 'oops'. The key will be ignored.", "r1", 0),
    ("- rule: x\n  desc: d\n  condition: evt.type=open and ka.user.name = \"<NA>\"\n  output: o\n"
     "  priority: INFO\n  skip-if-unknown-filter: true\n", W.LOAD_UNSAFE_NA_CHECK, "", "x", None),
]


@pytest.mark.parametrize("content,code,fragment,item,line", CASES, ids=[c[1].name for c in CASES])
def test_code(content, code, fragment, item, line):
    eng = fake_engine()
    assert eng.load_rules(BASE, "base.yaml").successful
    res = eng.load_rules(content, "extra.yaml")
    msgs = res.errors if isinstance(code, ErrorCode) else res.warnings
    hits = [m for m in msgs if m.code == code]
    assert hits, res.as_text()
    m = hits[0]
    assert fragment in m.message
    assert m.item_name == item
    assert m.context.name == "extra.yaml"
    if line is not None:
        assert m.context.locations[-1].line == line
    assert res.successful == isinstance(code, WarningCode)
    doc = res.as_json()
    assert code.name in {x["code"] for x in doc["errors"] + doc["warnings"]}
    assert code.name in res.as_text()


def test_file_read_error(tmp_path):
    res = fake_engine().load_rules_file(tmp_path / "missing.yaml")
    assert [e.code for e in res.errors] == [E.LOAD_ERR_FILE_READ]
    assert "missing.yaml" in res.errors[0].message


def test_compile_condition_position_inside_condition():
    content = "- rule: x\n  desc: d\n  condition: evt.type=open and proc.name=\n  output: o\n  priority: INFO\n"
    res = fake_engine().load_rules(content, "f.yaml")
    (err,) = res.errors
    assert err.code == E.LOAD_ERR_COMPILE_CONDITION
    last = err.context.locations[-1]
    assert last.item_type == "condition expression"
    # the YAML mark of the condition value is line 2 column 13 (0-based); parser positions add
    assert (last.line, last.column) >= (3, 14)
    assert err.context.alt_content == "evt.type=open and proc.name="


def test_verbose_text_and_json_shape():
    content = "- rule: x\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: NOPE\n"
    res = fake_engine().load_rules(content, "f.yaml")
    assert res.as_text() == (
        "f.yaml: Invalid\n"
        "1 Schema warnings:\n"
        "------\n"
        "failed for <root>[0][priority]: 'NOPE' does not match " + repr(schema.RULES_SCHEMA["definitions"]["item"]
                                                                         ["properties"]["priority"]["pattern"]) + "\n"
        "------\n"
        "\n"
        "1 Errors:\n"
        "In rules content: (f.yaml:0:0)\n"
        "    rule 'x': (f.yaml:0:2)\n"
        "    rule priority: (f.yaml:4:12)\n"
        "------\n"
        "  priority: NOPE\n"
        "            ^\n"
        "------\n"
        "LOAD_ERR_YAML_VALIDATE (Error validating internal structure of YAML file): Invalid priority\n"
    )
    doc = json.loads(json.dumps(res.as_json()))
    assert doc["name"] == "f.yaml" and doc["successful"] is False and doc["warnings"] == []
    assert doc["schema_valid"] is False and doc["schema_warnings"][0].startswith("failed for <root>[0][priority]")
    assert list(doc) == ["name", "successful", "schema_valid", "schema_warnings", "errors", "warnings"]
    (err,) = doc["errors"]
    assert err["code"] == "LOAD_ERR_YAML_VALIDATE"
    assert err["codedesc"] == "Error validating internal structure of YAML file"
    assert err["message"] == "Invalid priority"
    assert err["context"]["locations"][-1] == {
        "item_type": "rule priority", "item_name": "",
        "position": {"name": "f.yaml", "line": 4, "column": 12, "offset": content.index("NOPE")},
    }
    assert err["context"]["snippet"] == "  priority: NOPE\n            ^\n"


def test_macro_reference_loop():
    content = ("- macro: a\n  condition: evt.type=open\n- macro: b\n  condition: a\n"
               "- macro: a\n  condition: or b\n  override:\n    condition: append\n"
               "- rule: x\n  desc: d\n  condition: a\n  output: o\n  priority: INFO\n")
    res = fake_engine().load_rules(content, "f.yaml")
    (err,) = res.errors
    assert err.code == E.LOAD_ERR_VALIDATE
    assert "reference loop in macro" in err.message


def test_engine_version_checks():
    eng = fake_engine()
    assert eng.load_rules("- required_engine_version: 10\n", "a").successful
    assert eng.load_rules("- required_engine_version: 0.63.0\n", "b").successful
    res = eng.load_rules("- required_engine_version: 0.64.0\n", "c")
    assert res.errors[0].code == E.LOAD_ERR_VALIDATE
    assert res.errors[0].message == "Rules require engine version 0.64.0, but engine version is 0.63.0"
    res = eng.load_rules("- required_engine_version: 64\n", "d")
    assert "0.64.0" in res.errors[0].message
    res = eng.load_rules("- required_engine_version: banana\n", "e")
    assert res.errors[0].code == E.LOAD_ERR_YAML_VALIDATE
    assert str(eng.required_engine_version) == "0.63.0"


def test_plugin_versions_with_alternatives():
    eng = fake_engine()
    content = ("- required_plugin_versions:\n  - name: k8saudit\n    version: 0.7.0\n"
               "    alternatives:\n    - name: k8saudit-eks\n      version: 0.4.0\n")
    assert eng.load_rules(content, "p").successful
    assert [[(r.name, r.version) for r in alts] for alts in eng.required_plugin_versions] == [
        [("k8saudit", "0.7.0"), ("k8saudit-eks", "0.4.0")]]
    res = eng.load_rules("- required_plugin_versions:\n  - name: x\n    version: bad\n", "q")
    assert res.errors[0].message == "Invalid required version 'bad' for plugin 'x'"


def test_unknown_event_type_value():
    """libsinsp rejects an evt.type value naming no event (any operator); a rule with
    skip-if-unknown-filter is skipped with a warning instead."""
    from falco_engine import Engine

    rule = "- rule: x\n  desc: d\n  condition: evt.type in (open, nosuch)\n  output: o\n  priority: INFO\n"
    res = Engine().load_rules(rule, "f.yaml")
    (err,) = res.errors
    assert err.code == E.LOAD_ERR_COMPILE_CONDITION and "unknown event type nosuch" in err.message
    assert err.context.locations[-1].column > 20  # at the value inside the condition
    eng = Engine()
    res = eng.load_rules(rule + "  skip-if-unknown-filter: true\n", "f.yaml")
    assert res.successful and [w.code for w in res.warnings] == [WarningCode.LOAD_UNKNOWN_FILTER]
    assert eng.rules == []


@pytest.mark.parametrize("content,status", [
    # valid, with weak types as upstream's valijson: numbers/booleans as text, text as booleans
    ("- rule: r\n  desc: 1\n  condition: evt.type=open\n  output: o\n  priority: info\n  enabled: 'false'\n"
     "- required_engine_version: 0.31.0\n- list: l\n  items: [a, 1]\n", ["ok"]),
    ("- list: l\n  items: [a]\n---\n- macro: m\n  condition: evt.type=open\n", ["ok", "ok"]),
    ("- list: l\n  items: {a: 1}\n  colour: red\n",
     ["failed for <root>[0]: Additional properties are not allowed ('colour' was unexpected)",
      "failed for <root>[0][items]: {'a': 0} is not of type 'array'"]),
    ("- rule: r\n  override: {}\n", ["failed for <root>[0][override]: {} should be non-empty"]),
    ("- rule: r\n  exceptions:\n  - fields: [a]\n", ["failed for <root>[0][exceptions][0]: 'name' is a required property"]),
    ("- required_plugin_versions:\n  - name: k8saudit\n    alternatives: [{name: x, version: 1}]\n",
     ["failed for <root>[0][required_plugin_versions][0]: 'version' is a required property"]),
    ("{}\n", ["failed for <root>: {} is not of type 'array'"]),
    ("", []),  # no YAML document: no check, as upstream (no schema keys in -V JSON)
])  # fmt: skip
def test_schema_status(content, status):
    res = fake_engine().load_rules(content, "f.yaml")
    assert res.schema_status == status
    doc = res.as_json()
    assert ("schema_valid" in doc) == bool(status)
    if status:
        assert doc["schema_valid"] == (status[0] == "ok")
        assert doc["schema_warnings"] == ([] if status[0] == "ok" else status)


def test_schema_first_document_decides_validity():
    """Upstream reports the status of the first document: a later bad one is not listed."""
    res = fake_engine().load_rules("- list: l\n  items: [a]\n---\n- list: m\n  color: 1\n", "f.yaml")
    assert res.schema_valid and res.schema_warnings == [] and "schema" not in res.as_summary()
    res = fake_engine().load_rules("- list: m\n  color: 1\n---\n- list: l\n  items: [a]\n", "f.yaml")
    assert not res.schema_valid and res.schema_warnings[-1] == "ok"
    assert res.as_summary().splitlines()[1].startswith(" 2 schema warnings: [failed for <root>[0]: ")
