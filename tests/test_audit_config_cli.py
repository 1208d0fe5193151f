"""falco.yaml keys and falco CLI flags that no other test exercised (audit): the
json_include_* properties, append_output, log_level, --config-schema, -P/--pidfile,
-A, and bad configuration values on the command line (clear error, exit 1, no
traceback). Real `python -m falco` processes replaying a shared capture."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.test_falco_cli import CAPTURES, QUIET, falco, replay, rules  # noqa: F401  (rules is a fixture)

CAT = CAPTURES / "cat_write.scap"
SCHEMA = Path(__file__).resolve().parents[1] / "falco" / "config" / "schema.json"
ALERT_TEXT = "cat ran (pid=20072 cmd=cat /dev/null)"  # the rule's output format applied to the capture


def _json_alerts(r) -> list[dict]:
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def test_json_include_defaults(rules: Path) -> None:
    [alert] = _json_alerts(replay(CAT, "-r", str(rules), "-o", "json_output=true"))
    assert alert["output"].endswith(f"Warning {ALERT_TEXT}")
    assert alert["output_fields"]["proc.pid"] == 20072
    assert sorted(alert["tags"]) == ["proc", "test"]
    assert "message" not in alert


@pytest.mark.parametrize(("key", "field"), [("json_include_output_property", "output"),
                                            ("json_include_output_fields_property", "output_fields"),
                                            ("json_include_tags_property", "tags")])
def test_json_include_property_false_drops_the_field(rules: Path, key: str, field: str) -> None:
    [alert] = _json_alerts(replay(CAT, "-r", str(rules), "-o", "json_output=true", "-o", f"{key}=false"))
    assert field not in alert
    assert alert["rule"] == "cat run" and alert["priority"] == "Warning"


def test_json_include_message_property(rules: Path) -> None:
    [alert] = _json_alerts(replay(CAT, "-r", str(rules), "-o", "json_output=true",
                                  "-o", "json_include_message_property=true"))
    # message: the output without its "<time>: <Priority> " prefix
    assert alert["message"] == ALERT_TEXT
    assert alert["output"].endswith(" Warning " + alert["message"])


def test_append_output_extra_output_and_fields(rules: Path) -> None:
    r = replay(CAT, "-r", str(rules), "-o", "append_output[].extra_output=EXTRA %proc.name")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].endswith(f"{ALERT_TEXT} EXTRA cat")
    [alert] = _json_alerts(replay(CAT, "-r", str(rules), "-o", "json_output=true",
                                  "-o", "append_output[].extra_fields[]=proc.name"))
    assert alert["output_fields"]["proc.name"] == "cat"


@pytest.mark.parametrize(("rule", "applied"), [("cat run", True), ("some other rule", False)])
def test_append_output_match_rule(rules: Path, rule: str, applied: bool) -> None:
    r = replay(CAT, "-r", str(rules), "-o", f"append_output[].match.rule={rule}",
               "-o", "append_output[0].extra_output=EXTRA")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].endswith(" EXTRA") is applied


@pytest.mark.parametrize(("level", "shown"), [("warning", True), ("error", False)])
def test_log_level_filters_stderr_messages(rules: Path, level: str, shown: bool) -> None:
    r = replay(CAT, "-r", str(rules), "-o", "log_stderr=true", "-o", f"log_level={level}",
               "-o", "unknown_key_for_the_audit=1")
    assert r.returncode == 0, r.stderr
    assert ("unknown configuration key 'unknown_key_for_the_audit'" in r.stderr) is shown
    assert "cat ran" in r.stdout


def test_config_schema_prints_the_shipped_schema() -> None:
    r = falco("--config-schema")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(SCHEMA.read_text())


def test_pidfile_written(rules: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "falco.pid"
    r = replay(CAT, "-r", str(rules), "-P", str(pidfile))
    assert r.returncode == 0, r.stderr
    pid = int(pidfile.read_text())
    assert pid > 1 and pid != os.getpid()
    pidfile.unlink()
    r = replay(CAT, "-r", str(rules), "--pidfile", str(pidfile))
    assert r.returncode == 0 and int(pidfile.read_text()) != pid


def test_pidfile_unwritable_is_a_clean_error(rules: Path, tmp_path: Path) -> None:
    bad = tmp_path / "no" / "such" / "dir" / "falco.pid"
    r = replay(CAT, "-r", str(rules), "-P", str(bad))
    assert r.returncode == 1
    assert r.stderr.startswith(f"Error: Could not write pid file {bad}")
    assert "Traceback" not in r.stderr and r.stdout == ""


def _support_config(*args: str) -> dict:
    r = falco(*QUIET, *args, "--support")
    assert r.returncode == 0, r.stderr
    return json.loads(json.loads(r.stdout)["config"])


def test_dash_A_is_base_syscalls_all(rules: Path) -> None:
    """-A is `-o base_syscalls.all=true` (the effective configuration --support reports)."""
    assert _support_config()["base_syscalls"]["all"] is False
    assert _support_config("-A")["base_syscalls"]["all"] is True
    r = replay(CAT, "-r", str(rules), "-A")
    assert r.returncode == 0 and "cat ran" in r.stdout


@pytest.mark.parametrize(("option", "key", "why"), [
    ("json_output=maybe", "json_output", "is not of type 'boolean'"),
    ("engine.kind=bogus", "engine.kind", "is not one of"),
    ("priority=loud", "priority", "is not one of"),
    ("rule_matching=some", "rule_matching", "is not one of"),
    ("log_level=chatty", "log_level", "is not one of"),
    ("outputs_queue.capacity=lots", "outputs_queue.capacity", "is not of type 'integer'"),
    ("webserver.listen_port=http", "webserver.listen_port", "is not of type 'integer'"),
    ("metrics.interval=often", "metrics.interval", "not valid"),
    ("syscall_event_drops.actions[0]=explode", "syscall_event_drops.actions[0]", "is not one of"),
    ("falco_libs.snaplen=-5", "falco_libs.snaplen", "less than the minimum"),
    ("http_output.max_consecutive_timeouts=x", "http_output.max_consecutive_timeouts", "is not of type 'integer'"),
    ("stdout_output=5", "stdout_output", "is not of type 'object'"),
])
def test_bad_option_values_are_clean_errors(rules: Path, option: str, key: str, why: str) -> None:
    r = replay(CAT, "-r", str(rules), "-o", option)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.startswith(f"Error: Invalid configuration: key '{key}'"), r.stderr
    assert why in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


TWO_RULES = """
- rule: cat run
  desc: cat executed
  condition: evt.type = execve and proc.name = cat
  output: "cat ran (pid=%proc.pid cmd=%proc.cmdline)"
  priority: WARNING
  tags: [proc]
