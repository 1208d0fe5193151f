"""Writing plugins in Python (beyond upstream): a base class and its adapter.

A Python plugin is a subclass of ``PythonPlugin`` declaring ``name``,
``version``, and, for each capability it has:

* event sourcing: a nonzero ``id``, an ``event_source`` and ``open(params)``
  returning an object with ``next_batch()`` (a list of payloads: ``bytes`` as
  they are, any other value packed with msgpack; ``[]`` means "nothing now";
  raise ``EndOfStream`` at the end), and optionally ``progress()`` and ``close()``;
* field extraction: ``fields`` (a list of ``Field``) and
  ``extract(event, field, arg)`` returning the value or None;
* event parsing: ``parse_event(event)``.

``event`` is a ``PluginEvent`` (``payload`` bytes, ``data`` the msgpack
decoded payload, ``ts``, ``num``, ``source``, ``raw`` the libscap Event).
The plugin is loaded by ``PluginManager.load`` when ``library_path`` names a
Python module (``package.module``, or a ``.py`` file), whose ``plugin``
attribute, or only ``PythonPlugin`` subclass, is the plugin class; its events
are ordinary PPME_PLUGINEVENT_E events, written to and replayed from captures
like those of C plugins. See ``libsinsp.plugin.examples.dummy``.
"""

from __future__ import annotations

import importlib
import importlib.util
import ipaddress
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import msgpack

from libscap.event import Event
from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.extract import parse_fields, split_arg
from libsinsp.plugin.info import API_VERSION, Capabilities, PluginFieldInfo, PluginInfo, parse_semver
from libsinsp.plugin.source import PPME_PLUGINEVENT_E, event_payload, plugin_event


class EndOfStream(Exception):
    """Raised by an instance's ``next_batch`` when the source has no more events."""


@dataclass(frozen=True)
class Field:
    """A field a Python plugin extracts. ``type`` is one of the plugin API's types
    (string, uint64, bool, reltime, abstime, ipaddr, ipnet); ``arg`` is None,
    "index" or "key"."""

    name: str
    type: str
    desc: str
    is_list: bool = False
    arg: str | None = None
    arg_required: bool = False
    display: str = ""
    add_output: bool = False

    def as_json(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "type": self.type, "desc": self.desc, "isList": self.is_list,
                             "display": self.display, "addOutput": self.add_output}
        if self.arg is not None:
            d["arg"] = {"isRequired": self.arg_required, "isIndex": self.arg == "index", "isKey": self.arg == "key"}
        return d


class PluginEvent:
    """What a Python plugin's extract/parse_event/event_to_string receive."""

    __slots__ = ("raw", "num", "source", "_data")

    def __init__(self, raw: Event, num: int, source: str) -> None:
        self.raw, self.num, self.source, self._data = raw, num, source, None

    @property
    def ts(self) -> int:
        return self.raw.ts

    @property
    def payload(self) -> bytes:
        return event_payload(self.raw) if self.raw.type == PPME_PLUGINEVENT_E else b""

    @property
    def data(self) -> Any:
        """The payload decoded with msgpack (the form non-bytes payloads are stored in)."""
        if self._data is None:
            self._data = msgpack.unpackb(self.payload, raw=False)
        return self._data


class PythonPlugin:
    """Base class of Python plugins (see the module docstring)."""

    name: str = ""
    version: str = "0.0.0"
    description: str = ""
    contact: str = ""
    required_api_version: str = "%d.%d.0" % API_VERSION[:2]
    id: int = 0
    event_source: str = ""
    fields: Sequence[Field] = ()
    extract_event_sources: Sequence[str] = ()
    parse_event_sources: Sequence[str] = ()
    init_schema: dict | None = None

    def init(self, config: str) -> None:
        """Called once with the init config (validated against ``init_schema``)."""

    def destroy(self) -> None:
        """Called when the plugin is unloaded."""

    def event_to_string(self, event: PluginEvent) -> str:
        return ""

    def list_open_params(self) -> list[dict]:
        return []


