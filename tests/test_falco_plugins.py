"""Plugins through the falco CLI (subprocess ``python -m falco``): the C test plugins
and the Python example plugin with rules on their fields, replay of a capture of
plugin events, and the errors and exit codes of bad plugins and configs.

Expected alerts follow from what the test plugins emit by construction (see the
comments at the top of tests/plugins/*.c and libsinsp/plugin/examples/dummy.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from plugins.build import build_plugin, plugin_dir  # noqa: F401 - fixture

from libscap.savefile import CaptureWriter
from libsinsp.plugin.manager import PluginManager
from tests.helpers_plugins import counter_rules
from tests.test_falco_live import _live_refused

COUNTER_RULES = counter_rules(
    "odd counters among 7, 21, 35",
    "seven-ish %counter.value (%counter.str, even=%counter.even, thread 42 is %parse.comm[42])")
#: counter n alerts when n is odd and n in (7, 21, 35): all three are odd
SEVEN_ISH = [7, 21, 35]


def falco(tmp_path: Path, plugins: list[dict], rules: str, *args: str, load: list[str] | None = None,
          kind: str = "nodriver", env: dict | None = None) -> subprocess.CompletedProcess:
    cfg: dict = {"plugins": plugins, "engine": {"kind": kind}, "log_syslog": False, "stdout_output": {"enabled": True},
                 "rules_files": [str(tmp_path / "rules.yaml")], "config_files": []}
    if load is not None:
        cfg["load_plugins"] = load
    (tmp_path / "falco.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "rules.yaml").write_text(rules)
    return subprocess.run([sys.executable, "-m", "falco", "-c", str(tmp_path / "falco.yaml"), *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def counter_plugins(plugin_dir: Path, max_events: int = 40) -> list[dict]:
    return [
        {"name": "counter", "library_path": str(build_plugin("counter_source", plugin_dir)),
         "init_config": {"max": max_events}},
        {"name": "counterx", "library_path": str(build_plugin("counter_extract", plugin_dir))},
        {"name": "threadparse", "library_path": str(build_plugin("thread_parse", plugin_dir))},
    ]


def alert_lines(r: subprocess.CompletedProcess) -> list[str]:
    return [line for line in r.stdout.splitlines() if ": Warning " in line or ": Error " in line
            or line.startswith("{")]


def test_source_extractor_and_parser_plugins(plugin_dir, tmp_path):
    r = falco(tmp_path, counter_plugins(plugin_dir), COUNTER_RULES, "--disable-source", "syscall")
    assert r.returncode == 0, r.stderr
    alerts = alert_lines(r)
    assert [a.split(": Warning ", 1)[1] for a in alerts] == [
        f"seven-ish {n} (n{n}, even=false, thread 42 is made-by-plugin)" for n in SEVEN_ISH]
    # event time of counter n is 1000 + n ns after the epoch
    assert alerts[0].startswith("00:00:00.000001007: Warning ")


def test_json_alerts_carry_plugin_fields(plugin_dir, tmp_path):
    r = falco(tmp_path, counter_plugins(plugin_dir), COUNTER_RULES, "--disable-source", "syscall",
              "-o", "json_output=true")
    assert r.returncode == 0, r.stderr
    docs = [json.loads(line) for line in alert_lines(r)]
    assert [d["output_fields"]["counter.value"] for d in docs] == SEVEN_ISH
    assert [d["output_fields"]["counter.str"] for d in docs] == [f"n{n}" for n in SEVEN_ISH]
    assert {d["rule"] for d in docs} == {"Counter multiple of seven"} and {d["source"] for d in docs} == {"counter"}


def test_capture_of_plugin_events_replays_with_identical_alerts(plugin_dir, tmp_path):
    m = PluginManager()
    m.load(str(build_plugin("counter_source", plugin_dir)), {"max": 40})
    path = tmp_path / "counter.scap"
    with CaptureWriter(path, compress=False) as w:
        w.write_events(list(m.open_source("counter")))
    m.close()
    (tmp_path / "live").mkdir()
    live = falco(tmp_path / "live", counter_plugins(plugin_dir), COUNTER_RULES, "--disable-source", "syscall")
    replayed = falco(tmp_path, counter_plugins(plugin_dir), COUNTER_RULES, "-o", f"engine.replay.capture_file={path}",
                     kind="replay")
    assert replayed.returncode == 0, replayed.stderr
    assert alert_lines(replayed) == alert_lines(live) and len(alert_lines(live)) == len(SEVEN_ISH)
    # without the source plugin the capture's events belong to no loaded source, as Falco says
    only_syscall = falco(tmp_path, [], "- rule: r\n  desc: d\n  condition: evt.num > 0\n  output: o\n  priority: INFO\n",
                         "-o", f"engine.replay.capture_file={path}", kind="replay")
    assert only_syscall.returncode == 1
    assert "Error: Unknown event source for inspector's event (plugin ID: 999)" in only_syscall.stderr


def test_async_events_alert(plugin_dir, tmp_path):
    rules = ("- rule: Async sample\n  desc: async events of the test plugin\n"
             "  condition: evt.type = asyncevent and evt.arg.name = sample\n"
             "  output: got %evt.arg.data\n  priority: WARNING\n")
    plugins = [{"name": "asyncsample", "library_path": str(build_plugin("async_sample", plugin_dir)),
                "init_config": "3"}]
    r = falco(tmp_path, plugins, rules, "-M", "2")
    assert r.returncode == 0, r.stderr
    assert sorted(a.split(": Warning ", 1)[1] for a in alert_lines(r)) == [f"got sample {i}" for i in range(3)]


def test_python_example_plugin(tmp_path):
    rules = ("- rule: Divisible sample\n  desc: dummy samples that are multiples of 10\n"
             "  condition: dummy.divisible = true\n  output: sample %dummy.value of %dummy.n\n"
             "  priority: WARNING\n  source: dummy\n")
    plugins = [{"name": "dummy", "library_path": "libsinsp.plugin.examples.dummy",
                "init_config": {"count": 7, "jitter": 3}}]
    r = falco(tmp_path, plugins, rules, "--enable-source", "dummy")
    assert r.returncode == 0, r.stderr
    # value = n * 10 + n % 3: a multiple of 10 for n = 0, 3, 6
    assert [a.split(": Warning ", 1)[1] for a in alert_lines(r)] == ["sample 0 of 0", "sample 30 of 3",
                                                                     "sample 60 of 6"]


@pytest.mark.parametrize("plugin,defines,init,message", [
    ("bad_api", ("REQ_API=\"4.0.0\"",), None,
     "required API version '4.0.0' not compatible with the framework's API version '3.12.0': "
     "major versions disagree"),
    ("missing_symbols", (), None, "required symbol not implemented: 'plugin_get_last_error'"),
    ("counter_source", (), {"max": -1}, "plugin counter: init config: in max: -1 is less than the minimum of 0"),
    ("counter_source", (), {"maximum": 3}, "plugin counter: init config: in (root): Additional properties are "
                                           "not allowed ('maximum' was unexpected)"),
])
def test_bad_plugins_are_errors(plugin_dir, tmp_path, plugin, defines, init, message):
    lib = build_plugin(plugin, plugin_dir, *defines, name=f"{plugin}_cli")
    entry = {"name": plugin, "library_path": str(lib)}
    if init is not None:
        entry["init_config"] = init
    r = falco(tmp_path, [entry], "[]\n", "--dry-run")
    assert r.returncode == 1
    assert r.stderr.startswith("Error: ") and message in r.stderr and "Traceback" not in r.stderr


def test_required_plugin_version_not_met(plugin_dir, tmp_path):
    rules = COUNTER_RULES.replace("version: 1.0.0", "version: 1.3.0")
    r = falco(tmp_path, counter_plugins(plugin_dir), rules, "--dry-run")
    assert r.returncode == 1
    assert r.stderr.strip().endswith(
        "Error: Plugin 'counter' version '1.2.3' is not compatible with required plugin version '1.3.0'")
    rules = COUNTER_RULES.replace("name: counter", "name: k8saudit")
    r = falco(tmp_path, counter_plugins(plugin_dir), rules, "--dry-run")
    assert r.returncode == 1
    assert r.stderr.strip().endswith("Error: Plugin requirement not satisfied, must load one of: k8saudit (>= 1.0.0)")


def test_load_plugins_selection(plugin_dir, tmp_path):
    plugins = counter_plugins(plugin_dir)
    r = falco(tmp_path, plugins, "[]\n", "--list-plugins", load=[])
    assert r.returncode == 0 and r.stdout.startswith("0 Plugins Loaded:")
    r = falco(tmp_path, plugins, "[]\n", "--list-plugins", load=["counterx", "counter"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("2 Plugins Loaded:\n\nName: counterx\n")
    assert "Name: counter\nDescription: emits counter events\nContact: tests\nVersion: 1.2.3\nCapabilities: \n" \
           "  - Event Sourcing (ID=999, source='counter')\n" in r.stdout
    r = falco(tmp_path, plugins, "[]\n", "--list-plugins", load=["nope"])
    assert r.returncode == 1
    assert r.stderr.strip().endswith("Error: Cannot load plugin 'nope': plugin config not found for given name")


def test_extractor_without_its_source_is_unused(plugin_dir, tmp_path):
    r = falco(tmp_path, counter_plugins(plugin_dir)[1:2], "[]\n", "--dry-run")
    assert r.returncode == 1
    assert ("Error: Plugin 'counterx' is loaded but unused as not compatible with any known event source"
            in r.stderr)


def test_plugin_info_and_list_fields(plugin_dir, tmp_path):
    plugins = counter_plugins(plugin_dir)
    r = falco(tmp_path, plugins, "[]\n", "--plugin-info", "counter")
    assert r.returncode == 0, r.stderr
    assert "Init config schema type: JSON\n" in r.stdout and '"minimum": 0' in r.stdout
    assert "Suggested open params:\n: count up\ntimeout: one timeout first\n" in r.stdout
    r = falco(tmp_path, plugins, "[]\n", "--list=counter", "-N")
    assert r.returncode == 0, r.stderr
    names = r.stdout.split()
    assert {"counter.value", "counter.tag", "parse.nthreads", "evt.num", "evt.time"} <= set(names)
    assert "proc.name" not in names
    r = falco(tmp_path, plugins, "[]\n", "--list=nosuch")
    assert r.returncode == 1 and "Error: Value for --list must be a valid source type" in r.stderr
    r = falco(tmp_path, plugins, "[]\n", "--enable-source", "nosuch", "--dry-run")
    assert r.returncode == 1 and "Error: Attempted enabling an unknown event source: nosuch" in r.stderr


def test_relative_library_path_resolves_in_plugins_dir(plugin_dir, tmp_path):
    lib = build_plugin("counter_source", plugin_dir)
    plugins = [{"name": "counter", "library_path": lib.name}]
    r = falco(tmp_path, plugins, "[]\n", "--list-plugins", env={"FALCO_PY_PLUGINS_DIR": str(lib.parent)})
    assert r.returncode == 0 and "Name: counter\n" in r.stdout, r.stderr
    plugins = [{"name": "counter", "library_path": "../" + lib.name}]
    r = falco(tmp_path, plugins, "[]\n", "--list-plugins", env={"FALCO_PY_PLUGINS_DIR": str(lib.parent)})
    assert r.returncode == 1 and "resolves outside the plugins directory" in r.stderr


CONTAINER_REQ = ("- required_plugin_versions:\n    - name: container\n      version: {v}\n"
                 "- rule: r\n  desc: d\n  condition: evt.type = open and container.id = host\n  output: o\n"
                 "  priority: INFO\n")


@pytest.mark.parametrize("version,error", [
    ("0.4.0", ""),  # what the official rules require
    ("0.5.0", ""),
    ("0.6.0", "Error: Plugin 'container' version '0.5.0' is not compatible with required plugin version '0.6.0'"),
    ("1.0.0", "Error: Plugin 'container' version '0.5.0' is not compatible with required plugin version '1.0.0'"),
])
def test_builtin_container_meets_container_requirements(tmp_path, version, error):
    """No plugin configured: the built-in container fields stand for the container plugin
    at BUILTIN_PLUGIN_VERSIONS['container'], and the requirement is checked as upstream."""
    r = falco(tmp_path, [], CONTAINER_REQ.format(v=version), "--dry-run")
    if error:
        assert r.returncode == 1 and r.stderr.strip().endswith(error), r.stderr
    else:
        assert r.returncode == 0, r.stderr


def test_requirements_checked_without_any_plugin(tmp_path):
    rules = CONTAINER_REQ.replace("name: container", "name: k8saudit").format(v="0.1.0")
    r = falco(tmp_path, [], rules, "--dry-run")
    assert r.returncode == 1
    assert r.stderr.strip().endswith("Error: Plugin requirement not satisfied, must load one of: k8saudit (>= 0.1.0)")
    # an alternative naming the built-in container satisfies it
    rules = rules.replace("version: 0.1.0", "version: 0.1.0\n      alternatives:\n        - name: container\n"
                                            "          version: 0.2.0")
    r = falco(tmp_path, [], rules, "--dry-run")
    assert r.returncode == 0, r.stderr


def test_official_rules_load_without_plugins(tmp_path):
    official = Path(__file__).resolve().parents[2] / "shared" / "rules" / "falco_rules.yaml"
    if not official.exists():
        pytest.skip(f"official rules not found at {official}")
    r = falco(tmp_path, [], official.read_text(), "--dry-run")
    assert r.returncode == 0, r.stderr


def test_plugin_meta_fields_in_rules(plugin_dir, tmp_path):
    rules = ("- rule: Counter seven\n  desc: generic plugin fields on a plugin source\n"
             "  condition: evt.pluginname = counter and evt.plugininfo = \"counter=7\"\n"
             "  output: from %evt.pluginname (%evt.plugininfo) async=%evt.asynctype\n"
             "  priority: WARNING\n  source: counter\n"
             "- rule: Async sample\n  desc: async type\n  condition: evt.asynctype = sample\n"
             "  output: async %evt.asynctype plugin=%evt.pluginname\n  priority: WARNING\n")
    plugins = [*counter_plugins(plugin_dir, 10)[:1],
               {"name": "asyncsample", "library_path": str(build_plugin("async_sample", plugin_dir)),
                "init_config": "2"}]
    r = falco(tmp_path, plugins, rules, "-M", "2")
    assert r.returncode == 0, r.stderr
    assert sorted(a.split(": Warning ", 1)[1] for a in alert_lines(r)) == [
        "async sample plugin=<NA>", "async sample plugin=<NA>", "from counter (counter=7) async=<NA>"]


@pytest.mark.slow
@pytest.mark.skipif(_live_refused() is not None, reason=str(_live_refused()))
def test_async_events_in_the_live_syscall_stream(plugin_dir, tmp_path):
    """modern_ebpf: the async plugin's events are merged into the kernel's event stream
    (async_sample pushes "sample 0..N-1" once its handler is set)."""
    rules = ("- rule: Async sample\n  desc: async events of the test plugin\n"
             "  condition: evt.type = asyncevent and evt.arg.name = sample\n"
             "  output: got %evt.arg.data (%evt.asynctype, %evt.source)\n  priority: WARNING\n")
    plugins = [{"name": "asyncsample", "library_path": str(build_plugin("async_sample", plugin_dir)),
                "init_config": "3"}]
    r = falco(tmp_path, plugins, rules, "-M", "3", kind="modern_ebpf")
    assert r.returncode == 0, r.stderr
    assert sorted(a.split(": Warning ", 1)[1] for a in alert_lines(r)) == [
        f"got sample {i} (sample, syscall)" for i in range(3)]


def test_replay_starts_no_async_producer(plugin_dir, tmp_path):
    """As upstream: a replayed capture carries the async events it recorded; the async
    plugin's live producer is not started (async_sample would push 'sample i' events)."""
    path = Path(__file__).resolve().parents[2] / "shared" / "captures" / "cat_write.scap"
    if not path.exists():
        pytest.skip(f"capture not found: {path}")
    rules = ("- rule: Async sample\n  desc: d\n  condition: evt.type = asyncevent\n  output: got %evt.arg.data\n"
             "  priority: WARNING\n")
    plugins = [{"name": "asyncsample", "library_path": str(build_plugin("async_sample", plugin_dir)),
                "init_config": "3"}]
    r = falco(tmp_path, plugins, rules, "-o", f"engine.replay.capture_file={path}", kind="replay")
    assert r.returncode == 0, r.stderr
    assert alert_lines(r) == []


