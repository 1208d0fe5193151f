"""PluginManager: the loaded plugins of one inspector, and the seams to the rest.

``load(library_path, init_config)`` loads a C plugin (``.so``) or a Python
plugin (a module name or ``.py`` file, see python_api), checks it against the
plugins already loaded (unique names and ids, no field defined twice, as
upstream), and initializes it. Then:

* ``open_source(name, open_params)`` -> a ``PluginSource``: the events of a
  source plugin (iterable; ``next_batch`` for timeout/EOF control);
* the manager is a ``FieldRegistry`` of every plugin field (``lookup``,
  ``make_extractor``: one plugin_extract_fields call per event and C plugin
  for all the fields compiled against it, see ``ExtractionBatch``), and
  ``register_fields(registry)`` hands them to libsinsp's field registry with
  ``add_fields(class_name, infos, extractor_factory, sources)``;
* ``parse(evt, num, source)`` feeds parsing plugins; ``start_async``/``drain_async``
  collect async events; ``capture_open``/``capture_close`` notify capture
  listeners (listen.py); ``source_of(evt)`` names the source of any event;
* ``check_required_plugin_versions(reqs)`` (``requirement_errors``) applies rules
  files' ``required_plugin_versions`` as Falco does (semver-compatible, alternatives).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from libscap.event import Event
from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.info import SYSCALL_SOURCE, Capabilities, PluginFieldInfo, parse_semver
from libsinsp.plugin.listen import CaptureListener
from libsinsp.plugin.loader import CPlugin
from libsinsp.plugin.python_api import is_python_plugin, load_python_plugin
from libsinsp.plugin.source import PPME_ASYNCEVENT_E, PPME_PLUGINEVENT_E, iterate, plugin_id_of
from libsinsp.plugin.tables import TableRegistry

log = logging.getLogger("libsinsp.plugin")

Plugin = Any  # CPlugin or python_api.PyPlugin: the same duck-typed interface


def _config_text(init_config: str | Mapping | None) -> str:
    """falco.yaml allows init_config as a string or a YAML map (sent as JSON)."""
    if init_config is None:
        return ""
    if isinstance(init_config, str):
        return init_config
    return json.dumps(init_config)


def _option(o: Any) -> Mapping[str, Any]:
    return o if isinstance(o, Mapping) else {"name": o.name, "version": o.version}


def open_library(library_path: str, tables: TableRegistry | None = None) -> Plugin:
    """A plugin loaded and checked but not initialized (``info`` is readable): a C
    library, or a Python module name or ``.py`` file."""
    path = str(library_path)
    return load_python_plugin(path) if is_python_plugin(path) else CPlugin(path, tables)


_UNREAD = object()


class ExtractionBatch:
    """The fields requested from one plugin, extracted together once per event.

    Requests are added while conditions and formats compile (``add``); the
    plugin's extractor over all of them is built at the first event after the
    last addition. Per event, the first extractor asked runs the one plugin
    call; each answer is converted to a Python value only when asked for.
    """

    def __init__(self, plugin: Plugin, by_id: Mapping[int, Plugin]) -> None:
        self.plugin = plugin
        self._by_id = by_id
        self._codes = plugin.extract_codes()
        self._sources = plugin.info.extract_sources
        self._requests: list[tuple[PluginFieldInfo, str | None]] = []
        self._slots: dict[tuple[str, str | None], int] = {}
        self._ext: Any = None
        self._evt: Any = None
        #: per event: the answers read so far (_UNREAD until asked; None: no value)
        self._cache: list[Any] = []
        #: per request: ``() -> value`` reading the answer of the last call
        self._readers: list[Any] = []

    def add(self, field: PluginFieldInfo, arg: str | None) -> int:
        """The slot of ``field[arg]`` in the answers (PluginError for a bad argument)."""
        key = (field.name, arg)
        slot = self._slots.get(key)
        if slot is None:
            self.plugin.extractor([(field, arg)])  # validates the argument now, at compile time
            slot = self._slots[key] = len(self._requests)
            self._requests.append((field, arg))
            self._cache.append(_UNREAD)
            self._ext, self._evt = None, None
        return slot

    def extractor(self, field: PluginFieldInfo, arg: str | None) -> Any:
        """``event -> value | None`` (a SinspEvent or a bare libscap Event) for one request."""
        slot = self.add(field, arg)
        cache, run, readers = self._cache, self.run, self._readers

        def extract(e: Any) -> Any:
            evt = getattr(e, "evt", e)
            if evt is not self._evt:
                run(e, evt)
            v = cache[slot]
            if v is _UNREAD:
                v = cache[slot] = readers[slot]()
            return v

        return extract

    def run(self, e: Any, evt: Any) -> None:
        """Call the plugin for ``evt`` (all requests), or mark every answer as no value
        when the event's type or source is not one the plugin extracts from."""
        ext = self._ext
        if ext is None:
            ext = self._ext = self.plugin.extractor(self._requests)
            self._readers[:] = ext.readers
        cache, n = self._cache, len(self._cache)
        self._evt = None
        etype = evt.type
        if self._codes is not None and etype not in self._codes:
            cache[:] = [None] * n
        else:
            if etype == PPME_PLUGINEVENT_E:
                src = self._by_id.get(plugin_id_of(evt))
                source = src.info.event_source if src is not None else ""
            else:
                source = getattr(e, "source", SYSCALL_SOURCE)
            if self._sources and source not in self._sources:
                cache[:] = [None] * n
            else:
                ext.call(evt, getattr(e, "num", evt.num), source)
                cache[:] = [_UNREAD] * n
        self._evt = evt