- rule: any execve
  desc: any exec
  condition: evt.type = execve
  output: "exec (proc=%proc.name)"
  priority: NOTICE
"""


@pytest.mark.parametrize(("matching", "expected"), [
    ("first", ["Warning cat ran (pid=20072 cmd=cat /dev/null)"]),
    ("all", ["Warning cat ran (pid=20072 cmd=cat /dev/null)", "Notice exec (proc=cat)"]),
])
def test_rule_matching(tmp_path: Path, matching: str, expected: list[str]) -> None:
    p = tmp_path / "two.yaml"
    p.write_text(TWO_RULES)
    r = replay(CAT, "-r", str(p), "-o", f"rule_matching={matching}")
    assert r.returncode == 0, r.stderr
    alerts = [line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("16:17:57")]
    assert alerts == expected
    assert f"Events detected: {len(expected)}\n" in r.stdout


def test_stdout_output_disabled_keeps_the_summary(rules: Path, tmp_path: Path) -> None:
    out = tmp_path / "events.txt"
    r = replay(CAT, "-r", str(rules), "-o", "stdout_output.enabled=false", "-o", "file_output.enabled=true",
               "-o", f"file_output.filename={out}", "-o", "buffered_outputs=true")
    assert r.returncode == 0, r.stderr
    assert "cat ran" not in r.stdout and "Events detected: 1\n" in r.stdout
    assert out.read_text().endswith(f"Warning {ALERT_TEXT}\n")  # buffered output still flushed at exit


CAT_RAN, EXEC = "Warning cat ran (pid=20072 cmd=cat /dev/null)", "Notice exec (proc=cat)"


@pytest.mark.parametrize(("selection", "expected"), [
    ([], [CAT_RAN, EXEC]),
    (["rules[].disable.rule=any execve"], [CAT_RAN]),
    (["rules[].disable.rule=*execve"], [CAT_RAN]),  # wildcard
    (["rules[].disable.rule=*", "rules[].enable.rule=any execve"], [EXEC]),  # applied in order
    (["rules[].disable.tag=proc"], [EXEC]),
    (["rules[].disable.rule=no such rule"], [CAT_RAN, EXEC]),
])
def test_rules_selection_from_options(tmp_path: Path, selection: list[str], expected: list[str]) -> None:
    p = tmp_path / "two.yaml"
    p.write_text(TWO_RULES)
    opts = [x for sel in selection for x in ("-o", sel)]
    r = replay(CAT, "-r", str(p), "-o", "rule_matching=all", *opts)
    assert r.returncode == 0, r.stderr
    assert [line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("16:17:57")] == expected


def test_verbose_prints_the_event_count(rules: Path) -> None:
    from libsinsp.inspector import Inspector

    insp = Inspector()
    insp.open_file(CAT)
    expected = sum(1 for _ in insp)  # what the library delivers, counted independently of falco
    insp.close()
    quiet = replay(CAT, "-r", str(rules))
    r = replay(CAT, "-r", str(rules), "-v")
    assert r.returncode == 0, r.stderr
    assert f", Captured Events: {expected}, " in r.stderr
    assert "Captured Events" not in quiet.stderr
    assert "Driver Events" not in r.stderr  # no driver in a replay