def _convert(ftype: str, value: Any) -> Any:
    if ftype in ("ipaddr", "ipnet") and not isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return ipaddress.ip_address(value)
    if ftype == "string":
        return str(value)
    if ftype == "bool":
        return bool(value)
    return int(value)


class _PyInstance:
    def __init__(self, adapter: "PyPlugin", inner: Any) -> None:
        self.adapter, self.inner, self._num = adapter, inner, 0

    def next_batch(self) -> list[Event] | None:
        a = self.adapter
        try:
            batch = self.inner.next_batch()
        except EndOfStream:
            return None
        except Exception as exc:  # noqa: BLE001 - a plugin bug is a plugin error
            raise PluginError(a.name, f"next_batch failed: {type(exc).__name__}: {exc}") from exc
        out = []
        for item in batch:
            payload = item if isinstance(item, bytes) else msgpack.packb(item, use_bin_type=True)
            self._num += 1
            out.append(plugin_event(a.info.id, payload, time.time_ns(), num=self._num))
        return out

    def progress(self) -> tuple[float, str]:
        fn = getattr(self.inner, "progress", None)
        return fn() if fn is not None else (0.0, "")

    def close(self) -> None:
        fn = getattr(self.inner, "close", None)
        if fn is not None:
            fn()


class _PyExtractor:
    def __init__(self, adapter: "PyPlugin", requests: list[tuple[PluginFieldInfo, str | None]]) -> None:
        self.adapter = adapter
        self.calls = []
        self.values: list[Any] = []
        self.readers = [(lambda i: lambda: self.values[i])(i) for i in range(len(requests))]
        for f, arg in requests:
            index, key, present = split_arg(adapter.name, f, arg)
            self.calls.append((f, key if key is not None else (index if present else None),
                               adapter.field_types[f.name]))

    def extract(self, evt: Event, num: int, source: str) -> list[Any]:
        a = self.adapter
        view = PluginEvent(evt, num, source)
        out = []
        for f, arg, ftype in self.calls:
            try:
                v = a.impl.extract(view, f.name, arg)
                if v is not None:
                    v = tuple(_convert(ftype, x) for x in v) if f.is_list else _convert(ftype, v)
            except Exception as exc:  # noqa: BLE001
                raise PluginError(a.name, f"extract of {f.name} failed: {type(exc).__name__}: {exc}") from exc
            out.append(v)
        return out

    def call(self, evt: Event, num: int, source: str) -> None:
        """``extract`` keeping the values for ``readers`` (the CExtractor interface)."""
        self.values = self.extract(evt, num, source)


class _PyParser:
    def __init__(self, adapter: "PyPlugin") -> None:
        self.adapter = adapter
        self.sources = adapter.info.parse_sources

    def wants(self, etype: int, source: str) -> bool:
        return not self.sources or source in self.sources

    def parse(self, evt: Event, num: int, source: str) -> None:
        if self.wants(evt.type, source):
            self.adapter.impl.parse_event(PluginEvent(evt, num, source))


