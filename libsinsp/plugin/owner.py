"""The framework side of the C ABI: what each C plugin is handed as its "owner".

An ``Owner`` is the ``ss_plugin_owner_t*`` of one plugin (a cffi handle to
it): it answers ``get_owner_last_error``, receives log lines, fills the table
vtables into init/extract/parse inputs, and turns libscap events into the
``ss_plugin_event*`` pointers plugins read. The cffi callbacks are created once
per process (module level) and find their Python objects through the handles.
"""

from __future__ import annotations

import logging
from typing import Any

from libsinsp.plugin.cdefs import ffi
from libsinsp.plugin.tables import Table, TableError, TableRegistry, from_c

log = logging.getLogger("libsinsp.plugin")

SUCCESS, FAILURE = 0, 1
#: ctypes resolved once (a type given as a string is parsed by cffi at every call)
_CHARS = ffi.typeof("char[]")
_EVENT_PTR = ffi.typeof("ss_plugin_event*")
_LOG_LEVELS = {1: logging.CRITICAL, 2: logging.CRITICAL, 3: logging.ERROR, 4: logging.WARNING,
               5: logging.INFO, 6: logging.INFO, 7: logging.DEBUG, 8: logging.DEBUG}


class Owner:
    """One C plugin's owner: its handle, error text, table access and event pointers."""

    def __init__(self, plugin_name: str, tables: TableRegistry) -> None:
        self.plugin_name = plugin_name
        self.tables = tables
        self.handle = ffi.new_handle(self)
        self._error = ffi.new("char[]", b"")
        self._sources: dict[str, Any] = {}
        self._buf: Any = None
        self._buf_ptr: Any = None
        #: where async events of this plugin go while a capture runs (async_events.CAsync)
        self.async_sink: Any = None
        #: the routines the plugin subscribed at capture open (listen.Routines)
        self.routines: Any = None

    def error_cstr(self) -> Any:
        msg = self.tables.last_error
        if msg:
            self._error = ffi.new("char[]", msg.encode())
            return self._error
        return ffi.NULL

    def source_cstr(self, source: str) -> Any:
        c = self._sources.get(source)
        if c is None:
            c = self._sources[source] = ffi.new("char[]", source.encode())
        return c

    def event_pointer(self, evt: Any) -> Any:
        """``ss_plugin_event*`` over a libscap Event's bytes (no copy; the buffer is
        kept referenced until the next event from another buffer)."""
        buf = evt.buf
        if buf is not self._buf:
            self._buf = buf
            self._buf_ptr = ffi.from_buffer(_CHARS, buf)
        return ffi.cast(_EVENT_PTR, self._buf_ptr + evt.off)

    # -- inputs ---------------------------------------------------------------------

    def fill_init_tables(self, tin: Any) -> None:
        tin.list_tables = _list_tables
        tin.get_table = _get_table
        tin.add_table = _add_table
        tin.fields.list_table_fields = _list_table_fields
        tin.fields.get_table_field = _get_table_field
        tin.fields.add_table_field = _add_table_field
        tin.fields_ext = _FIELDS_EXT
        tin.reader_ext = _READER_EXT
        tin.writer_ext = _WRITER_EXT

    def fill_extract_input(self, inp: Any) -> None:
        inp.owner = self.handle
        inp.get_owner_last_error = _get_owner_last_error
        _fill_reader(inp.table_reader)
        inp.table_reader_ext = _READER_EXT
        inp.value_offsets = ffi.NULL

    def fill_parse_input(self, inp: Any) -> None:
        inp.owner = self.handle
        inp.get_owner_last_error = _get_owner_last_error
        _fill_reader(inp.table_reader)
        _fill_writer(inp.table_writer)
        inp.table_reader_ext = _READER_EXT
        inp.table_writer_ext = _WRITER_EXT


def _fill_reader(r: Any) -> None:
    r.get_table_name, r.get_table_size = _get_table_name, _get_table_size
    r.get_table_entry, r.read_entry_field = _get_table_entry, _read_entry_field


def _fill_writer(w: Any) -> None:
    w.clear_table, w.erase_table_entry = _clear_table, _erase_table_entry
    w.create_table_entry, w.destroy_table_entry = _create_table_entry, _destroy_table_entry
    w.add_table_entry, w.write_entry_field = _add_table_entry, _write_entry_field


