"""Generate the C source of the `libscap._scan` cffi module (API mode, out-of-line).

Run by libscap/CMakeLists.txt as `python _build_scan.py OUTPUT.c`; CMake compiles
the emitted C with _scan.c. The declarations are checked against _scan.h at
compile time.
"""

from __future__ import annotations

import sys

import cffi

CDEF = r"""
#define SCAN_RECORD_SIZE 48
void scan_init(const uint8_t *max_params, const uint8_t *len_width, const uint32_t block_types[4],
               uint32_t max_event_block_len);
size_t scan_events(const char *chunk, size_t pos, size_t end, uint64_t num, uint8_t *out,
                   size_t max_records, size_t *stop);
size_t records_from_batch(const uint8_t *buf, const uint32_t *offsets, const uint32_t *lengths,
                          const uint16_t *sources, size_t n, uint64_t num, int cpu_of_source,
                          uint8_t *out, size_t *skipped);
struct gz_reader;
struct gz_reader *gz_open(int fd, size_t slot_size);
long gz_next(struct gz_reader *g, const uint8_t **data);
const char *gz_error(struct gz_reader *g);
void gz_close(struct gz_reader *g);
"""


def make_ffi() -> cffi.FFI:
    ffibuilder = cffi.FFI()
    ffibuilder.cdef(CDEF)
    ffibuilder.set_source("libscap._scan", '#include "_scan.h"\n')
    return ffibuilder


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUTPUT.c")
    make_ffi().emit_c_code(sys.argv[1])
