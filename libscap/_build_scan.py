"""Generate the C source of the `libscap._scan` cffi module (API mode, out-of-line):
the reader's scan loop, gzip inflation and the savefile converter's loop.

Run by libscap/CMakeLists.txt as `python _build_scan.py OUTPUT.c`; CMake compiles
the emitted C with _scan.c and _convert.c. The declarations are _scan.h's own.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent


def declarations() -> str:
    """The declarations of _scan.h, read from the header itself (no second copy):
    its other preprocessor lines dropped, each #define's value left to the compiler."""
    out = []
    for line in (HERE / "_scan.h").read_text().splitlines():
        if m := re.match(r"\s*#\s*define\s+(\w+)\s+\S", line):
            out.append(f"#define {m.group(1)} ...")
        elif not line.lstrip().startswith("#"):
            out.append(line)
    return "\n".join(out)


def make_ffi() -> cffi.FFI:
    ffibuilder = cffi.FFI()
    ffibuilder.cdef(declarations())
    ffibuilder.set_source("libscap._scan", '#include "_scan.h"\n')
    return ffibuilder


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUTPUT.c")
    make_ffi().emit_c_code(sys.argv[1])
