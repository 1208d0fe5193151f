"""The falco program end to end: replays of the shared captures, informational
flags, errors and exit codes (real processes, real output)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "captures"
OFFICIAL_RULES = CAPTURES.parent / "rules" / "falco_rules.yaml"
QUIET = ["-o", "syslog_output.enabled=false", "-o", "log_stderr=false", "-o", "webserver.enabled=false"]

RULES = """
- rule: cat run
  desc: cat executed
  condition: evt.type = execve and proc.name = cat
  output: "cat ran (pid=%proc.pid cmd=%proc.cmdline)"
  priority: WARNING
  tags: [test, proc]
"""


def falco(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "falco", *args], capture_output=True, text=True,
                          timeout=timeout, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})


def replay(capture: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return falco("-o", "engine.kind=replay", "-o", f"engine.replay.capture_file={capture}", *QUIET, *args)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    p = tmp_path / "rules.yaml"
    p.write_text(RULES)
    return p


def test_replay_text_alert_and_summary(rules: Path) -> None:
    r = replay(CAPTURES / "cat_write.scap", "-r", str(rules))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("16:17:57.881730713: Warning cat ran (pid=20072 cmd=cat /dev/null)\n"
                        "Events detected: 1\nRule counts by severity:\n   WARNING: 1\n"
                        "Triggered rules by rule name:\n   cat run: 1\n")


def test_replay_json_alert(rules: Path) -> None:
    r = replay(CAPTURES / "cat_write.scap", "-r", str(rules), "-o", "json_output=true",
               "-o", "time_format_iso_8601=true")
    assert r.returncode == 0, r.stderr
    alert = json.loads(r.stdout.splitlines()[0])
    assert alert == {
        "hostname": alert["hostname"],
        "output": "2016-08-04T16:17:57.881730713Z: Warning cat ran (pid=20072 cmd=cat /dev/null)",
        "output_fields": {"proc.pid": 20072, "proc.cmdline": "cat /dev/null",
                          "evt.time.iso8601": 1470327477881730713},
        "priority": "Warning", "rule": "cat run", "source": "syscall", "tags": ["proc", "test"],
        "time": "2016-08-04T16:17:57.881730713Z"}


def test_replay_priority_filter_and_rule_selection(rules: Path) -> None:
    r = replay(CAPTURES / "cat_write.scap", "-r", str(rules), "-o", "priority=error")
    assert r.returncode == 0 and r.stdout.startswith("Events detected: 0\n")
    r = replay(CAPTURES / "cat_write.scap", "-r", str(rules), "-o", "rules[].disable.rule=cat*")
    assert r.returncode == 0 and r.stdout.startswith("Events detected: 0\n")
    r = replay(CAPTURES / "cat_write.scap", "-r", str(rules), "-o", "rules[].disable.tag=proc",
               "-o", "rules[].enable.rule=cat run")
    assert r.stdout.startswith("16:17:57.881730713: Warning cat ran")


@pytest.mark.slow
@pytest.mark.parametrize("capture", sorted(CAPTURES.glob("*.scap")), ids=lambda p: p.name)
def test_replay_official_rules(capture: Path) -> None:
    r = replay(capture, "-r", str(OFFICIAL_RULES), "-o", "json_output=true")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    i = lines.index(next(l for l in lines if l.startswith("Events detected: ")))
    alerts = [json.loads(l) for l in lines[:i]]
    assert int(lines[i].split(": ")[1]) == len(alerts)
    assert all(a["source"] == "syscall" and a["rule"] for a in alerts)


def test_file_output_in_replay(rules: Path, tmp_path: Path) -> None:
    out = tmp_path / "events.txt"
    r = replay(CAPTURES / "cat_write.scap", "-r", str(rules), "-o", "stdout_output.enabled=false",
               "-o", "file_output.enabled=true", "-o", f"file_output.filename={out}")
    assert r.returncode == 0
    assert out.read_text() == "16:17:57.881730713: Warning cat ran (pid=20072 cmd=cat /dev/null)\n"


# --- informational flags ---------------------------------------------------------------------

def test_version_text_and_json() -> None:
    r = falco("--version")
    assert r.returncode == 0 and r.stdout.startswith("Falco version: ")
    assert "Engine:        0." in r.stdout and "Schema version: 4." in r.stdout
    info = json.loads(falco("--version", "-o", "json_output=true").stdout)
    assert info["engine_version_semver"].startswith("0.") and info["driver_schema_version"]
    assert info["engine_version"] == info["engine_version_semver"].split(".")[1]


def test_support_json(rules: Path) -> None:
    r = falco("--support", "-r", str(rules))
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert doc["engine_info"]["falco_version"] == doc["version"]
    assert doc["rules_files"] == [{"name": str(rules), "variants": [{"content": RULES}]}]
    assert json.loads(doc["config"])["engine"]["kind"] == "modern_ebpf"
    assert doc["system_info"]["sysname"] == "Linux"


def test_validate_text_json_and_invalid(rules: Path, tmp_path: Path) -> None:
    r = falco("-V", str(rules))
    assert (r.returncode, r.stdout) == (0, f"{rules}: Ok\n")
    doc = json.loads(falco("-V", str(rules), "-o", "json_output=true").stdout)
    assert doc["falco_load_results"][0]["successful"] is True
    bad = tmp_path / "bad.yaml"
    bad.write_text("- rule: x\n  desc: d\n  condition: evt.type = = open\n  output: o\n  priority: INFO\n")
    r = falco("-V", str(bad))
    assert r.returncode == 1 and r.stdout.startswith(f"{bad}: Invalid")
    doc = json.loads(falco("-V", str(bad), "-o", "json_output=true").stdout)
    assert doc["falco_load_results"][0]["successful"] is False
    assert doc["falco_load_results"][0]["errors"][0]["code"] == "LOAD_ERR_COMPILE_CONDITION"


def test_describe_rules(rules: Path) -> None:
    r = falco("-r", str(rules), "-L")
    assert r.returncode == 0
    assert r.stdout.splitlines()[:3] == [f"{'Rule':<51}Description", f"{'----':<51}-----------",
                                         f"{'cat run':<51}cat executed "]
    doc = json.loads(falco("-r", str(rules), "-l", "cat run", "-o", "json_output=true").stdout)
    assert [x["info"]["name"] for x in doc["rules"]] == ["cat run"]
    r = falco("-r", str(rules), "-l", "nope")
    assert r.returncode == 1 and "Error: Rule nope not found" in r.stderr


def test_list_fields_and_events() -> None:
    names = falco("--list", "-N").stdout.split()
    assert {"proc.name", "evt.type", "fd.name"} <= set(names)
    doc = json.loads(falco("--list=syscall", "--format", "json").stdout)
    assert any(f["name"] == "proc.cmdline" for c in doc for f in c["fields"])
    ev = json.loads(falco("--list-events", "--format", "json").stdout)
    assert ev["schema_version"].startswith("4.")
    assert any(e["name"] == "execve" and e["dir"] == "<" for e in ev["Syscall events"])
    text = falco("--list-events").stdout
    assert text.startswith("The events below are valid for Falco *Schema Version*: 4.")
    assert "\n< openat(PT_FD **fd**" in text


def test_help() -> None:
    r = falco("-h")
    assert r.returncode == 0 and "-o <opt>=<val>" in r.stdout and "--list-events" in r.stdout


# --- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--no-such-flag"], "Error: unrecognized arguments: --no-such-flag"),
    (["-c", "/nonexistent/falco.yaml"], "Error: Could not find configuration file at /nonexistent/falco.yaml"),
    (["-o", "webserver.listen_port=x", "--dry-run"], "Error: Invalid configuration: key 'webserver.listen_port'"),
    (["-o", "json_output", "--dry-run"], 'Error: Error parsing config option "json_output"'),
    (["-r", "/nonexistent.yaml", "--dry-run"], "Error: Could not read rules file /nonexistent.yaml"),
    (["-o", "rules_files=/nonexistent.yaml", "--dry-run"], "Error: You must specify at least one rules file"),
    (["--enable-source", "syscall", "--disable-source", "syscall"], "Error: You can not mix --enable-source"),
    (["--enable-source", "k8s_audit", "--dry-run"], "Error: Attempted enabling an unknown event source: k8s_audit"),
    (["-o", "engine.kind=replay", "-o", "engine.replay.capture_file=/nonexistent.scap"],
     "Error: Could not open capture file /nonexistent.scap"),
    (["-o", "engine.kind=replay"], "Error: engine.kind is replay but engine.replay.capture_file is empty"),
    (["-o", "file_output.enabled=true", "-o", "file_output.filename=", "-o", "engine.kind=replay"],
     "file_output.filename"),
])
def test_errors_exit_1_with_message(rules: Path, args: list[str], message: str) -> None:
    extra = [] if any(a.startswith(("-r", "rules_files")) for a in args) else ["-r", str(rules)]
    r = falco(*extra, *QUIET, *args)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_invalid_rules_file_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- rule: x\n  condition: proc.nme = a\n")
    r = falco("-r", str(bad), *QUIET, "--dry-run")
    assert r.returncode == 1 and r.stderr.startswith(f"Error: {bad}: Invalid")


def test_dry_run_ok(rules: Path) -> None:
    r = falco("-r", str(rules), *QUIET, "--dry-run")
    assert (r.returncode, r.stdout) == (0, "")


def test_in_process_run_restores_the_switch_interval(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """falco runs with a 1 ms interpreter switch interval (its output threads wait for
    the interpreter while capture runs) and gives the caller's back when it returns."""
    from falco.app import SWITCH_INTERVAL_S
    from falco.cli import main

    log = logging.getLogger("falco")  # main() configures it: given back for the tests after this one
    saved = log.handlers[:], log.level, log.propagate
    before = sys.getswitchinterval()
    assert before != SWITCH_INTERVAL_S
    try:
        code = main(["-o", "engine.kind=replay", "-o", f"engine.replay.capture_file={CAPTURES / 'cat_write.scap'}",
                     *QUIET, "-r", str(rules)])
    finally:
        log.handlers[:], log.level, log.propagate = saved
    assert code == 0
    assert "cat ran" in capsys.readouterr().out
    assert sys.getswitchinterval() == before