class PluginSource:
    """An open source plugin: its events as libscap Events (PPME_PLUGINEVENT_E)."""

    def __init__(self, plugin: Plugin, params: str) -> None:
        self.plugin = plugin
        self.source = plugin.info.event_source
        self.instance = plugin.open(params)

    def next_batch(self) -> list[Event] | None:
        """A batch; [] on timeout; None at end of stream."""
        return self.instance.next_batch()

    def progress(self) -> tuple[float, str]:
        return self.instance.progress()

    def __iter__(self) -> Iterator[Event]:
        return iterate(self.instance)

    def close(self) -> None:
        self.instance.close()

    def __enter__(self) -> "PluginSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PluginManager:
    """The plugins of one inspector (see the module docstring)."""

    def __init__(self, tables: TableRegistry | None = None) -> None:
        self.tables = tables if tables is not None else TableRegistry()
        self.plugins: dict[str, Plugin] = {}
        self._fields: dict[str, tuple[Plugin, PluginFieldInfo]] = {}
        self._by_id: dict[int, Plugin] = {}
        self._parsers: list[Any] = []
        self._async: list[Any] = []
        self._batches: dict[str, ExtractionBatch] = {}
        self._listeners: list[CaptureListener] = []

    # -- loading --------------------------------------------------------------------

    def load(self, library_path: str, init_config: str | Mapping | None = "") -> Plugin:
        """Load, check and initialize one plugin; PluginError names what is wrong."""
        plugin = open_library(library_path, self.tables)
        info = plugin.info
        if info.name in self.plugins:
            raise PluginError(info.name, f"a plugin with this name is already loaded (from {self.plugins[info.name].path})")
        if info.id and info.id in self._by_id:
            raise PluginError(info.name, f"plugin id {info.id} is already used by plugin {self._by_id[info.id].name}")
        for f in info.fields:
            if f.name in self._fields:
                raise PluginError(info.name, f"field {f.name} is already defined by plugin {self._fields[f.name][0].name}")
        plugin.init(_config_text(init_config))
        self.plugins[info.name] = plugin
        if info.id:
            self._by_id[info.id] = plugin
        for f in info.fields:
            self._fields[f.name] = (plugin, f)
        parser = plugin.parser()
        if parser is not None:
            self._parsers.append(parser)
        return plugin

    def close(self) -> None:
        """Stop async producers, tell capture listeners the capture closed (errors are
        logged: every plugin is still destroyed) and destroy every plugin."""
        self.stop_async()
        try:
            self.capture_close()
        except PluginError as e:
            log.error("%s", e)
        for p in self.plugins.values():
            p.destroy()
        self.plugins.clear()

    # -- sources --------------------------------------------------------------------

    def sources(self) -> list[str]:
        """The event sources the loaded plugins provide."""
        return [p.info.event_source for p in self.plugins.values() if p.info.caps & Capabilities.SOURCING]

    def source_plugin(self, name: str) -> Plugin:
        """The source plugin called ``name`` or providing source ``name``."""
        for p in self.plugins.values():
            if p.info.caps & Capabilities.SOURCING and name in (p.info.name, p.info.event_source):
                return p
        raise PluginError(name, "no loaded plugin with event sourcing has this name or source")

    def open_source(self, name: str, open_params: str = "") -> PluginSource:
        return PluginSource(self.source_plugin(name), open_params)

    def source_of(self, evt: Event) -> str:
        """The source name of an event: its plugin's source for plugin events, else syscall."""
        if evt.type == PPME_PLUGINEVENT_E:
            p = self._by_id.get(plugin_id_of(evt))
            return p.info.event_source if p is not None else ""
        if evt.type == PPME_ASYNCEVENT_E:
            p = self._by_id.get(plugin_id_of(evt))
            return p.info.event_source if p is not None else SYSCALL_SOURCE
        return SYSCALL_SOURCE

    def plugin_by_id(self, plugin_id: int) -> Plugin | None:
        """The loaded plugin with this (nonzero) id, or None."""
        return self._by_id.get(plugin_id)

    def event_to_string(self, evt: Event, num: int = 0) -> str:
        p = self._by_id.get(plugin_id_of(evt)) if evt.type == PPME_PLUGINEVENT_E else None
        return p.event_to_string(evt, num) if p is not None else ""

    # -- fields (FieldRegistry) -----------------------------------------------------

    def fields(self, source: str | None = None) -> list[PluginFieldInfo]:
        """Every plugin field, or those usable with events of ``source``."""
        return [f for p, f in self._fields.values()
                if source is None or p.info.compatible(p.info.extract_sources, source)]

    def lookup(self, name: str) -> PluginFieldInfo | None:
        entry = self._fields.get(name)
        return entry[1] if entry is not None else None

    def make_extractor(self, field: PluginFieldInfo, arg: str | None) -> Any:
        """A callable ``event -> value | None``; ``event`` is a SinspEvent (``.evt``,
        ``.num``, ``.source``) or a bare libscap Event.

        The fields of a C plugin share one ``ExtractionBatch``: every field compiled
        against the plugin (conditions, outputs) comes from one plugin_extract_fields
        call per event, cached for that event. A Python plugin's fields are extracted
        one call each (there is no boundary to amortize, and unused fields cost nothing).
        """
        plugin = self._fields[field.name][0]
        if isinstance(plugin, CPlugin):
            batch = self._batches.get(plugin.name)
            if batch is None:
                batch = self._batches[plugin.name] = ExtractionBatch(plugin, self._by_id)
            return batch.extractor(field, arg)
        return ExtractionBatch(plugin, self._by_id).extractor(field, arg)

    def register_fields(self, registry: Any, source: str | None = None) -> None:
        """Give the extraction plugins' fields (those usable with ``source``, or all) to
        libsinsp's field registry, and the async event names (valid evt.type values)."""
        for p in self.plugins.values():
            registry.async_event_names |= p.info.async_events
            if p.info.caps & Capabilities.EXTRACTION and (
                    source is None or p.info.compatible(p.info.extract_sources, source)):
                sources = sorted(p.info.extract_sources) or [SYSCALL_SOURCE, *self.sources()]
                registry.add_fields(f"{p.name} (plugin)", list(p.info.fields), self.make_extractor, sources,
                                    p.info.description)

    # -- parsing and async ----------------------------------------------------------

    def attach(self, inspector: Any) -> None:
        """Wire into a libsinsp Inspector: its thread table becomes the ``threads`` table
        plugins see, the inspector's ``plugin_manager`` (what evt.pluginname and
        evt.plugininfo read), and every event it processes gets its source name and goes
        to the parsing plugins. Call before loading plugins that use tables (they look them up
        at init)."""
        from libsinsp.plugin.tables import thread_table

        if "threads" not in self.tables.tables:
            self.tables.add(thread_table(inspector.threads.map))
        inspector.plugin_manager = self  # evt.pluginname/evt.plugininfo (libsinsp.fields.plugin_meta)
        source_of, parse = self.source_of, self.parse

        def listener(sevt: Any) -> None:
            evt = sevt.evt
            sevt.source = src = source_of(evt)
            parse(evt, sevt.num, src)

        inspector.add_event_listener(listener)

    def parse(self, evt: Event, num: int, source: str | None = None) -> None:
        """Feed one event to every parsing plugin that wants it."""
        if not self._parsers:
            return
        src = source if source is not None else self.source_of(evt)
        for parser in self._parsers:
            parser.parse(evt, num, src)

    def start_async(self, source: str = SYSCALL_SOURCE) -> int:
        """Install async handlers on the plugins compatible with ``source`` (the number
        of plugins now producing). As upstream, only live captures do this: a replayed
        capture has the async events of its recording in its event stream."""
        sid = 0 if source == SYSCALL_SOURCE else self.source_plugin(source).info.id
        for p in self.plugins.values():
            if p.info.caps & Capabilities.ASYNC and p.info.compatible(p.info.async_sources, source):
                stream = p.async_stream(sid)
                stream.start()
                self._async.append(stream)
        return len(self._async)

    def drain_async(self) -> list[Event]:
        """Async events pushed since the last call (to inject into the stream)."""
        out: list[Event] = []
        for stream in self._async:
            out.extend(stream.drain())
        return out

    def stop_async(self) -> None:
        for stream in self._async:
            stream.stop()
        self._async.clear()

    # -- capture listening -----------------------------------------------------------

    def capture_open(self) -> None:
        """plugin_capture_open of every capture-listening C plugin (once per capture, live
        or replay, as upstream's sinsp::open_common); PluginError names a refusal."""
        if self._listeners:
            return
        for p in self.plugins.values():
            if p.info.caps & Capabilities.CAPTURE_LISTENING and isinstance(p, CPlugin):
                listener = CaptureListener(p)
                self._listeners.append(listener)
                listener.open()

    def capture_close(self) -> None:
        """plugin_capture_close of the plugins told of the open; the first error is raised
        after every plugin was told."""
        listeners, self._listeners = self._listeners, []
        errors = []
        for listener in listeners:
            try:
                listener.close()
            except PluginError as e:
                errors.append(e)
        if errors:
            raise errors[0]

    # -- rules' required_plugin_versions --------------------------------------------

    def check_required_plugin_versions(self, requirements: Sequence[Any]) -> list[str]:
        """``requirement_errors`` for the plugins of this manager."""
        return requirement_errors(requirements, {p.name: p.info.version for p in self.plugins.values()})


