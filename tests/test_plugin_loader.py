"""Loading C plugins: version checks, required symbols, capabilities, info, init config."""

from __future__ import annotations

import pytest

from plugins.build import build_plugin, plugin_dir  # noqa: F401 - fixture

from libsinsp.filter.fields import ArgRule, FieldType
from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.info import Capabilities
from libsinsp.plugin.loader import CPlugin, check_api_version


def test_source_plugin_info(plugin_dir):
    p = CPlugin(build_plugin("counter_source", plugin_dir))
    i = p.info
    assert (i.name, i.version, i.description, i.contact) == ("counter", "1.2.3", "emits counter events", "tests")
    assert (i.id, i.event_source, i.required_api_version) == (999, "counter", "3.0.0")
    assert i.caps == Capabilities.SOURCING


def test_extractor_fields(plugin_dir):
    p = CPlugin(build_plugin("counter_extract", plugin_dir))
    assert p.info.caps == Capabilities.EXTRACTION
    assert p.info.extract_sources == {"counter"}
    by_name = {f.name: f for f in p.info.fields}
    assert [f.name for f in p.info.fields][:3] == ["counter.value", "counter.str", "counter.even"]
    assert {n: f.type for n, f in by_name.items()} == {
        "counter.value": FieldType.UINT64, "counter.str": FieldType.STRING, "counter.even": FieldType.BOOL,
        "counter.rel": FieldType.RELTIME, "counter.abs": FieldType.ABSTIME, "counter.ip": FieldType.IPADDR,
        "counter.net": FieldType.IPNET, "counter.digits": FieldType.STRING, "counter.bit": FieldType.UINT64,
        "counter.tag": FieldType.STRING}
    assert by_name["counter.value"].display == "Value"
    assert by_name["counter.str"].add_output and not by_name["counter.value"].add_output
    assert by_name["counter.digits"].is_list and not by_name["counter.str"].is_list
    assert by_name["counter.bit"].arg == ArgRule.REQUIRED_INDEX
    assert by_name["counter.tag"].arg == ArgRule.REQUIRED_KEY
    assert by_name["counter.tag"].index == 9


@pytest.mark.parametrize("required,ok", [
    ("3.0.0", True), ("3.12.0", True), ("3.12.1", False), ("3.13.0", False), ("4.0.0", False), ("2.0.0", False),
])
def test_api_version_rule(required, ok):
    if ok:
        check_api_version("p", required)
    else:
        with pytest.raises(PluginError, match=f"required API version '{required}' not compatible"):
            check_api_version("p", required)


@pytest.mark.parametrize("req,why", [("4.0.0", "major versions disagree"),
                                     ("3.13.0", "framework's minor is less than the requested one"),
                                     ("three", "invalid version")])
def test_incompatible_api_plugin(plugin_dir, req, why):
    so = build_plugin("bad_api", plugin_dir, f'REQ_API="{req}"', name=f"bad_api_{req}")
    with pytest.raises(PluginError, match=why) as exc:
        CPlugin(so)
    assert str(so) in str(exc.value)


def test_missing_required_symbol(plugin_dir):
    so = build_plugin("missing_symbols", plugin_dir)
    with pytest.raises(PluginError, match="required symbol not implemented: 'plugin_get_last_error'"):
        CPlugin(so)


def test_no_capability(plugin_dir):
    so = build_plugin("missing_symbols", plugin_dir, "HAVE_LAST_ERROR", name="nocaps")
    with pytest.raises(PluginError, match="plugin missing: plugin does not implement any capability"):
        CPlugin(so)


def test_half_implemented_capability(plugin_dir):
    so = build_plugin("missing_symbols", plugin_dir, "HAVE_LAST_ERROR", "HALF_SOURCE", name="halfsrc")
    with pytest.raises(PluginError, match="broken plugin capabilities: must implement all of 'plugin_open'"):
        CPlugin(so)


def test_not_a_library(tmp_path):
    bad = tmp_path / "libnot.so"
    bad.write_text("not an ELF")
    with pytest.raises(PluginError, match="cannot load library"):
        CPlugin(bad)


def test_init_config_valid_and_defaulted(plugin_dir):
    p = CPlugin(build_plugin("counter_source", plugin_dir))
    assert p.validate_config("") == "{}"
    p.init('{"max": 3}')
    p.destroy()


@pytest.mark.parametrize("config,where", [
    ('{"max": "ten"}', "in max: 'ten' is not of type 'integer'"),
    ('{"max": -1}', "in max: -1 is less than the minimum of 0"),
    ('{"other": 1}', "Additional properties are not allowed"),
    ("{not json", "init config is not valid JSON"),
])
def test_init_config_invalid_per_schema(plugin_dir, config, where):
    p = CPlugin(build_plugin("counter_source", plugin_dir))
    with pytest.raises(PluginError, match="plugin counter: .*" + where.replace("(", r"\(")):
        p.init(config)
