/* C helpers compiled into the bpf._libbpf cffi module.
 *
 * 1. libbpf log capture: libbpf reports verifier logs and most failure details
 *    only through its print callback (a varargs function, which a Python
 *    callback cannot receive), so C formats each message into a per-thread
 *    buffer that Python reads when building an exception.
 * 2. Batch ring-buffer reader: copies many records from one or more BPF ring
 *    buffers into a caller buffer in a single call, merging buffers by a u64
 *    timestamp found at a caller-given offset inside each record.
 */
#ifndef PYBPF_H
#define PYBPF_H

#include <stddef.h>
#include <stdint.h>

/* Route libbpf's print callback into the calling thread's capture buffer. */
void pybpf_log_install(void);
/* Captured text since the last clear (NUL terminated); *len gets its length. */
const char *pybpf_log_text(size_t *len);
void pybpf_log_clear(void);

struct pybpf_reader;

/* Map each ring buffer (BPF_MAP_TYPE_RINGBUF fds; the caller keeps them open)
 * for reading. ts_offset < 0 disables timestamp merging (buffers are drained
 * in turn). Returns NULL with errno set on failure. */
struct pybpf_reader *pybpf_reader_new(const int *map_fds, int n, long ts_offset);
void pybpf_reader_free(struct pybpf_reader *r);

/* Copy up to max_records records (and at most cap bytes, each record starting
 * 8-byte aligned) into buf. For record i: offsets[i], lengths[i] and the index
 * of its ring buffer sources[i]. If nothing is available and timeout_ms != 0,
 * waits up to timeout_ms (-1: forever) for data first, looking at the rings
 * again every few ms even without a wakeup (producers may submit with
 * BPF_RB_NO_WAKEUP). Returns the number of
 * records, or -errno (-E2BIG: the next record is larger than cap). */
long pybpf_reader_read(struct pybpf_reader *r, uint8_t *buf, size_t cap,
                       uint32_t max_records, uint32_t *offsets,
                       uint32_t *lengths, uint16_t *sources, int timeout_ms);

/* Bytes written by producers and not yet consumed, over all buffers. */
uint64_t pybpf_reader_pending(struct pybpf_reader *r);

#endif
