"""Plugins in the falco CLI, as upstream's load_plugins, init_inspectors,
list_plugins and print_plugin_info actions do it.

- ``plugin_configs``: the ``plugins:`` entries selected by ``load_plugins``
  (key absent: every entry; present, even empty: only the named ones, in that
  order). A relative ``library_path`` is resolved against the plugins directory
  (``FALCO_PY_PLUGINS_DIR``, default ``/usr/share/falco/plugins``) and must stay
  inside it; a Python plugin's module name is kept as is.
- ``Plugins``: every configured plugin loaded and initialized, per event source,
  into that source's Inspector (replay: one Inspector for every source), the
  loaded sources (``syscall`` first, then each source plugin's), a field registry
  per source for the rules engine, Falco's plugin requirement check, and the
  live event stream of a source (a source plugin's batches or, for ``syscall``
  with ``engine.kind=nodriver``, nothing) with async events injected; for
  ``syscall`` with ``modern_ebpf``, ``start_async`` gives the Inspector's live
  capture the async events to inject between kernel batches. A replay starts no
  async producer (as upstream: the capture holds the async events it recorded).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from libscap.event import Event
from libsinsp.inspector import Inspector
from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.info import SYSCALL_SOURCE, Capabilities, PluginInfo
from libsinsp.plugin.manager import BUILTIN_PLUGIN_VERSIONS, PluginManager, open_library, requirement_errors
from libsinsp.plugin.python_api import is_python_plugin
from libsinsp.plugin.source import PPME_ASYNCEVENT_E, PPME_PLUGINEVENT_E, plugin_id_of

from .configuration import Config

PLUGINS_DIR_VAR = "FALCO_PY_PLUGINS_DIR"
DEFAULT_PLUGINS_DIR = "/usr/share/falco/plugins"
#: the event fields upstream gives plugin sources (its generic filtercheck), those libsinsp has
PLUGIN_SOURCE_EVT_FIELDS = frozenset((
    "evt.num evt.time evt.time.s evt.time.iso8601 evt.datetime evt.datetime.s evt.rawtime evt.rawtime.s "
    "evt.rawtime.ns evt.reltime evt.reltime.s evt.reltime.ns evt.pluginname evt.plugininfo evt.source evt.is_async "
    "evt.asynctype evt.hostname").split())
POLL_INTERVAL_S = 0.01


class PluginSetupError(Exception):
    """A plugin cannot be configured, loaded or used; printed as ``Error: ...``."""


@dataclass(frozen=True)
class PluginConfig:
    """One ``plugins:`` entry."""

    name: str
    library_path: str
    init_config: str = ""
    open_params: str = ""


def plugins_dir() -> str:
    return os.environ.get(PLUGINS_DIR_VAR) or DEFAULT_PLUGINS_DIR


def resolve_library_path(path: str, config_file: str) -> str:
    """Absolute paths as is; Python module names as is; others under the plugins dir."""
    if not path or os.path.isabs(path) or (not path.endswith(".py") and is_python_plugin(path)):
        return path
    base = os.path.normpath(plugins_dir())
    full = os.path.normpath(os.path.join(base, path))
    if os.path.relpath(full, base).split(os.sep)[0] == "..":
        raise PluginSetupError(f"Error reading config file({config_file}): could not load plugins config: "
                               f"plugin library_path '{path}' resolves outside the plugins directory ({base})")
    return full


def plugin_configs(config: Config) -> list[PluginConfig]:
    """The plugins to load, in load order (see the module docstring)."""
    main = config.loaded_files[0] if config.loaded_files else ""
    entries = []
    for e in config.get("plugins", []) or []:
        init = e.get("init_config")
        init = "" if init is None else json.dumps(init) if isinstance(init, (dict, list)) else str(init)
        params = e.get("open_params")
        entries.append(PluginConfig(str(e["name"]), resolve_library_path(str(e["library_path"]), main), init,
                                    "" if params is None else str(params).strip()))
    if "load_plugins" not in config.data:
        return entries
    selected = []
    for name in config.data.get("load_plugins") or []:
        found = next((p for p in entries if p.name == name), None)
        if found is None:
            raise PluginSetupError(f"Cannot load plugin '{name}': plugin config not found for given name")
        selected.append(found)
    return selected


def _open(cfg: PluginConfig) -> Any:
    try:
        return open_library(cfg.library_path)
    except PluginError as e:
        raise PluginSetupError(str(e)) from None


def format_plugin_info(info: PluginInfo) -> str:
    """Upstream's plugin description block (--list-plugins, --plugin-info)."""
    lines = [f"Name: {info.name}", f"Description: {info.description}", f"Contact: {info.contact}",
             f"Version: {info.version}", "Capabilities: "]
    if info.caps & Capabilities.SOURCING:
        lines.append(f"  - Event Sourcing (ID={info.id}, source='{info.event_source}')" if info.id
                     else "  - Event Sourcing (system events)")
    for cap, text in ((Capabilities.EXTRACTION, "Field Extraction"), (Capabilities.PARSING, "Event Parsing"),
                      (Capabilities.ASYNC, "Async Events")):
        if info.caps & cap:
            lines.append(f"  - {text}")
    return "\n".join(lines) + "\n"


