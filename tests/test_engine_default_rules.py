"""The project's own default rules load cleanly through the real field registry
and each rule is indexed on the event types its detection needs."""

from __future__ import annotations

from importlib import resources

from falco_engine import Engine

EXPECTED = {
    "Shell spawned in a container": {"execve", "execveat"},
    "Write below binary directory": {"open", "openat", "openat2"},
    "Sensitive file read by untrusted program": {"open", "openat", "openat2"},
    "Unexpected outbound connection from system binary": {"connect"},
    "Setuid to root by non-root": {"setuid"},
    "Kernel module loaded": {"init_module", "finit_module"},
    "Ptrace attach": {"ptrace"},
    "Fileless execution": {"execve", "execveat"},
    "Log file tampering": {"open", "openat", "openat2", "unlink", "unlinkat"},
}


def test_default_rules_load_clean():
    eng = Engine()
    path = resources.files("falco_engine").joinpath("rules/falco_py_rules.yaml")
    res = eng.load_rules_file(str(path))
    assert res.successful and not res.warnings, res.as_text()
    assert {r.name: set(r.evttypes) for r in eng.rules} == EXPECTED
