"""``falco -V`` JSON as upstream's validate_rules_files prints it: the load results
(with the rules schema check) and, with -L or -l and a successful load, the rules
description under ``falco_describe_results``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_falco_cli import falco

RULES = """
- rule: cat run
  desc: cat executed
  condition: evt.type = execve and proc.name = cat
  output: "cat ran (%proc.cmdline)"
  priority: WARNING
  colour: red
"""


def validate(path: Path, *args: str) -> tuple[int, dict]:
    r = falco("-V", str(path), "-o", "json_output=true", *args)
    return r.returncode, json.loads(r.stdout)


def test_validate_json(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    rc, doc = validate(rules)
    assert rc == 0 and list(doc) == ["falco_load_results"]
    (res,) = doc["falco_load_results"]
    assert res["successful"] is True and res["schema_valid"] is False
    assert res["schema_warnings"] == ["failed for <root>[0]: Additional properties are not allowed "
                                      "('colour' was unexpected)"]
    assert [w["code"] for w in res["warnings"]] == ["LOAD_UNKNOWN_KEY"]
    rc, doc = validate(rules, "-L")
    assert rc == 0 and [r["info"]["name"] for r in doc["falco_describe_results"]["rules"]] == ["cat run"]
    rc, doc = validate(rules, "-l", "cat run")
    assert [r["info"]["name"] for r in doc["falco_describe_results"]["rules"]] == ["cat run"]
    rules.write_text(RULES.replace("proc.name = cat", "proc.name = = cat"))
    rc, doc = validate(rules, "-L")
    assert rc == 1 and list(doc) == ["falco_load_results"]  # no description of a failed load
