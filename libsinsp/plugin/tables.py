"""State tables offered to plugins through upstream's ``ss_plugin_table_*`` vtables.

A ``Table`` is a Python view of framework state with typed fields: static
fields read (and written) through attributes of the entry objects, and
dynamic fields that plugins add at init (``add_table_field``) and that are
kept beside the entries, per entry. ``thread_table`` exposes the inspector's
thread table as upstream's ``threads`` table (key: int64 tid; field names and
types as upstream's sinsp_threadinfo static fields).

C plugins see tables, entries and field accessors as opaque pointers: cffi
handles to these Python objects, kept alive here while the plugin may use
them. The vtable functions are cffi callbacks; an exception inside one is
turned into the API's error value and the message is kept as the owner's
last error, never propagated through C.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from libsinsp.plugin.cdefs import ffi

ST_INT8, ST_INT16, ST_INT32, ST_INT64 = 1, 2, 3, 4
ST_UINT8, ST_UINT16, ST_UINT32, ST_UINT64 = 5, 6, 7, 8
ST_STRING, ST_TABLE, ST_BOOL = 9, 10, 25
#: state type -> ss_plugin_state_data member
MEMBERS = {ST_INT8: "s8", ST_INT16: "s16", ST_INT32: "s32", ST_INT64: "s64", ST_UINT8: "u8",
           ST_UINT16: "u16", ST_UINT32: "u32", ST_UINT64: "u64", ST_STRING: "str", ST_BOOL: "b"}
_DEFAULTS = {ST_STRING: "", ST_BOOL: False}
_MASKS = {ST_UINT8: 0xFF, ST_UINT16: 0xFFFF, ST_UINT32: 0xFFFFFFFF, ST_UINT64: (1 << 64) - 1}


class TableError(Exception):
    """A table operation a plugin asked for is not possible (becomes its last error)."""


@dataclass
class TableField:
    """One field of a table's entries; ``attr`` for static fields, None for dynamic ones."""

    name: str
    type: int
    read_only: bool = False
    attr: str | None = None
    cname: Any = None  # the C string list_table_fields returns

    def __post_init__(self) -> None:
        self.cname = ffi.new("char[]", self.name.encode())


@dataclass
class Table:
    """A keyed collection of entries with typed fields.

    ``rows`` maps keys to entry objects; ``factory(key)`` makes a new entry.
    Dynamic field values live in ``dynamic[key]`` together with the entry they
    belong to, so a replaced entry does not inherit its predecessor's values.
    """

    name: str
    key_type: int
    rows: MutableMapping[Any, Any]
    factory: Callable[[Any], Any]
    fields: dict[str, TableField] = field(default_factory=dict)
    dynamic: dict[Any, tuple[Any, dict[str, Any]]] = field(default_factory=dict)

    def add_field(self, name: str, ftype: int) -> TableField:
        """Define a dynamic field (idempotent for the same type, as upstream)."""
        existing = self.fields.get(name)
        if existing is not None:
            if existing.type != ftype:
                raise TableError(f"table {self.name}: field {name} already defined with type {existing.type}")
            return existing
        if ftype not in MEMBERS:
            raise TableError(f"table {self.name}: unsupported type {ftype} for field {name}")
        f = self.fields[name] = TableField(name, ftype)
        return f

    def get_field(self, name: str, ftype: int) -> TableField:
        f = self.fields.get(name)
        if f is None:
            raise TableError(f"table {self.name}: no field {name}")
        if f.type != ftype:
            raise TableError(f"table {self.name}: field {name} has type {f.type}, not {ftype}")
        return f

    def read(self, key: Any, entry: Any, f: TableField) -> Any:
        if f.attr is not None:
            return getattr(entry, f.attr)
        slot = self.dynamic.get(key)
        if slot is None or slot[0] is not entry:
            return _DEFAULTS.get(f.type, 0)
        return slot[1].get(f.name, _DEFAULTS.get(f.type, 0))

    def write(self, key: Any, entry: Any, f: TableField, value: Any) -> None:
        if f.read_only:
            raise TableError(f"table {self.name}: field {f.name} is read-only")
        if f.attr is not None:
            setattr(entry, f.attr, value)
            return
        slot = self.dynamic.get(key)
        if slot is None or slot[0] is not entry:
            slot = self.dynamic[key] = (entry, {})
        slot[1][f.name] = value

    def erase(self, key: Any) -> None:
        if key not in self.rows:
            raise TableError(f"table {self.name}: no entry with key {key}")
        del self.rows[key]
        self.dynamic.pop(key, None)

    def clear(self) -> None:
        self.rows.clear()
        self.dynamic.clear()

    def items(self) -> Iterator[tuple[Any, Any]]:
        return iter(list(self.rows.items()))


