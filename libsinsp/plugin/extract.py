"""Plugin fields: the get_fields JSON as filter FieldInfos, and typed extraction.

``parse_fields`` validates the JSON as upstream does (every entry needs a name,
a known type and a description; flags must be booleans; a required argument
must be an index or a key) and maps it to ``PluginFieldInfo``. ``CExtractor``
runs ``plugin_extract_fields`` for a C plugin, any number of fields per call,
and converts the answers to the filter's value conventions (str, int, bool,
ipaddress objects; tuples for list fields).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from libsinsp.filter.fields import ArgRule, FieldType
from libsinsp.plugin.cdefs import ffi
from libsinsp.plugin.errors import PluginError
from libsinsp.plugin.info import PluginFieldInfo

if TYPE_CHECKING:
    from libsinsp.plugin.loader import CPlugin

#: get_fields "type" -> (filter type, ss_plugin_field_type code)
FIELD_TYPES: dict[str, tuple[FieldType, int]] = {
    "string": (FieldType.STRING, 9),
    "uint64": (FieldType.UINT64, 8),
    "reltime": (FieldType.RELTIME, 20),
    "abstime": (FieldType.ABSTIME, 21),
    "bool": (FieldType.BOOL, 25),
    "ipaddr": (FieldType.IPADDR, 40),
    "ipnet": (FieldType.IPNET, 41),
}
_FTYPE_CODE = {ftype: code for ftype, code in FIELD_TYPES.values()}


def _flag(plugin: str, fname: str, obj: dict, key: str) -> bool:
    value = obj.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise PluginError(plugin, f"field {fname}: {key} property is not boolean")
    return value


def _arg_rule(index: bool, key: bool, required: bool) -> ArgRule:
    if index and key:
        return ArgRule.REQUIRED_INDEX_OR_KEY if required else ArgRule.OPTIONAL_KEY
    if index:
        return ArgRule.REQUIRED_INDEX if required else ArgRule.OPTIONAL_INDEX
    if key:
        return ArgRule.REQUIRED_KEY if required else ArgRule.OPTIONAL_KEY
    return ArgRule.NONE


def parse_fields(plugin: str, text: str | None) -> list[PluginFieldInfo]:
    """The fields a plugin's get_fields JSON declares (PluginError naming the bad entry)."""
    if text is None:
        raise PluginError(plugin, "plugin_get_fields returned a null string")
    try:
        root = json.loads(text)
    except ValueError as exc:
        raise PluginError(plugin, f"plugin_get_fields returned invalid JSON: {exc}") from None
    if not isinstance(root, list):
        raise PluginError(plugin, "plugin_get_fields did not return a JSON array")
    try:  # non-UTF-8 bytes (or \\udcxx escapes) would break every later use of the names
        json.dumps(root, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise PluginError(plugin, "plugin_get_fields returned text that is not valid UTF-8") from None
    fields: list[PluginFieldInfo] = []
    for i, entry in enumerate(root):
        if not isinstance(entry, dict):
            raise PluginError(plugin, f"field entry {i} of plugin_get_fields is not an object")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise PluginError(plugin, f"field entry {i} of plugin_get_fields has no name")
        tname = entry.get("type")
        if not isinstance(tname, str) or not tname:
            raise PluginError(plugin, f"field {name} has no type")
        if tname not in FIELD_TYPES:
            raise PluginError(plugin, f"field {name} has invalid type {tname!r} "
                                      f"(one of {', '.join(FIELD_TYPES)})")
        desc = entry.get("desc")
        if not isinstance(desc, str) or not desc:
            raise PluginError(plugin, f"field {name} has no desc")
        arg = entry.get("arg") or {}
        if not isinstance(arg, dict):
            raise PluginError(plugin, f"field {name}: arg is not an object")
        index, key = _flag(plugin, name, arg, "isIndex"), _flag(plugin, name, arg, "isKey")
        required = _flag(plugin, name, arg, "isRequired")
        if required and not (index or key):
            raise PluginError(plugin, f"field {name} arg has isRequired true, but none of isKey nor isIndex is true")
        props = entry.get("properties", [])
        if not isinstance(props, list) or not all(isinstance(p, str) for p in props):
            raise PluginError(plugin, f"field {name}: properties is not an array of strings")
        display = entry.get("display", "")
        fields.append(PluginFieldInfo(
            name=name, type=FIELD_TYPES[tname][0], arg=_arg_rule(index, key, required),
            is_list=_flag(plugin, name, entry, "isList"), description=desc,
            display=display if isinstance(display, str) else "",
            add_output=_flag(plugin, name, entry, "addOutput"), index=i,
            arg_index=index, arg_key=key, arg_required=required, properties=tuple(props)))
    if not fields:
        raise PluginError(plugin, "plugins with extraction capability must export at least one field")
    return fields


def split_arg(plugin: str, field: PluginFieldInfo, arg: str | None) -> tuple[int, str | None, bool]:
    """(arg_index, arg_key, arg_present) for an extraction request, as upstream parses
    ``field[arg]``: an index field takes a non-negative integer."""
    if arg is None:
        if field.arg_required:
            raise PluginError(plugin, f"field {field.name} requires an argument")
        return 0, None, False
    if field.arg_index and (not field.arg_key or arg.isdigit()):
        if not arg.isdigit():
            raise PluginError(plugin, f"field {field.name} needs a numeric index argument, not {arg!r}")
        return int(arg), None, True
    if field.arg_key:
        return 0, arg, True
    raise PluginError(plugin, f"field {field.name} does not accept an argument")


def _ip(buf: Any) -> Any:
    raw = bytes(ffi.buffer(buf.ptr, buf.len))
    return ipaddress.ip_address(raw) if len(raw) in (4, 16) else None


def _str(p: Any) -> str:
    return ffi.string(p).decode("utf-8", "surrogateescape")


#: filter type -> (union member of ss_plugin_extract_field.res, converter)
_READERS: dict[FieldType, tuple[str, Any]] = {
    FieldType.STRING: ("str", _str),
    FieldType.UINT64: ("u64", int),
    FieldType.RELTIME: ("u64", int),
    FieldType.ABSTIME: ("u64", int),
    FieldType.BOOL: ("boolean", bool),
    FieldType.IPADDR: ("buf", _ip),
    FieldType.IPNET: ("buf", _ip),
}


class Request:
    """One field + argument to extract, with its C strings kept alive."""

    __slots__ = ("field", "ftype", "member", "convert", "_name", "_key", "index", "present")

    def __init__(self, plugin: str, field: PluginFieldInfo, arg: str | None) -> None:
        self.field = field
        self.ftype = _FTYPE_CODE[field.type]
        self.member, self.convert = _READERS[field.type]
        self.index, key, self.present = split_arg(plugin, field, arg)
        self._name = ffi.new("char[]", field.name.encode())
        self._key = ffi.new("char[]", key.encode()) if key is not None else ffi.NULL

    def fill(self, slot: Any) -> None:
        """Write this request into one ss_plugin_extract_field."""
        slot.field_id = self.field.index
        slot.field = self._name
        slot.arg_key = self._key
        slot.arg_index = self.index
        slot.arg_present = self.present
        slot.ftype = self.ftype
        slot.flist = self.field.is_list
        slot.res_len = 0


def _reader(req: Request, slot: Any) -> Any:
    """``() -> value | None``: one request's answer read from its slot."""
    member, conv = req.member, req.convert
    if req.field.is_list:
        def read() -> Any:
            n = slot.res_len
            return tuple(conv(x) for x in getattr(slot.res, member)[0:n]) if n else None
    elif conv is int:  # uint64, reltime, abstime: the cdata item is already an int
        def read() -> Any:
            return getattr(slot.res, member)[0] if slot.res_len else None
    else:
        def read() -> Any:
            return conv(getattr(slot.res, member)[0]) if slot.res_len else None
    return read


class CExtractor:
    """Batched ``plugin_extract_fields`` calls for one C plugin and one set of requests.

    The request array is filled once, and each request has its answer reader
    ready: ``call`` points the event input at the event's bytes and calls the
    plugin; ``readers[i]()`` converts answer ``i`` (valid until the next call),
    so a caller converts only the answers it uses.
    """

    def __init__(self, plugin: "CPlugin", requests: Sequence[Request]) -> None:
        self._plugin = plugin
        self._fields = ffi.new("ss_plugin_extract_field[]", len(requests))
        for req, slot in zip(requests, self._fields):
            req.fill(slot)
        self._requests = tuple(requests)  # keeps the name/key strings alive
        self._slots = [self._fields[i] for i in range(len(requests))]
        self.readers = [_reader(req, slot) for req, slot in zip(requests, self._slots)]
        self._input = ffi.new("ss_plugin_field_extract_input*")
        plugin.owner.fill_extract_input(self._input)
        self._input.num_fields = len(requests)
        self._input.fields = self._fields
        self._evt = ffi.new("ss_plugin_event_input*")
        self._call = plugin.lib.plugin_extract_fields

    def call(self, evt: Any, num: int, source: str) -> None:
        """Run every request on libscap event ``evt`` (PluginError if the plugin fails)."""
        plugin = self._plugin
        owner = plugin.owner
        inp = self._evt
        inp.evt = owner.event_pointer(evt)
        inp.evtnum = num
        inp.evtsrc = owner.source_cstr(source)
        for slot in self._slots:
            slot.res_len = 0
        if self._call(plugin.state, inp, self._input) != 0:
            raise PluginError(plugin.name, f"plugin_extract_fields failed: {plugin.last_error()}")

    def extract(self, evt: Any, num: int, source: str) -> list[Any]:
        """Values of every request for ``evt``."""
        self.call(evt, num, source)
        return [read() for read in self.readers]