# -- callbacks ------------------------------------------------------------------------
# Each runs a Python function; TableError (or any error) is stored as the last
# error of the tables' registry and the C error value is returned.


def _guarded(ctype: str, error: Any) -> Any:
    def wrap(fn: Any) -> Any:
        def body(*args: Any) -> Any:
            try:
                return fn(*args)
            except Exception as exc:  # noqa: BLE001 - nothing may unwind through C
                reg = _registry_of(args[0])
                if reg is not None:
                    reg.last_error = str(exc) if isinstance(exc, TableError) else f"{type(exc).__name__}: {exc}"
                return error
        return ffi.callback(ctype, body)
    return wrap


def _registry_of(ptr: Any) -> TableRegistry | None:
    try:
        obj = ffi.from_handle(ptr)
    except Exception:  # noqa: BLE001
        return None
    if isinstance(obj, Owner):
        return obj.tables
    if isinstance(obj, tuple):
        return obj[0]
    return None


def _table(t: Any) -> tuple[TableRegistry, Table]:
    return ffi.from_handle(t)


@ffi.callback("const char*(ss_plugin_owner_t*)")
def _get_owner_last_error(o: Any) -> Any:
    return ffi.from_handle(o).error_cstr()


@ffi.callback("void(ss_plugin_owner_t*, const char*, const char*, ss_plugin_log_severity)")
def _log_fn(o: Any, component: Any, msg: Any, sev: int) -> None:
    owner = ffi.from_handle(o)
    name = ffi.string(component).decode(errors="replace") if component != ffi.NULL else owner.plugin_name
    log.log(_LOG_LEVELS.get(sev, logging.INFO), "[%s] %s", name, ffi.string(msg).decode(errors="replace"))


@_guarded("ss_plugin_table_info*(ss_plugin_owner_t*, uint32_t*)", ffi.NULL)
def _list_tables(o: Any, n: Any) -> Any:
    infos, count = ffi.from_handle(o).tables.table_infos()
    n[0] = count
    return infos


@_guarded("ss_plugin_table_t*(ss_plugin_owner_t*, const char*, ss_plugin_state_type)", ffi.NULL)
def _get_table(o: Any, name: Any, key_type: int) -> Any:
    return ffi.from_handle(o).tables.table_handle(ffi.string(name).decode(), key_type)


@_guarded("ss_plugin_rc(ss_plugin_owner_t*, const ss_plugin_table_input*)", FAILURE)
def _add_table(o: Any, inp: Any) -> int:
    raise TableError("tables owned by plugins (add_table) are not supported by this framework")


@_guarded("const ss_plugin_table_fieldinfo*(ss_plugin_table_t*, uint32_t*)", ffi.NULL)
def _list_table_fields(t: Any, n: Any) -> Any:
    reg, table = _table(t)
    arr, count = reg.field_infos(table)
    n[0] = count
    return arr


@_guarded("ss_plugin_table_field_t*(ss_plugin_table_t*, const char*, ss_plugin_state_type)", ffi.NULL)
def _get_table_field(t: Any, name: Any, ftype: int) -> Any:
    reg, table = _table(t)
    return reg.field_handle(table, table.get_field(ffi.string(name).decode(), ftype))


@_guarded("ss_plugin_table_field_t*(ss_plugin_table_t*, const char*, ss_plugin_state_type)", ffi.NULL)
def _add_table_field(t: Any, name: Any, ftype: int) -> Any:
    reg, table = _table(t)
    return reg.field_handle(table, table.add_field(ffi.string(name).decode(), ftype))


@_guarded("const char*(ss_plugin_table_t*)", ffi.NULL)
def _get_table_name(t: Any) -> Any:
    reg, table = _table(t)
    return reg._cstr(table.name)


@_guarded("uint64_t(ss_plugin_table_t*)", (1 << 64) - 1)
def _get_table_size(t: Any) -> int:
    return len(_table(t)[1].rows)


def _key(table: Table, key: Any) -> Any:
    return from_c(table.key_type, key)


@_guarded("ss_plugin_table_entry_t*(ss_plugin_table_t*, const ss_plugin_state_data*)", ffi.NULL)
def _get_table_entry(t: Any, key: Any) -> Any:
    reg, table = _table(t)
    k = _key(table, key)
    obj = table.rows.get(k)
    if obj is None:
        raise TableError(f"table {table.name}: no entry with key {k}")
    return reg.entry_handle(table, k, obj)