#: Plugins whose functionality falco-py's libsinsp has built in, as the rules'
#: ``required_plugin_versions`` see them (name -> version). ``container``: the
#: container.* and k8s.* fields of libsinsp.fields.container stand in for the
#: container plugin that current Falco loads; its field set is the plugin's up to
#: 0.5.0 (the plugin's changelog adds fields at 0.6.0), so a requirement of
#: container 0.4.0 (the official rules') or 0.5.0 is met, 0.6.0 or 1.0.0 is not
#: (Falco's incompatible-version error).
#: A loaded plugin of the same name takes the place of the built-in one.
BUILTIN_PLUGIN_VERSIONS: Mapping[str, str] = {"container": "0.5.0"}


def requirement_errors(requirements: Sequence[Any], loaded: Mapping[str, str]) -> list[str]:
    """Errors for the requirements the ``loaded`` plugins (name -> version) do not
    satisfy ([] if all are met).

    Each requirement is a rules-file map ``{name, version, alternatives: [{name,
    version}]}`` or a sequence of options with ``name``/``version`` (as
    ``falco_engine.Engine.required_plugin_versions`` gives them). As Falco checks
    it, the first option naming a loaded plugin decides: met when that plugin's
    version has the same major and is not older; the messages are Falco's.
    """
    errors = []
    for req in requirements:
        options = [_option(o) for o in ([req, *req.get("alternatives", [])] if isinstance(req, Mapping) else req)]
        error = _requirement_error(options, loaded)
        if error:
            errors.append(error)
    return errors


def _requirement_error(options: Sequence[Mapping[str, Any]], loaded: Mapping[str, str]) -> str:
    for o in options:
        version = loaded.get(o["name"])
        if version is None:
            continue
        want, have = parse_semver(str(o["version"])), parse_semver(version)
        if want is None:
            raise PluginError(o["name"], f"required_plugin_versions has an invalid version: {o['version']!r}")
        if have is None:
            return f"Plugin '{o['name']}' has invalid version string '{version}'"
        if have[0] != want[0] or have[1:] < want[1:]:
            return f"Plugin '{o['name']}' version '{version}' is not compatible with required plugin version '{o['version']}'"
        return ""
    wanted = ", ".join(f"{o['name']} (>= {o['version']})" for o in options)
    return f"Plugin requirement not satisfied, must load one of: {wanted}"
