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

/* gzip inflation of fd (kept open by the caller) in a native thread, into a
 * ring of buffers of slot_size bytes. gz_next: the next piece (valid until the
 * next call), its length; 0 at the end, -1 on failure (gz_error says why). */
struct gz_reader;
struct gz_reader *gz_open(int fd, size_t slot_size);
long gz_next(struct gz_reader *g, const uint8_t **data);
const char *gz_error(struct gz_reader *g);
void gz_close(struct gz_reader *g);

#endif
