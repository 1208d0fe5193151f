"""Fuzzing the configuration loader: mutated falco.yaml (the packaged one) and
mutated ``-o key=value`` options. In process, ``falco.configuration.load``
followed by what falco derives from the configuration before capture (rules
engine setup with append_output, the kernel syscall set, drop manager and
metrics interval) may only raise the CLI's own error types; through the CLI,
a bad configuration is exit code 1 with an ``Error:`` line and no traceback.
The long run is ``python scripts/fuzz.py config``.

An input is the YAML text, a line ``#--options--`` and one option per line."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
from functools import lru_cache

import yaml

from conftest import ROOT
from falco.configuration import DEFAULT_CONFIG, ConfigError, load
from tests.fuzz_regressions import execute, mutate_text, regression_inputs, run

NAME = "config"
SUFFIX = ".yaml"
SEP = "\n#--options--\n"
OWN_RULES = str(ROOT / "falco_engine" / "rules" / "falco_py_rules.yaml")
KEYS = ["json_output", "priority", "rule_matching", "outputs_queue.capacity", "stdout_output.enabled",
        "engine.kind", "engine.modern_ebpf.buf_size_preset", "engine.modern_ebpf.cpus_for_each_buffer",
        "rules_files", "rules_files[]", "rules_files[0]", "rules[].disable.rule", "rules[].enable.tag",
        "append_output[].match.source", "append_output[0].extra_fields[]", "append_output[].extra_output",
        "base_syscalls.custom_set[]", "base_syscalls.repair", "syscall_event_drops.actions[]",
        "syscall_event_drops.threshold", "syscall_event_drops.rate", "syscall_event_drops.max_burst",
        "metrics.interval", "metrics.enabled", "webserver.listen_port", "log_level", "config_files",
        "config_files[]", "a.b[3].c", "x\\.y", "[0]", "a..b", "a[", "a[x]", "", "load_plugins[]",
        "plugins[].name", "output_timeout", "time_format_iso_8601", "falco_libs.thread_table_size"]
VALUES = ["true", "false", "1", "-1", "0", "99999999999999999999999", "1.5", "", "x", "{a: 1}", "{",
          "{}", "[1]", "${HOME}", "$${x}", "${", "debug", "emergency", "all", "1h", "5s", "-3m", "0s",
          "abc", "\u00e9", "null", "~", "{match: {source: syscall}, extra_output: x}", "{x: [}"]


@lru_cache(maxsize=None)
def seeds() -> list[bytes]:
    base = DEFAULT_CONFIG.read_text()
    return [(base + SEP).encode(), (base + SEP + "json_output=true\nrules[].disable.rule=x").encode()]


def _split(data: bytes) -> tuple[str, list[str]]:
    text = data.decode("utf-8", "replace")
    yml, _, opts = text.partition(SEP)
    return yml, [o for o in opts.split("\n") if o]


def _mutate_tree(rng: random.Random, node: object, depth: int = 0) -> object:
    if isinstance(node, dict) and node and depth < 4 and rng.random() < 0.7:
        k = rng.choice(list(node))
        node[k] = _mutate_tree(rng, node[k], depth + 1)
        return node
    if isinstance(node, list) and node and depth < 4 and rng.random() < 0.5:
        i = rng.randrange(len(node))
        node[i] = _mutate_tree(rng, node[i], depth + 1)
        return node
    return rng.choice([None, 0, -1, 2**70, 1.5, True, "", "x", [], {}, [None], {"a": {}}, "${HOME}",
                       "-5", "1h", "bogus", [{"path": 3}], {"strategy": "x"}])


def mutate(rng: random.Random, data: bytes) -> bytes:
    yml, opts = _split(data)
    k = rng.random()
    if k < 0.4:
        opts = opts + [f"{rng.choice(KEYS)}={rng.choice(VALUES)}" for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.2:
            opts.append(rng.choice(KEYS + VALUES))  # no '='
    elif k < 0.75:
        doc = yaml.safe_load(yml) if yml.strip() else {}
        if isinstance(doc, dict):
            for _ in range(rng.randint(1, 3)):
                doc = _mutate_tree(rng, doc)
            yml = yaml.safe_dump(doc, sort_keys=False)
    else:
        yml = mutate_text(rng, yml)
    safe = [o for o in opts if not o.startswith("config_files") or "${" not in o]
    return (yml + SEP + "\n".join(safe)).encode("utf-8", "replace")


def _no_side_effects(opts: list[str]) -> list[str]:
    """The fuzzer never gets to configure outputs that touch the host (files, programs)."""
    return [*opts, "file_output.enabled=false", "program_output.enabled=false", "http_output.enabled=false",
            "syslog_output.enabled=false", "log_syslog=false"]


def target(data: bytes) -> None:
    from falco.app import interesting_syscalls
    from falco.drops import DropManager
    from falco.metrics import parse_interval
    from falco.rules_setup import RulesError, load_rules

    yml, opts = _split(data)
    fd, path = tempfile.mkstemp(suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(yml)
        try:
            config = load(path, opts)
            rules = load_rules(config, [OWN_RULES])
        except (ConfigError, RulesError):
            return
        interesting_syscalls(config, rules.engine)
        sd = config.get("syscall_event_drops", {}) or {}
        try:
            DropManager(lambda: {"n_evts": 0, "n_drops": 0}, lambda *a: None, actions=sd.get("actions", ["log"]),
                        threshold=float(sd.get("threshold", 0.1)), rate=float(sd.get("rate", 0.03333)),
                        max_burst=int(sd.get("max_burst", 1)))
            parse_interval(config.get("metrics.interval", "1h"))
        except ValueError:  # what falco turns into an Error: line (app.py)
            pass
    finally:
        os.unlink(path)


def test_mutated_configs_only_raise_config_errors() -> None:
    rep = run(NAME, target, seeds(), mutate, seed=9, max_execs=250)
    assert not rep.findings, rep.findings[0].error


def falco_cli(data: bytes, tmp: str) -> subprocess.CompletedProcess:
    yml, opts = _split(data)
    path = os.path.join(tmp, "falco.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(yml)
    cmd = [sys.executable, "-m", "falco", "-c", path, "-r", OWN_RULES, "--dry-run"]
    for o in _no_side_effects(opts):
        cmd += ["-o", o]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp)


def test_cli_bad_configs_exit_1_with_error_line(tmp_path) -> None:
    """Mutated configurations through the real CLI (a dozen: each is a Python start)."""
    rng = random.Random(3)
    errors = 0
    for i in range(12):
        data = mutate(rng, rng.choice(seeds()))
        if i % 3 == 0:  # a sure error too
            data += b"\nwebserver.listen_port={bad"
        res = falco_cli(data, str(tmp_path))
        assert "Traceback" not in res.stderr, res.stderr
        assert res.returncode in (0, 1), res.stderr
        if res.returncode == 1:
            errors += 1
            assert any(line.startswith("Error: ") for line in res.stderr.splitlines()), res.stderr
    assert errors >= 4


def test_kept_crashers() -> None:
    for path in regression_inputs(NAME):
        err = execute(target, path.read_bytes())
        assert err is None, f"{path.name}: {err}"