#: upstream thread table field name -> (state type, ThreadInfo attribute)
THREAD_FIELDS: dict[str, tuple[int, str]] = {
    "tid": (ST_INT64, "tid"), "pid": (ST_INT64, "pid"), "ptid": (ST_INT64, "ptid"),
    "reaper_tid": (ST_INT64, "reaper_tid"), "sid": (ST_INT64, "sid"), "vtid": (ST_INT64, "vtid"),
    "vpid": (ST_INT64, "vpid"), "vpgid": (ST_INT64, "vpgid"), "pgid": (ST_INT64, "pgid"),
    "comm": (ST_STRING, "comm"), "exe": (ST_STRING, "exe"), "exe_path": (ST_STRING, "exepath"),
    "exe_writable": (ST_BOOL, "exe_writable"), "exe_upper_layer": (ST_BOOL, "exe_upper_layer"),
    "exe_lower_layer": (ST_BOOL, "exe_lower_layer"), "exe_from_memfd": (ST_BOOL, "exe_from_memfd"),
    "flags": (ST_UINT32, "flags"), "fd_limit": (ST_INT64, "fdlimit"), "uid": (ST_UINT32, "uid"),
    "gid": (ST_UINT32, "gid"), "loginuid": (ST_UINT32, "loginuid"), "tty": (ST_UINT32, "tty"),
    "cap_permitted": (ST_UINT64, "cap_permitted"), "cap_effective": (ST_UINT64, "cap_effective"),
    "cap_inheritable": (ST_UINT64, "cap_inheritable"), "exe_ino": (ST_UINT64, "exe_ino"),
    "clone_ts": (ST_UINT64, "clone_ts"), "lastexec_ts": (ST_UINT64, "lastexec_ts"),
    "pidns_init_start_ts": (ST_UINT64, "pidns_init_start_ts"), "root": (ST_STRING, "root"),
}  # fmt: skip


def thread_table(rows: MutableMapping[int, Any]) -> Table:
    """Upstream's ``threads`` table over a tid -> ThreadInfo mapping."""
    from libsinsp.threadinfo import ThreadInfo

    table = Table("threads", ST_INT64, rows, ThreadInfo)
    for name, (ftype, attr) in THREAD_FIELDS.items():
        table.fields[name] = TableField(name, ftype, read_only=name == "tid", attr=attr)
    return table


class _Entry:
    """What an entry pointer designates: a row (key, object) of a table, or a
    detached entry made by create_table_entry and not added yet (key None)."""

    __slots__ = ("table", "key", "obj", "handle")

    def __init__(self, table: Table, key: Any, obj: Any) -> None:
        self.table, self.key, self.obj = table, key, obj
        self.handle = ffi.new_handle(self)


class TableRegistry:
    """The tables of one framework (an inspector), shared by all its plugins.

    Owns the C-visible handles: one per table, one per field accessor, one per
    entry handed out and not yet released.
    """

    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}
        self._handles: dict[str, Any] = {}
        self._field_handles: dict[tuple[str, str], Any] = {}
        self._entries: dict[int, _Entry] = {}
        self._strings: dict[str, Any] = {}
        self._infos: Any = None
        self._fieldinfos: dict[str, Any] = {}
        #: the message of the last failed table operation (the owners' last error)
        self.last_error = ""

    def add(self, table: Table) -> None:
        self.tables[table.name] = table
        self._handles[table.name] = ffi.new_handle((self, table))
        self._infos = None

    # -- helpers used by the callbacks ------------------------------------------

    def table_handle(self, name: str, key_type: int) -> Any:
        table = self.tables.get(name)
        if table is None:
            raise TableError(f"no table named {name}")
        if table.key_type != key_type:
            raise TableError(f"table {name} has key type {table.key_type}, not {key_type}")
        return self._handles[name]

    def table_infos(self) -> tuple[Any, int]:
        if self._infos is None:
            infos = ffi.new("ss_plugin_table_info[]", len(self.tables))
            for info, t in zip(infos, self.tables.values()):
                info.name = self._cstr(t.name)
                info.key_type = t.key_type
            self._infos = infos
        return self._infos, len(self.tables)

    def field_infos(self, table: Table) -> tuple[Any, int]:
        arr = self._fieldinfos.get(table.name)
        if arr is None or len(arr) != len(table.fields):
            arr = ffi.new("ss_plugin_table_fieldinfo[]", len(table.fields))
            for info, f in zip(arr, table.fields.values()):
                info.name, info.field_type, info.read_only = f.cname, f.type, f.read_only
            self._fieldinfos[table.name] = arr
        return arr, len(table.fields)

    def field_handle(self, table: Table, f: TableField) -> Any:
        key = (table.name, f.name)
        h = self._field_handles.get(key)
        if h is None:
            h = self._field_handles[key] = ffi.new_handle(f)
        return h

    def entry_handle(self, table: Table, key: Any, obj: Any) -> Any:
        e = _Entry(table, key, obj)
        self._entries[int(ffi.cast("uintptr_t", e.handle))] = e
        return e.handle

    def release(self, handle: Any) -> None:
        self._entries.pop(int(ffi.cast("uintptr_t", handle)), None)

    def _cstr(self, text: str) -> Any:
        c = self._strings.get(text)
        if c is None:
            if len(self._strings) > 4096:
                self._strings.clear()
            c = self._strings[text] = ffi.new("char[]", text.encode("utf-8", "surrogateescape"))
        return c

    def to_c(self, ftype: int, value: Any, out: Any) -> None:
        if ftype == ST_STRING:
            out.str = self._cstr(value or "")
        elif ftype == ST_BOOL:
            out.b = bool(value)
        else:
            mask = _MASKS.get(ftype)
            setattr(out, MEMBERS[ftype], (value & mask) if mask else value)


def from_c(ftype: int, data: Any) -> Any:
    """Python value of an ss_plugin_state_data of type ``ftype``."""
    if ftype == ST_STRING:
        return ffi.string(data.str).decode("utf-8", "surrogateescape") if data.str != ffi.NULL else ""
    if ftype == ST_BOOL:
        return bool(data.b)
    return getattr(data, MEMBERS[ftype])
