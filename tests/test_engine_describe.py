"""Rule descriptions (falco -L / -l, text and JSON) on tests/rules/describe.yaml.

Expected values are worked out by hand from the rules file with upstream's
rules (falco_engine.cpp get_json_details, filter_details_resolver.cpp, libsinsp
ast::as_string, falco's wrap_text / format_described_rules_as_text)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from falco_engine import DescribeError, Engine
from libsinsp.plugin.info import Capabilities, PluginInfo

RULES = Path(__file__).parent / "rules" / "describe.yaml"


@pytest.fixture(scope="module")
def engine() -> Engine:
    eng = Engine()
    eng.set_min_priority("warning")  # filters rulesets, never the description
    res = eng.load_rules_file(RULES)
    assert res.successful, res.as_text()
    return eng


@pytest.fixture(scope="module")
def doc(engine: Engine) -> dict:
    return json.loads(engine.describe_rules(json=True))


def test_top_level(doc: dict) -> None:
    assert sorted(doc) == ["lists", "macros", "required_engine_version", "required_plugin_versions", "rules"]
    assert doc["required_engine_version"] == "0.31.0"
    assert doc["required_plugin_versions"] == [
        {"name": "k8saudit", "version": "0.7.0", "alternatives": [{"name": "k8saudit-eks", "version": "0.4.0"}]}]
    assert [r["info"]["name"] for r in doc["rules"]] == ["Shell run", "Connect by curl"]
    assert [m["info"]["name"] for m in doc["macros"]] == ["spawned", "parent_ok", "lonely"]
    assert [x["info"]["name"] for x in doc["lists"]] == ["shells", "all_shells", "never_used"]


def test_rule_info_and_details(doc: dict) -> None:
    shell = doc["rules"][0]
    assert shell["info"] == {
        "name": "Shell run",
        "condition": "spawned and proc.name in (all_shells) and not parent_ok",
        "priority": "Informational",
        "output": "shell %proc.name (parent=%proc.pname cmd=%proc.cmdline)",
        "description": "a shell   was run by someone who should really not be running a shell at all "
                       "since this is a very long line",
        "enabled": True, "source": "syscall", "capture": False, "capture_duration": 0,
        "tags": ["b_tag", "shell"],
    }
    assert shell["details"] == {
        "macros": ["parent_ok", "spawned"],
        "lists": ["all_shells"],
        "condition_operators": ["=", "in", "pmatch", "startswith", "startswith oneof"],
        "condition_fields": ["evt.type", "fd.directory", "fd.name", "proc.name", "proc.pname"],
        "output_fields": ["proc.name", "proc.pname", "proc.cmdline"],
        "exception_fields": ["fd.directory", "fd.name", "proc.name"],
        "exception_names": ["dirs", "known"],
        "exception_operators": ["=", "pmatch", "startswith"],
        "events": ["asyncevent", "execve", "execveat"],
        "condition_compiled": '((evt.type in (execve, execveat) and proc.name in (bash, sh, zsh) and not '
                              'proc.pname startswith oneof (sshd, "my app")) and not (proc.name = bash and '
                              "fd.name startswith /tmp) and not fd.directory pmatch (/etc))",
        "output_compiled": "shell %proc.name (parent=%proc.pname cmd=%proc.cmdline)",
        "plugins": [],
    }


def test_rule_with_field_argument_and_transformer(doc: dict) -> None:
    curl = doc["rules"][1]
    assert (curl["info"]["enabled"], curl["info"]["priority"], curl["info"]["tags"]) == (False, "Warning", [])
    d = curl["details"]
    assert d["condition_fields"] == ["evt.type", "proc.aname[2]", "proc.name"]
    assert d["condition_operators"] == ["="]
    assert d["events"] == ["asyncevent", "connect"]
    assert d["condition_compiled"] == '(evt.type = connect and proc.aname[2] = "a b" and tolower(proc.name) = curl)'
    assert (d["macros"], d["lists"], d["exception_names"], d["output_fields"]) == ([], [], [], ["fd.name"])


def test_macros(doc: dict) -> None:
    spawned, parent_ok, lonely = doc["macros"]
    assert spawned == {"info": {"name": "spawned", "condition": "evt.type in (execve, execveat)"},
                       "details": {"used": True, "macros": [], "lists": [], "condition_operators": ["in"],
                                   "condition_fields": ["evt.type"], "events": ["asyncevent", "execve", "execveat"],
                                   "condition_compiled": "evt.type in (execve, execveat)", "plugins": []}}
    assert parent_ok["details"]["condition_compiled"] == 'proc.pname startswith oneof (sshd, "my app")'
    assert parent_ok["details"]["condition_operators"] == ["startswith oneof"]
    assert lonely["details"]["used"] is False
    # no event-type restriction: every event name (syscalls without their own event included)
    assert {"open", "execve", "procexit", "asyncevent", "setns"} <= set(lonely["details"]["events"])


def test_lists(doc: dict) -> None:
    shells, all_shells, never = doc["lists"]
    assert shells == {"info": {"name": "shells", "items": ["bash", "sh"]},
                      "details": {"used": True, "lists": [], "items_compiled": ["bash", "sh"], "plugins": []}}
    assert all_shells == {"info": {"name": "all_shells", "items": ["zsh"]},
                          "details": {"used": True, "lists": ["shells"], "items_compiled": ["bash", "sh", "zsh"],
                                      "plugins": []}}
    assert never["details"]["used"] is False


def test_json_text_is_compact_with_sorted_keys(engine: Engine) -> None:
    text = engine.describe_rules("Connect by curl", json=True)
    assert text.startswith('{"rules":[{"details":{"condition_compiled":"(evt.type = connect and')
    assert '"info":{"capture":false,"capture_duration":0,"condition":' in text
    assert "\n" not in text and '": ' not in text and '", "' not in text


def test_single_rule(engine: Engine) -> None:
    doc = engine.describe("Shell run")
    assert list(doc) == ["rules"] and doc["rules"][0]["info"]["name"] == "Shell run"
    with pytest.raises(DescribeError, match='Rule "nope" is not loaded'):
        engine.describe("nope")


def test_before_load() -> None:
    with pytest.raises(DescribeError, match="rules must be loaded before describing them"):
        Engine().describe_rules()


def test_text(engine: Engine) -> None:
    pad = " " * 51
    assert engine.describe_rules() == (
        "Rule" + " " * 47 + "Description\n"
        "----" + " " * 47 + "-----------\n"
        "Shell run" + " " * 42 + "a shell was run by someone who should really not be \n"
        + pad + "running a shell at all since this is a very long line \n\n"
        "Connect by curl" + " " * 36 + "curl connected \n\n"
    )
    assert engine.describe_rules("Connect by curl").splitlines()[2] == "Connect by curl" + " " * 36 + "curl connected "


def test_used_plugins(engine: Engine) -> None:
    def plugin(name: str, caps: Capabilities, **kw: object) -> PluginInfo:
        return PluginInfo(name, "1.0.0", "", "", "3.0.0", caps, **kw)  # type: ignore[arg-type]

    plugins = [
        plugin("aname", Capabilities.EXTRACTION, fields=[SimpleNamespace(name="proc.aname")]),
        plugin("k8s_only", Capabilities.EXTRACTION, fields=[SimpleNamespace(name="proc.aname")],
               extract_sources=frozenset({"k8s_audit"})),
        plugin("src", Capabilities.SOURCING, event_source="syscall"),
    ]
    doc = engine.describe("Connect by curl", plugins)
    assert doc["rules"][0]["details"]["plugins"] == ["aname", "src"]
