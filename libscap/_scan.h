/* libscap._scan: the per-event loop of the .scap reader, in C (see _scan.c). */
#ifndef FALCO_PY_SCAN_H
#define FALCO_PY_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* One event as the reader's Event wants it: "<QQQIHIHQI", 48 bytes, packed. */
#define SCAN_RECORD_SIZE 48

void scan_init(const uint8_t *max_params, const uint8_t *len_width, const uint32_t block_types[4],
               uint32_t max_event_block_len);
size_t scan_events(const char *chunk, size_t pos, size_t end, uint64_t num, uint8_t *out,
                   size_t max_records, size_t *stop);

/* Records for the events of a live ring-buffer batch (see _scan.c). */
size_t records_from_batch(const uint8_t *buf, const uint32_t *offsets, const uint32_t *lengths,
                          const uint16_t *sources, size_t n, uint64_t num, int cpu_of_source,
                          uint8_t *out, size_t *skipped);

/* ---- the savefile converter's per-event loop (see _convert.c) ---- */
/* plan slots per event type: parameter counts 0..32, and one for "more" */
#define CONV_NPARAMS_SLOTS 34
/* a converted record's off is an offset into the converter's arena */
#define CONV_ARENA_BIT (1ull << 63)
/* bound on the stored enter events (count, bytes): the older half is forgotten past it */
#define CONV_STORED_MAX (1u << 18)
#define CONV_STORED_MAX_BYTES (128u << 20)

enum { CONV_PASS = 0, CONV_DROP = 1, CONV_ERROR = 2, CONV_STEPS = 3 };
enum { CONV_FROM_EMPTY = 0, CONV_FROM_DEFAULT = 1, CONV_FROM_OLD = 2, CONV_FROM_ENTER = 3, CONV_FROM_CALLBACK = 4 };
enum { CONV_ADD_PARAMS = 0, CONV_CHANGE_TYPE = 1 };
/* conv_run's result */
enum { CONV_OK = 0, CONV_CALLBACK = 1, CONV_REJECT = 2 };
/* why an event was rejected */
enum { CONV_ERR_PLAN = 1, CONV_ERR_OVERRUN = 2, CONV_ERR_ENTER_PARAM = 3, CONV_ERR_TOO_LARGE = 4,
       CONV_ERR_NOMEM = 5, CONV_ERR_INTERNAL = 6 };

struct conv_instr {
    uint32_t max_len, fallback_off, fallback_len;
    uint8_t source, param;
};
struct conv_step {
    uint32_t first_instr;
    uint16_t old_type, new_type;
    uint8_t kind, old_nparams, width, new_nparams, new_width, n_instrs;
};
struct conv_plan {
    uint32_t first_step;
    uint8_t verdict, n_steps, store, deliver, callbacks;
};
struct conv_error {
    int code;
    uint32_t a, b, c;
};
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

/* gzip inflation of fd (kept open by the caller) in a native thread, into a
 * ring of buffers of slot_size bytes. gz_next: the next piece (valid until the
 * next call), its length; 0 at the end, -1 on failure (gz_error says why). */
struct gz_reader;
struct gz_reader *gz_open(int fd, size_t slot_size);
long gz_next(struct gz_reader *g, const uint8_t **data);
const char *gz_error(struct gz_reader *g);
void gz_close(struct gz_reader *g);

#endif