@_guarded("ss_plugin_rc(ss_plugin_table_t*, ss_plugin_table_entry_t*, const ss_plugin_table_field_t*, "
          "ss_plugin_state_data*)", FAILURE)
def _read_entry_field(t: Any, e: Any, f: Any, out: Any) -> int:
    reg, table = _table(t)
    entry, fld = ffi.from_handle(e), ffi.from_handle(f)
    reg.to_c(fld.type, table.read(entry.key, entry.obj, fld), out)
    return SUCCESS


@_guarded("void(ss_plugin_table_t*, ss_plugin_table_entry_t*)", None)
def _release_table_entry(t: Any, e: Any) -> None:
    _table(t)[0].release(e)


@_guarded("ss_plugin_bool(ss_plugin_table_t*, ss_plugin_table_iterator_func_t, "
          "ss_plugin_table_iterator_state_t*)", 0)
def _iterate_entries(t: Any, it: Any, s: Any) -> int:
    reg, table = _table(t)
    for key, obj in table.items():
        h = reg.entry_handle(table, key, obj)
        try:
            if not it(s, h):
                return 0
        finally:
            reg.release(h)
    return 1


@_guarded("ss_plugin_rc(ss_plugin_table_t*)", FAILURE)
def _clear_table(t: Any) -> int:
    _table(t)[1].clear()
    return SUCCESS


@_guarded("ss_plugin_rc(ss_plugin_table_t*, const ss_plugin_state_data*)", FAILURE)
def _erase_table_entry(t: Any, key: Any) -> int:
    table = _table(t)[1]
    table.erase(_key(table, key))
    return SUCCESS


@_guarded("ss_plugin_table_entry_t*(ss_plugin_table_t*)", ffi.NULL)
def _create_table_entry(t: Any) -> Any:
    reg, table = _table(t)
    return reg.entry_handle(table, None, table.factory(0))


@_guarded("void(ss_plugin_table_t*, ss_plugin_table_entry_t*)", None)
def _destroy_table_entry(t: Any, e: Any) -> None:
    _table(t)[0].release(e)


@_guarded("ss_plugin_table_entry_t*(ss_plugin_table_t*, const ss_plugin_state_data*, ss_plugin_table_entry_t*)",
          ffi.NULL)
def _add_table_entry(t: Any, key: Any, e: Any) -> Any:
    reg, table = _table(t)
    entry = ffi.from_handle(e)
    k = _key(table, key)
    pending = [(n, v) for n, v in entry.table.dynamic.pop(None, (None, {}))[1].items()]
    if table.key_type == 4 and hasattr(entry.obj, "tid"):
        entry.obj.tid = k
    table.rows[k] = entry.obj
    table.dynamic.pop(k, None)
    for n, v in pending:
        table.write(k, entry.obj, table.fields[n], v)
    reg.release(e)
    return reg.entry_handle(table, k, entry.obj)


@_guarded("ss_plugin_rc(ss_plugin_table_t*, ss_plugin_table_entry_t*, const ss_plugin_table_field_t*, "
          "const ss_plugin_state_data*)", FAILURE)
def _write_entry_field(t: Any, e: Any, f: Any, inp: Any) -> int:
    table = _table(t)[1]
    entry, fld = ffi.from_handle(e), ffi.from_handle(f)
    table.write(entry.key, entry.obj, fld, from_c(fld.type, inp))
    return SUCCESS


_FIELDS_EXT = ffi.new("ss_plugin_table_fields_vtable_ext*")
_FIELDS_EXT.list_table_fields = _list_table_fields
_FIELDS_EXT.get_table_field = _get_table_field
_FIELDS_EXT.add_table_field = _add_table_field
_READER_EXT = ffi.new("ss_plugin_table_reader_vtable_ext*")
_fill_reader(_READER_EXT)
_READER_EXT.release_table_entry = _release_table_entry
_READER_EXT.iterate_entries = _iterate_entries
_WRITER_EXT = ffi.new("ss_plugin_table_writer_vtable_ext*")
_fill_writer(_WRITER_EXT)

#: exported for the loader's init input
get_owner_last_error = _get_owner_last_error
log_fn = _log_fn