def list_plugins(configs: list[PluginConfig]) -> str:
    """What ``falco --list-plugins`` prints (plugins loaded, not initialized)."""
    body = "".join(format_plugin_info(_open(c).info) + "\n" for c in configs)
    return f"{len(configs)} Plugins Loaded:\n\n{body}\n"


def plugin_info(configs: list[PluginConfig], name: str) -> str:
    """What ``falco --plugin-info NAME`` prints: info, init schema, then (initialized
    with its init_config) its suggested open params."""
    cfg = next((c for c in configs if name in (c.name, c.library_path)), None)
    if cfg is None:
        raise PluginSetupError(f"can't find plugin and print its info: {name}")
    p = _open(cfg)
    schema = p.init_schema() if hasattr(p, "init_schema") else None
    m = PluginManager()
    try:
        out = [format_plugin_info(p.info), "\n", "Init config schema type: ",
               "JSON\n" if schema is not None else
               "Not available, plugin does not implement the init config schema functionality\n",
               json.dumps(schema) if schema is not None else "", "\n\n"]
        try:
            p = m.load(cfg.library_path, cfg.init_config)
        except PluginError as e:
            raise PluginSetupError(str(e)) from None
        if p.info.caps & Capabilities.SOURCING:
            params = p.list_open_params()
            if not params:
                out.append("No suggested open params available: plugin has not been configured, "
                           "or it does not implement the open params suggestion functionality\n")
            else:
                out.append("Suggested open params:\n")
                out += [f"{o['value']}: {o['desc']}\n" if o.get("desc") else f"{o['value']}\n" for o in params]
            out.append("\n")
        return "".join(out)
    finally:
        m.close()


def unknown_source_error(evt: Event) -> str:
    """Falco's error for a replayed event of no loaded source (a plugin's, not loaded)."""
    msg = "Unknown event source for inspector's event"
    if evt.type in (PPME_PLUGINEVENT_E, PPME_ASYNCEVENT_E) and plugin_id_of(evt):
        msg += f" (plugin ID: {plugin_id_of(evt)})"
    return msg


def _is_input(info: PluginInfo, source: str) -> bool:
    """Whether the plugin can open ``source`` (upstream's init_inspectors): a source
    plugin with an id opens its own source; one with id 0 produces raw libscap events,
    the ``syscall`` source (opened instead of the nodriver engine)."""
    if not info.caps & Capabilities.SOURCING:
        return False
    return info.event_source == source if info.id != 0 else source == SYSCALL_SOURCE


def _compatible(info: PluginInfo, source: str) -> bool:
    """Whether a plugin takes part in ``source``'s inspector (upstream's init_inspectors)."""
    c = info.caps
    return (_is_input(info, source)
            or bool(c & Capabilities.EXTRACTION and info.compatible(info.extract_sources, source))
            or bool(c & Capabilities.PARSING and info.compatible(info.parse_sources, source))
            or bool(c & Capabilities.ASYNC and info.compatible(info.async_sources, source)))


