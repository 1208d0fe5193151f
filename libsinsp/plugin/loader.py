"""Loading a C plugin: dlopen, API version and symbol checks, capabilities, info, init.

Follows upstream's order and rules (plugin_loader.c / sinsp_plugin): the
required API version is checked first (major equal to ours, minor not newer,
patch not newer at the same minor), then the symbols every plugin must export,
then the capabilities are derived from which optional symbols exist (a half
implemented capability is an error), then name/version/fields/sources are read.
``init`` validates the config against ``plugin_get_init_schema`` (JSON Schema,
an empty config meaning ``{}``) before calling ``plugin_init``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jsonschema

from libsinsp.plugin import owner as _owner
from libsinsp.plugin.async_events import CAsync
from libsinsp.plugin.cdefs import ffi
from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.extract import CExtractor, Request, parse_fields
from libsinsp.plugin.info import (
    API_VERSION, SYSCALL_SOURCE, Capabilities, PluginFieldInfo, PluginInfo, parse_semver,
)
from libsinsp.plugin.parse import CParser, event_codes
from libsinsp.plugin.source import CSourceInstance, event_to_string, list_open_params
from libsinsp.plugin.tables import TableRegistry

REQUIRED_SYMBOLS = ("get_required_api_version", "get_version", "get_name", "get_description",
                    "get_contact", "init", "destroy", "get_last_error")
SCHEMA_NONE, SCHEMA_JSON = 0, 1


def _cstr(p: Any) -> str:
    return "" if p == ffi.NULL else ffi.string(p).decode("utf-8", "surrogateescape")


def check_api_version(plugin: str, required: str) -> None:
    """Raise unless a plugin requiring API ``required`` can run on ours."""
    ver = parse_semver(required)
    if ver is None:
        raise PluginError(plugin, f"plugin_get_required_api_version returned an invalid version: {required!r}")
    major, minor, patch = ver
    ours = "%d.%d.%d" % API_VERSION
    if major != API_VERSION[0]:
        why = "major versions disagree"
    elif minor > API_VERSION[1]:
        why = "framework's minor is less than the requested one"
    elif minor == API_VERSION[1] and patch > API_VERSION[2]:
        why = "framework's patch is less than the requested one"
    else:
        return
    raise PluginError(plugin, f"required API version '{required}' not compatible with the framework's "
                              f"API version '{ours}': {why}")


def _json_strlist(plugin: str, symbol: str, text: str | None, allow_empty: bool = True) -> frozenset[str]:
    if not text:
        if allow_empty:
            return frozenset()
        raise PluginError(plugin, f"plugin_{symbol} did not return a JSON array")
    try:
        root = json.loads(text)
    except ValueError:
        root = None
    if not isinstance(root, list) or not all(isinstance(s, str) for s in root):
        raise PluginError(plugin, f"plugin_{symbol} did not return a JSON array of strings")
    return frozenset(s for s in root if s)


#: cffi keeps every library ffi.dlopen returns alive for good (FFI._libraries) and never
#: dlcloses it: one library object per file, or each reload leaks its accessors (~11 kB).
_LIBRARIES: dict[str, Any] = {}


def _dlopen(path: str) -> Any:
    key = os.path.realpath(path)
    lib = _LIBRARIES.get(key)
    if lib is None:
        lib = _LIBRARIES[key] = ffi.dlopen(path)
    return lib


class CPlugin:
    """A C plugin library loaded and checked (``info``); ``init`` makes it usable."""

    def __init__(self, path: str | os.PathLike[str], tables: TableRegistry | None = None) -> None:
        self.path = os.fspath(path)
        self.name = self.path  # until get_name is read
        try:
            self.lib = _dlopen(self.path)
        except OSError as exc:
            raise PluginError(self.path, f"cannot load library: {exc}") from None
        self.state: Any = ffi.NULL
        self.info = self._read_info()
        self.name = self.info.name
        self.owner = _owner.Owner(self.name, tables if tables is not None else TableRegistry())

    def sym(self, name: str) -> Any:
        """The exported function ``plugin_<name>``, or None."""
        try:
            return getattr(self.lib, "plugin_" + name)
        except AttributeError:
            return None

    def _str_of(self, symbol: str) -> str:
        return _cstr(self.sym(symbol)())

    def _read_info(self) -> PluginInfo:
        get_api = self.sym("get_required_api_version")
        if get_api is None:
            raise PluginError(self.path, "required symbol not implemented: 'plugin_get_required_api_version'")
        required_api = _cstr(get_api())
        check_api_version(self.path, required_api)
        for s in REQUIRED_SYMBOLS:
            if self.sym(s) is None:
                raise PluginError(self.path, f"required symbol not implemented: 'plugin_{s}'")
        name = self._str_of("get_name")
        version = self._str_of("get_version")
        if parse_semver(version) is None:
            raise PluginError(name, f"plugin_get_version returned an invalid version string: {version!r}")
        info = PluginInfo(name=name, version=version, description=self._str_of("get_description"),
                          contact=self._str_of("get_contact"), required_api_version=required_api,
                          caps=self._capabilities(name))
        if info.caps & Capabilities.SOURCING and self.sym("get_id") is not None and self.sym("get_id")() != 0:
            info.id = int(self.sym("get_id")())
            info.event_source = self._str_of("get_event_source")
            if info.event_source == SYSCALL_SOURCE:
                raise PluginError(name, f"plugin can't implement the reserved event source '{SYSCALL_SOURCE}'")
        own = frozenset({info.event_source}) if info.event_source else frozenset()

        def sources(symbol: str) -> frozenset[str]:
            fn = self.sym(symbol)
            listed = _json_strlist(name, symbol, _cstr(fn()) if fn is not None else None)
            return listed | own if listed or own else frozenset()

        if info.caps & Capabilities.EXTRACTION:
            info.fields = parse_fields(name, _cstr(self.sym("get_fields")()) or None)
            info.extract_sources = sources("get_extract_event_sources")
        if info.caps & Capabilities.PARSING:
            info.parse_sources = sources("get_parse_event_sources")
        if info.caps & Capabilities.ASYNC:
            info.async_sources = sources("get_async_event_sources")
            info.async_events = _json_strlist(name, "get_async_events", self._str_of("get_async_events"), False)
        return info

    def _capabilities(self, name: str) -> Capabilities:
        has = {s: self.sym(s) is not None for s in (
            "open", "close", "next_batch", "get_id", "get_event_source", "get_fields", "extract_fields",
            "parse_event", "get_async_events", "set_async_event_handler", "capture_open", "capture_close")}
        caps, broken = Capabilities.NONE, []
        if has["open"] and has["close"] and has["next_batch"]:
            has_id = has["get_id"] and self.sym("get_id")() != 0
            has_src = has["get_event_source"] and bool(self._str_of("get_event_source"))
            if has_id == has_src:
                caps |= Capabilities.SOURCING
            else:
                broken.append("must implement both 'plugin_get_id' and 'plugin_get_event_source' or neither")
        elif has["open"] or has["close"] or has["next_batch"]:
            broken.append("must implement all of 'plugin_open', 'plugin_close' and 'plugin_next_batch'")
        if has["get_fields"] and has["extract_fields"]:
            caps |= Capabilities.EXTRACTION
        elif has["extract_fields"]:
            broken.append("must implement both 'plugin_get_fields' and 'plugin_extract_fields'")
        if has["parse_event"]:
            caps |= Capabilities.PARSING
        if has["get_async_events"] and has["set_async_event_handler"]:
            caps |= Capabilities.ASYNC
        elif has["set_async_event_handler"]:
            broken.append("must implement both 'plugin_get_async_events' and 'plugin_set_async_event_handler'")
        if has["capture_open"] and has["capture_close"]:
            caps |= Capabilities.CAPTURE_LISTENING
        elif has["capture_open"]:
            broken.append("must implement both 'plugin_capture_open' and 'plugin_capture_close'")
        if broken:
            raise PluginError(name, "broken plugin capabilities: " + ", ".join(broken))
        if caps == Capabilities.NONE:
            raise PluginError(name, "plugin does not implement any capability")
        return caps

    # -- init -----------------------------------------------------------------------

    def init_schema(self) -> dict | None:
        """The JSON Schema of the init config, or None when the plugin declares none."""
        fn = self.sym("get_init_schema")
        if fn is None:
            return None
        stype = ffi.new("ss_plugin_schema_type*", SCHEMA_NONE)
        text = _cstr(fn(stype))
        if not text or stype[0] == SCHEMA_NONE:
            return None
        if stype[0] != SCHEMA_JSON:
            raise PluginError(self.name, f"plugin_get_init_schema returned an unknown schema type {stype[0]}")
        try:
            schema = json.loads(text)
        except ValueError:
            schema = None
        if not isinstance(schema, dict):
            raise PluginError(self.name, "plugin_get_init_schema did not return a JSON object")
        return schema

    def validate_config(self, config: str) -> str:
        """``config`` checked against the init schema (empty -> "{}" when there is one)."""
        schema = self.init_schema()
        if schema is None:
            return config
        config = config or "{}"
        try:
            value = json.loads(config)
        except ValueError as exc:
            raise PluginError(self.name, f"init config is not valid JSON: {exc}") from None
        try:
            jsonschema.validate(value, schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise PluginError(self.name, f"init config: in {where}: {exc.message}") from None
        except jsonschema.SchemaError as exc:
            raise PluginError(self.name, f"plugin_get_init_schema returned an invalid schema: {exc.message}") from None
        return config

    def init(self, config: str = "") -> None:
        """Validate ``config`` and call plugin_init (PluginError with the plugin's own error text)."""
        config = self.validate_config(config)
        inp = ffi.new("ss_plugin_init_input*")
        cfg = ffi.new("char[]", config.encode())
        inp.config = cfg
        inp.owner = self.owner.handle
        inp.get_owner_last_error = _owner.get_owner_last_error
        inp.log_fn = _owner.log_fn
        tin = ffi.NULL
        if self.info.caps & (Capabilities.PARSING | Capabilities.EXTRACTION):
            tin = ffi.new("ss_plugin_init_tables_input*")
            self.owner.fill_init_tables(tin)
        inp.tables = tin
        rc = ffi.new("ss_plugin_rc*", 1)
        state = self.lib.plugin_init(inp, rc)
        self.state = state
        if rc[0] != 0:
            raise PluginError(self.name, f"could not initialize plugin: {self.last_error()}")

    def last_error(self) -> str:
        if self.state == ffi.NULL:
            return "(no plugin state)"
        return _cstr(self.lib.plugin_get_last_error(self.state))

    def destroy(self) -> None:
        if self.owner.routines is not None:  # capture listening routines still running
            self.owner.routines.stop_all()
        if self.state != ffi.NULL:
            self.lib.plugin_destroy(self.state)
            self.state = ffi.NULL

    # -- capabilities, in the interface the manager uses for C and Python plugins -------

    def open(self, params: str = "") -> "CSourceInstance":
        return CSourceInstance(self, params)

    def extractor(self, requests: list[tuple[PluginFieldInfo, str | None]]) -> CExtractor:
        return CExtractor(self, [Request(self.name, f, arg) for f, arg in requests])

    def extract_codes(self) -> frozenset[int] | None:
        return event_codes(self, "get_extract_event_types", self.info.extract_sources)

    def parser(self) -> CParser | None:
        return CParser(self) if self.info.caps & Capabilities.PARSING else None

    def async_stream(self, source_id: int = 0) -> CAsync:
        return CAsync(self, source_id)

    def event_to_string(self, evt: Any, num: int = 0, source: str = "") -> str:
        return event_to_string(self, evt, num, source)

    def list_open_params(self) -> list[dict]:
        return list_open_params(self)
