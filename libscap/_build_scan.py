"""Generate the C source of the `libscap._scan` cffi module (API mode, out-of-line):
the reader's scan loop, gzip inflation and the savefile converter's loop.

Run by libscap/CMakeLists.txt as `python _build_scan.py OUTPUT.c`; CMake compiles
the emitted C with _scan.c and _convert.c. The declarations are checked against _scan.h at
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

#define CONV_NPARAMS_SLOTS ...
#define CONV_ARENA_BIT ...
#define CONV_STORED_MAX ...
#define CONV_STORED_MAX_BYTES ...
enum { CONV_PASS, CONV_DROP, CONV_ERROR, CONV_STEPS };
enum { CONV_FROM_EMPTY, CONV_FROM_DEFAULT, CONV_FROM_OLD, CONV_FROM_ENTER, CONV_FROM_CALLBACK };
enum { CONV_ADD_PARAMS, CONV_CHANGE_TYPE };
enum { CONV_OK, CONV_CALLBACK, CONV_REJECT };
enum { CONV_ERR_PLAN, CONV_ERR_OVERRUN, CONV_ERR_ENTER_PARAM, CONV_ERR_TOO_LARGE, CONV_ERR_NOMEM,
       CONV_ERR_INTERNAL };
struct conv_instr { uint32_t min_len, max_len, fallback_off, fallback_len; uint8_t source, param; };
struct conv_step { uint32_t first_instr; uint16_t old_type, new_type;
                   uint8_t kind, old_nparams, width, new_nparams, new_width, n_instrs; };
struct conv_plan { uint32_t first_step; uint8_t verdict, n_steps, store, deliver, callbacks; };
struct conv_error { int code; uint32_t a, b, c; };
struct conv;
int conv_init(unsigned ntypes, const struct conv_plan *plans, const struct conv_step *steps, size_t nsteps,
              const struct conv_instr *instrs, size_t ninstrs, const uint8_t *fallbacks, size_t fallbacks_len);
struct conv *conv_new(void);
void conv_free(struct conv *c);
int conv_run(struct conv *c, const uint8_t *buf, size_t buflen, const uint8_t *in, size_t n, uint8_t *out,
             size_t *done, size_t *nout);
const uint8_t *conv_arena(struct conv *c, size_t *len);
int conv_set_callback(struct conv *c, unsigned instr, const uint8_t *data, size_t len, int use_fallback);
const struct conv_error *conv_error(struct conv *c);
size_t conv_stored(struct conv *c, uint64_t *evicted);
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