class Plugins:
    """The configured plugins of one run (see the module docstring).

    ``capture_mode`` (replay): one Inspector and PluginManager for every source,
    as upstream's offline inspector; live: one per loaded source, each with the
    plugins compatible with it (a plugin may be initialized once per source).
    """

    def __init__(self, configs: list[PluginConfig], capture_mode: bool) -> None:
        self.configs = configs
        self.infos = [_open(c).info for c in configs]
        self.sources = [SYSCALL_SOURCE]
        for info in self.infos:
            if _is_input(info, info.event_source) and info.event_source not in self.sources:
                self.sources.append(info.event_source)
        self.inspectors: dict[str, Inspector] = {}
        self.managers: dict[str, PluginManager] = {}
        used: set[str] = set()
        shared: tuple[Inspector, PluginManager] | None = None
        try:
            for src in self.sources:
                if shared is None or not capture_mode:
                    shared = (Inspector(), PluginManager())
                    if configs:  # every event gets its source (replay: even unknown ones);
                        shared[1].attach(shared[0])  # without plugins falco's loop spots plugin events
                insp, m = shared
                self.inspectors[src], self.managers[src] = insp, m
                for cfg, info in zip(configs, self.infos):
                    if (capture_mode and info.name in m.plugins) or not (capture_mode or _compatible(info, src)):
                        continue
                    m.load(cfg.library_path, cfg.init_config)
                    used.add(info.name)
        except PluginError as e:
            self.close()
            raise PluginSetupError(str(e)) from None
        for info in self.infos:
            if info.name not in used:
                self.close()
                raise PluginSetupError(f"Plugin '{info.name}' is loaded but unused as not compatible with any "
                                       f"known event source")

    # -- rules engine -----------------------------------------------------------------
    def registry(self, source: str) -> Any:
        """The fields rules of ``source`` may use: libsinsp's (syscall) or the generic
        event fields (plugin sources), plus the compatible plugins' fields."""
        from libsinsp.fields import FieldClass, SinspFieldRegistry, evt, registry

        reg = SinspFieldRegistry()
        if source == SYSCALL_SOURCE:
            for fc in registry().fields_by_class():
                reg.add_class(fc)
            evt.install(reg)
        else:
            generic = tuple(f for fc in registry().fields_by_class() if fc.name == "evt" for f in fc.fields
                            if f.name in PLUGIN_SOURCE_EVT_FIELDS)
            reg.add_class(FieldClass("evt", "All event types", generic, (source,)))
        self.managers[source].register_fields(reg, source)
        return reg

    def add_sources(self, engine: Any) -> None:
        """Give the engine every loaded source with its registry and formatter."""
        from libsinsp.formatter import Formatter

        if not self.configs:
            return
        for src in self.sources:
            reg = self.registry(src)
            engine.add_source(src, reg, lambda fmt, reg=reg: Formatter(fmt, registry=reg))

    def requirement_error(self, engine: Any) -> str:
        """Falco's check of the rules' required_plugin_versions ("" when met), always
        made as upstream does. The built-in plugins (``BUILTIN_PLUGIN_VERSIONS``: the
        container.* fields libsinsp has built in) count as loaded at their version,
        unless a configured plugin has the same name."""
        loaded = {**BUILTIN_PLUGIN_VERSIONS, **{i.name: i.version for i in self.infos}}
        try:
            errors = requirement_errors(engine.required_plugin_versions, loaded)
        except PluginError as e:
            return str(e)
        return errors[0] if errors else ""

    # -- capture --------------------------------------------------------------------------
    def source_plugin(self, source: str) -> PluginConfig | None:
        """The config of the first loaded plugin opening ``source`` (as upstream), None
        when there is none (``syscall`` without an id-0 source plugin)."""
        return next((c for c, i in zip(self.configs, self.infos) if _is_input(i, source)), None)

    def start_async(self, source: str) -> Callable[[], list[Event]] | None:
        """For a live capture of ``source`` by a driver (``modern_ebpf``): the async
        handlers of its compatible plugins installed (stopped by ``close``), capture
        listeners told the capture opened, and the function giving the async events
        pushed since the last call (None: no async plugin). Replays get no async
        events, as upstream: their async events are in the capture."""
        m = self.managers[source]
        try:
            drain = m.drain_async if m.start_async(source) else None
            m.capture_open()
        except PluginError as e:
            raise PluginSetupError(str(e)) from None
        return drain

    def start_replay(self) -> None:
        """A capture file was opened: capture listeners are told (no async producer)."""
        try:
            self.managers[SYSCALL_SOURCE].capture_open()
        except PluginError as e:
            raise PluginSetupError(str(e)) from None

    def live_events(self, source: str, stop: threading.Event) -> Iterator[Event]:
        """The events of ``source`` until EOF or ``stop``: a source plugin's batches
        (for ``syscall``, those of the first source plugin with id 0, as upstream's
        nodriver engine), else none; async events of compatible plugins injected."""
        m = self.managers[source]
        src = None
        cfg = self.source_plugin(source)
        if cfg is not None:
            try:
                src = m.open_source(cfg.name, cfg.open_params)
            except PluginError as e:
                raise PluginSetupError(str(e)) from None
        try:
            m.start_async(source)
            m.capture_open()
        except PluginError as e:
            if src is not None:
                src.close()
            m.stop_async()
            raise PluginSetupError(str(e)) from None
        try:
            while not stop.is_set():
                yield from m.drain_async()
                batch = src.next_batch() if src is not None else []
                if batch is None:
                    break
                if not batch:
                    time.sleep(POLL_INTERVAL_S)
                yield from batch
        finally:
            m.stop_async()
            if src is not None:
                src.close()

    def close(self) -> None:
        for m in {id(m): m for m in self.managers.values()}.values():
            m.close()

