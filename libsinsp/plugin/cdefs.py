"""The cffi declarations of the plugin API, read from the one header, plugin_api.h.

Plugins are loaded in cffi ABI mode (``ffi.dlopen``): no compiler is needed at
run time, and a symbol a plugin does not export is simply absent from its
``lib`` (AttributeError), which is how capabilities are detected. The header is
the single source of the layouts, shared with the C plugins built by the tests;
it is written so that a few textual rules turn it into a cdef (see its top
comment). The event header struct is declared ``packed`` as in C.
"""

from __future__ import annotations

import re
from pathlib import Path

import cffi

HEADER = Path(__file__).with_name("plugin_api.h")

_DEFINE = re.compile(r"#define\s+\w+\s+-?\d+\s*$")


def _cdef_parts(text: str) -> tuple[str, str, str]:
    """(before, packed, after): the header without its preprocessor lines, split at
    the ``#pragma pack`` pair."""
    kept: list[str] = []
    depth = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#if"):
            depth += 1
        elif stripped.startswith("#endif"):
            depth -= 1
        elif depth:
            continue
        elif stripped.startswith("#pragma pack"):
            kept.append("@@PACK@@")
        elif not stripped.startswith("#") or _DEFINE.match(stripped):
            kept.append(line)
    before, packed, after = "\n".join(kept).split("@@PACK@@")
    return before, packed, after


def make_ffi() -> cffi.FFI:
    """A cffi FFI holding every type and symbol of plugin_api.h."""
    ffi = cffi.FFI()
    before, packed, after = _cdef_parts(HEADER.read_text())
    ffi.cdef(before)
    ffi.cdef(packed, packed=True)
    ffi.cdef(after)
    return ffi


ffi = make_ffi()
EVENT_HEADER_SIZE = ffi.sizeof("ss_plugin_event")
assert EVENT_HEADER_SIZE == 26, "ss_plugin_event must be the 26-byte packed libscap header"
