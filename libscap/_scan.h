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

#endif