class PyPlugin:
    """A ``PythonPlugin`` presented with the same interface as a C plugin (loader.CPlugin)."""

    def __init__(self, cls: type[PythonPlugin], origin: str) -> None:
        self.path = origin
        self.impl = cls()
        self.name = cls.name or cls.__name__
        if parse_semver(cls.version) is None:
            raise PluginError(self.name, f"invalid version string: {cls.version!r}")
        caps = Capabilities.NONE
        if callable(getattr(cls, "open", None)):
            caps |= Capabilities.SOURCING
            if not cls.id or not cls.event_source:
                raise PluginError(self.name, "a source plugin needs both a nonzero id and an event_source")
        if cls.fields:
            caps |= Capabilities.EXTRACTION
            if not callable(getattr(cls, "extract", None)):
                raise PluginError(self.name, "declares fields but has no extract method")
        if callable(getattr(cls, "parse_event", None)):
            caps |= Capabilities.PARSING
        if caps == Capabilities.NONE:
            raise PluginError(self.name, "plugin does not implement any capability")
        own = frozenset({cls.event_source}) if cls.event_source else frozenset()
        self.info = PluginInfo(name=self.name, version=cls.version, description=cls.description,
                               contact=cls.contact, required_api_version=cls.required_api_version, caps=caps,
                               id=cls.id, event_source=cls.event_source)
        if caps & Capabilities.EXTRACTION:
            self.info.fields = parse_fields(self.name, json.dumps([f.as_json() for f in cls.fields]))
            self.info.extract_sources = frozenset(cls.extract_event_sources) | own
        if caps & Capabilities.PARSING:
            self.info.parse_sources = frozenset(cls.parse_event_sources) | own
        self.field_types = {f.name: f.type for f in cls.fields}

    def init_schema(self) -> dict | None:
        return self.impl.init_schema

    def init(self, config: str = "") -> None:
        schema = self.impl.init_schema
        if schema is not None:
            config = config or "{}"
            try:
                jsonschema.validate(json.loads(config), schema)
            except ValueError as exc:
                raise PluginError(self.name, f"init config is not valid JSON: {exc}") from None
            except jsonschema.ValidationError as exc:
                where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
                raise PluginError(self.name, f"init config: in {where}: {exc.message}") from None
        try:
            self.impl.init(config)
        except Exception as exc:  # noqa: BLE001
            raise PluginError(self.name, f"could not initialize plugin: {type(exc).__name__}: {exc}") from exc

    def destroy(self) -> None:
        self.impl.destroy()

    def open(self, params: str = "") -> _PyInstance:
        try:
            inner = self.impl.open(params)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001
            raise PluginError(self.name, f"could not open with params {params!r}: {exc}") from exc
        return _PyInstance(self, inner)

    def extractor(self, requests: list[tuple[PluginFieldInfo, str | None]]) -> _PyExtractor:
        return _PyExtractor(self, requests)

    def extract_codes(self) -> frozenset[int] | None:
        return frozenset({PPME_PLUGINEVENT_E}) if self.info.extract_sources else None

    def parser(self) -> _PyParser | None:
        return _PyParser(self) if self.info.caps & Capabilities.PARSING else None

    def event_to_string(self, evt: Event, num: int = 0, source: str = "") -> str:
        return self.impl.event_to_string(PluginEvent(evt, num, source or self.info.event_source))

    def list_open_params(self) -> list[dict]:
        return self.impl.list_open_params()


def is_python_plugin(library_path: str) -> bool:
    """Whether ``library_path`` names a Python plugin (a .py file or an importable module)."""
    if library_path.endswith(".py"):
        return True
    if "/" in library_path or library_path.endswith(".so") or ".so." in library_path:
        return False
    try:
        return importlib.util.find_spec(library_path) is not None
    except (ImportError, ValueError):
        return False


def load_python_plugin(library_path: str) -> PyPlugin:
    """Import the module ``library_path`` names and wrap its plugin class."""
    try:
        if library_path.endswith(".py"):
            path = Path(library_path)
            spec = importlib.util.spec_from_file_location(f"_falco_plugin_{path.stem}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(library_path)
    except Exception as exc:  # noqa: BLE001 - any import failure is a load error
        raise PluginError(library_path, f"cannot import Python plugin: {type(exc).__name__}: {exc}") from None
    cls = getattr(module, "plugin", None)
    if cls is None:
        found = [v for v in vars(module).values()
                 if isinstance(v, type) and issubclass(v, PythonPlugin) and v is not PythonPlugin
                 and v.__module__ == module.__name__]
        if len(found) != 1:
            raise PluginError(library_path, f"expected one PythonPlugin subclass (or a `plugin` attribute), "
                                            f"found {len(found)}")
        cls = found[0]
    if not (isinstance(cls, type) and issubclass(cls, PythonPlugin)):
        raise PluginError(library_path, "`plugin` is not a PythonPlugin subclass")
    return PyPlugin(cls, library_path)
