"""falco.yaml loading: includes, ${VAR} expansion, -o keys, schema validation."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from falco import configuration as cfgmod
from falco.configuration import ConfigError, load, parse_key


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_packaged_default_loads_with_upstream_defaults() -> None:
    cfg = load(str(cfgmod.DEFAULT_CONFIG))
    assert cfg.warnings == []
    assert cfg.get("engine.kind") == "modern_ebpf"
    assert cfg.get("webserver.listen_port") == 8765
    assert cfg.get("webserver.listen_address") == "127.0.0.1"
    assert cfg.get("syscall_event_drops.actions") == ["log", "alert"]
    assert cfg.get("syscall_event_drops.rate") == 0.03333
    assert cfg.get("outputs_queue.capacity") == 0
    assert cfg.get("rules_files")[0].endswith("falco_engine/rules/falco_py_rules.yaml")
    assert "${" not in cfg.get("rules_files")[0]


def test_upstream_falco_yaml_loads_without_warnings(tmp_path: Path) -> None:
    text = subprocess.run(
        ["git", "-C", "/work/.mirror/falcosecurity+falco/repo", "show", "HEAD:falco.yaml"],
        capture_output=True, text=True)
    if text.returncode != 0:
        pytest.skip("upstream falco mirror not available")
    cfg = load(write(tmp_path / "falco.yaml", text.stdout))
    assert cfg.warnings == []
    assert cfg.get("http_output.user_agent") == "falcosecurity/falco"


def test_env_expansion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALCO_TEST_DIR", "/srv/x")
    monkeypatch.delenv("FALCO_TEST_UNSET", raising=False)
    path = write(tmp_path / "f.yaml", (
        "file_output: {filename: '${FALCO_TEST_DIR}/events.txt'}\n"
        "program_output: {program: 'echo $${HOME} a${FALCO_TEST_UNSET}b $x ${open'}\n"))
    cfg = load(path)
    assert cfg.get("file_output.filename") == "/srv/x/events.txt"
    assert cfg.get("program_output.program") == "echo ${HOME} ab $x ${open"


@pytest.mark.parametrize("key, steps", [
    ("a", ["a"]),
    ("a.b.c", ["a", "b", "c"]),
    ("a[2].b", ["a", 2, "b"]),
    ("m[1][3]", ["m", 1, 3]),
    ("rules[].disable.rule", ["rules", None, "disable", "rule"]),
    (r"ann.kubernetes\.io/role", ["ann", "kubernetes.io/role"]),
    (r"back\\slash", ["back\\slash"]),
])
def test_parse_key(key: str, steps: list) -> None:
    assert parse_key(key) == steps


@pytest.mark.parametrize("key", ["a..b", ".a", "a.", "a[x]", "a[1", r"a\q", "[0]"])
def test_parse_key_errors_name_the_key(key: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_key(key)
    assert str(e.value).startswith(f'Config error at key "{key}": ')


def test_options_override_types_and_appends(tmp_path: Path) -> None:
    path = write(tmp_path / "f.yaml", "rules:\n  - disable: {rule: A}\nrules_files: [/x.yaml]\n")
    cfg = load(path, [
        "json_output=true", "webserver.listen_port=9000", "syscall_event_drops.threshold=0.5",
        "rules[].disable.rule=Two", "rules[].enable.tag=net", "rules[0].disable.rule=One",
        "rules_files[]=/y.yaml", "http_output={enabled: true, url: 'http://h/'}",
        "metrics.interval=15m"])
    assert cfg.get("json_output") is True
    assert cfg.get("webserver.listen_port") == 9000
    assert cfg.get("syscall_event_drops.threshold") == 0.5
    assert cfg.get("rules") == [{"disable": {"rule": "One"}}, {"disable": {"rule": "Two"}},
                                {"enable": {"tag": "net"}}]
    assert cfg.get("rules_files") == ["/x.yaml", "/y.yaml"]
    assert cfg.get("http_output") == {"enabled": True, "url": "http://h/"}
    assert cfg.get("metrics.interval") == "15m"


def test_single_string_for_a_list(tmp_path: Path) -> None:
    cfg = load(write(tmp_path / "f.yaml", "{}"), ["rules_files=/r.yaml"])
    assert cfg.get("rules_files") == ["/r.yaml"]


@pytest.mark.parametrize("option, key", [
    ("webserver.listen_port=abc", "webserver.listen_port"),
    ("json_output=maybe", "json_output"),
    ("engine.kind=kmodd", "engine.kind"),
    ("syscall_event_drops.actions[]=shout", "syscall_event_drops.actions[0]"),
    ("metrics.interval=soon", "metrics.interval"),
    ("priority=loud", "priority"),
])
def test_invalid_values_name_the_key(tmp_path: Path, option: str, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        load(write(tmp_path / "f.yaml", "{}"), [option])
    assert f"key '{key}'" in str(e.value)


def test_unknown_keys_are_warnings(tmp_path: Path) -> None:
    cfg = load(write(tmp_path / "f.yaml", "stdout_output: {enabled: true, colour: red}\nbogus: 1\n"))
    assert cfg.warnings == ["unknown configuration key 'bogus' (ignored)",
                            "unknown configuration key 'stdout_output.colour' (ignored)"]


def test_malformed_option() -> None:
    with pytest.raises(ConfigError, match="Must be of the form key=val"):
        load(str(cfgmod.DEFAULT_CONFIG), ["json_output"])


def test_config_files_strategies(tmp_path: Path) -> None:
    d = tmp_path / "conf.d"
    d.mkdir()
    write(d / "20-b.yaml", "rules_files: [/b.yaml]\npriority: error\n")
    write(d / "10-a.yaml", "rules_files: [/a.yaml]\npriority: warning\n")
    over = write(tmp_path / "over.yaml", "rules_files: [/o.yaml]\n")
    add = write(tmp_path / "add.yaml", "priority: debug\njson_output: true\n")
    main = write(tmp_path / "falco.yaml", (
        f"config_files: [{d}, {{path: {over}, strategy: override}}, "
        f"{{path: {add}, strategy: add-only}}, /nonexistent/dir]\n"
        "rules_files: [/main.yaml]\n"))
    cfg = load(main)
    assert cfg.get("rules_files") == ["/o.yaml"]
    assert cfg.get("priority") == "error"
    assert cfg.get("json_output") is True
    assert cfg.loaded_files == [main, str(d / "10-a.yaml"), str(d / "20-b.yaml"), over, add]

    cfg = load(main, [f"config_files={d}"])
    assert cfg.get("rules_files") == ["/main.yaml", "/a.yaml", "/b.yaml"]


def test_include_errors(tmp_path: Path) -> None:
    nested = write(tmp_path / "n.yaml", "config_files: [/x]\n")
    main = write(tmp_path / "falco.yaml", f"config_files: [{nested}]\n")
    with pytest.raises(ConfigError, match="'config_files' directive in included config file"):
        load(main)
    selfref = tmp_path / "self.yaml"
    write(selfref, f"config_files: [{selfref}]\n")
    with pytest.raises(ConfigError, match="recursively include main config file"):
        load(str(selfref))
    bad = write(tmp_path / "bad.yaml", "a: [1, 2\n")
    with pytest.raises(ConfigError, match=r"Cannot read config file \(.*bad.yaml\)"):
        load(bad)