def _openat_events(names: list[str]) -> bytes:
    """openat exits (fd 3+i, dirfd AT_FDCWD, name, flags O_RDONLY...) of thread 4242."""
    import struct

    from libscap.event import Event
    from libscap.schema import PPME

    raw = b""
    for i, name in enumerate(names):
        params = [struct.pack("<q", 3 + i), struct.pack("<q", -100), name.encode() + b"\0", struct.pack("<I", 1),
                  struct.pack("<I", 0), struct.pack("<I", 0), struct.pack("<Q", 0)]
        raw += Event.build(5000 + i, 4242, PPME.SYSCALL_OPENAT_2_X, params).raw
    return raw


def test_id0_source_plugin_is_the_syscall_source(plugin_dir, tmp_path):
    """A source plugin with id 0 produces raw libscap events: with the nodriver engine
    Falco opens it as the syscall source (upstream's open_live_inspector), and syscall
    rules see its events with state parsed (fd.name from the openat)."""
    events = tmp_path / "events.bin"
    events.write_bytes(_openat_events(["/tmp/raw-a", "/etc/skipped", "/tmp/raw-b"]))
    rules = ("- rule: Raw open\n  desc: opens from the raw source plugin\n"
             "  condition: evt.type = openat and fd.name startswith /tmp/raw-\n"
             "  output: open %fd.name fd=%fd.num tid=%thread.tid src=%evt.source\n  priority: WARNING\n")
    plugins = [{"name": "rawsource", "library_path": str(build_plugin("raw_source", plugin_dir)),
                "open_params": str(events)}]
    r = falco(tmp_path, plugins, rules)
    assert r.returncode == 0, r.stderr
    assert [a.split(": Warning ", 1)[1] for a in alert_lines(r)] == [
        "open /tmp/raw-a fd=3 tid=4242 src=syscall", "open /tmp/raw-b fd=5 tid=4242 src=syscall"]
    r = falco(tmp_path, plugins, "[]\n", "--list-plugins")
    assert "Name: rawsource\n" in r.stdout and "  - Event Sourcing (system events)\n" in r.stdout
    # no source of its own: --enable-source does not know one, and it is used (syscall)
    r = falco(tmp_path, [{**plugins[0], "open_params": str(tmp_path / "missing.bin")}], rules)
    assert r.returncode == 1 and "cannot read" in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("mode", ["replay", "nodriver"])
def test_capture_listening_plugin(plugin_dir, tmp_path, mode):
    """listener.c is told of the capture's open before the first event (listener.opens
    is 1 in every alert) and of its close at the end (it writes its counters then)."""
    closed = tmp_path / "closed.txt"
    rules = ("- rule: Listened\n  desc: d\n  condition: listener.opens = 1 and evt.num = 1\n"
             "  output: opens=%listener.opens closes=%listener.closes\n  priority: WARNING\n")
    plugins = [{"name": "listener", "library_path": str(build_plugin("listener", plugin_dir)),
                "init_config": str(closed)}]
    if mode == "replay":
        cap = Path(__file__).resolve().parents[2] / "shared" / "captures" / "cat_write.scap"
        if not cap.exists():
            pytest.skip(f"capture not found: {cap}")
        r = falco(tmp_path, plugins, rules, "-o", f"engine.replay.capture_file={cap}", kind="replay")
        assert [a.split(": Warning ", 1)[1] for a in alert_lines(r)] == ["opens=1 closes=0"]
    else:
        r = falco(tmp_path, plugins, rules, "-M", "1")
    assert r.returncode == 0, r.stderr
    assert closed.read_text().startswith("opens=1 closes=1 finite=") and closed.read_text().endswith(
        " unsubscribed=0\n")


def test_capture_open_refusal_fails_the_run(plugin_dir, tmp_path):
    cap = Path(__file__).resolve().parents[2] / "shared" / "captures" / "cat_write.scap"
    if not cap.exists():
        pytest.skip(f"capture not found: {cap}")
    plugins = [{"name": "listener", "library_path": str(build_plugin("listener", plugin_dir, "LISTENER_FAIL_OPEN",
                                                                     name="listener_fail"))}]
    r = falco(tmp_path, plugins, "[]\n", "-o", f"engine.replay.capture_file={cap}", kind="replay")
    assert r.returncode == 1
    assert "Error: plugin listener: capture_open error: refused to open" in r.stderr and "Traceback" not in r.stderr
