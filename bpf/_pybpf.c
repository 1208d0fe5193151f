/* See _pybpf.h. The ring buffer layout read here is the kernel's BPF ring
 * buffer ABI (include/uapi/linux/bpf.h, kernel/bpf/ringbuf.c): a read-write
 * consumer-position page at mmap offset 0, then a read-only producer-position
 * page followed by the data area mapped twice back to back, so that a record
 * that wraps around the end is still contiguous in memory. Each record has an
 * 8-byte header {u32 len (BUSY/DISCARD bits on top), u32 pg_off} and records
 * are 8-byte aligned. */
#include "_pybpf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

/* ---- libbpf log capture ------------------------------------------------ */

#define LOG_CAP (4u << 20) /* verifier logs can be long; keep the tail */

static __thread char *log_buf;
static __thread size_t log_len, log_size;

static void log_append(const char *s, size_t n)
{
	if (n >= LOG_CAP) {
		s += n - LOG_CAP / 2;
		n = LOG_CAP / 2;
	}
	if (log_len + n + 1 > LOG_CAP) { /* drop the oldest half */
		size_t keep = log_len / 2;
		memmove(log_buf, log_buf + log_len - keep, keep);
		log_len = keep;
	}
	if (log_len + n + 1 > log_size) {
		size_t sz = log_size ? log_size : 4096;
		while (sz < log_len + n + 1)
			sz *= 2;
		char *nb = realloc(log_buf, sz);
		if (!nb)
			return;
		log_buf = nb;
		log_size = sz;
	}
	memcpy(log_buf + log_len, s, n);
	log_len += n;
	log_buf[log_len] = '\0';
}

static int log_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int saved = errno; /* libbpf sets errno after printing; never clobber it */
	char small[1024];
	va_list ap2;

	if (level == LIBBPF_DEBUG)
		return 0;
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n >= (int)sizeof(small)) {
		char *big = malloc((size_t)n + 1);
		if (big) {
			vsnprintf(big, (size_t)n + 1, fmt, ap2);
			log_append(big, (size_t)n);
			free(big);
		}
	} else if (n > 0) {
		log_append(small, (size_t)n);
	}
	va_end(ap2);
	errno = saved;
	return 0;
}

void pybpf_log_install(void)
{
	libbpf_set_print(log_print);
}

const char *pybpf_log_text(size_t *len)
{
	*len = log_len;
	return log_len ? log_buf : "";
}

void pybpf_log_clear(void)
{
	log_len = 0;
}

/* ---- batch ring buffer reader ----------------------------------------- */

struct ring {
	int fd;
	uint64_t mask;
	size_t data_size;
	uint64_t *consumer_pos; /* shared with the kernel (rw page) */
	uint64_t *producer_pos; /* shared with the kernel (ro page) */
	uint8_t *data;
	uint64_t cons;     /* our consumer position, published at batch end */
	uint64_t prod;     /* last producer position seen */
	int has_head;      /* head record below is valid */
	const uint8_t *head;
	uint32_t head_len;
	uint64_t head_ts;
};

struct pybpf_reader {
	int n;
	long ts_offset;
	int epfd;
	int next; /* round-robin start when not merging */
	size_t page;
	struct ring rings[];
};

static void ring_unmap(struct ring *rg, size_t page)
{
	if (rg->consumer_pos)
		munmap(rg->consumer_pos, page);
	if (rg->producer_pos)
		munmap(rg->producer_pos, page + 2 * rg->data_size);
}

void pybpf_reader_free(struct pybpf_reader *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n; i++)
		ring_unmap(&r->rings[i], r->page);
	if (r->epfd >= 0)
		close(r->epfd);
	free(r);
}

static int ring_map(struct ring *rg, int fd, size_t page)
{
	struct bpf_map_info info;
	uint32_t info_len = sizeof(info);
	void *p;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_RINGBUF)
		return -EINVAL;
	rg->fd = fd;
	rg->data_size = info.max_entries;
	rg->mask = info.max_entries - 1;
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	rg->consumer_pos = p;
	p = mmap(NULL, page + 2 * rg->data_size, PROT_READ, MAP_SHARED, fd, (off_t)page);
	if (p == MAP_FAILED)
		return -errno;
	rg->producer_pos = p;
	rg->data = (uint8_t *)p + page;
	rg->cons = __atomic_load_n(rg->consumer_pos, __ATOMIC_ACQUIRE);
	rg->prod = rg->cons;
	return 0;
}

struct pybpf_reader *pybpf_reader_new(const int *map_fds, int n, long ts_offset)
{
	struct pybpf_reader *r;
	int err = 0;

	if (n <= 0 || n > 65535) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r) + (size_t)n * sizeof(struct ring));
	if (!r)
		return NULL;
	r->page = (size_t)sysconf(_SC_PAGESIZE);
	r->ts_offset = ts_offset;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0) {
		err = -errno;
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

		r->n = i + 1;
		err = ring_map(&r->rings[i], map_fds[i], r->page);
		if (err)
			goto fail;
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, map_fds[i], &ev)) {
			err = -errno;
			goto fail;
		}
	}
	return r;
fail:
	pybpf_reader_free(r);
	errno = -err;
	return NULL;
}

/* Find the oldest committed, non-discarded record of a ring (if any). */
static int ring_peek(struct ring *rg, long ts_offset)
{
	if (rg->has_head)
		return 1;
	for (;;) {
		if (rg->cons == rg->prod) {
			rg->prod = __atomic_load_n(rg->producer_pos, __ATOMIC_ACQUIRE);
			if (rg->cons == rg->prod)
				return 0;
		}
		const uint32_t *hdr = (const uint32_t *)(rg->data + (rg->cons & rg->mask));
		uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
		if (len & BPF_RINGBUF_BUSY_BIT)
			return 0; /* reserved, not yet committed: later records wait */
		uint32_t size = len & ~(uint32_t)(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		if (len & BPF_RINGBUF_DISCARD_BIT) {
			rg->cons += ((uint64_t)size + BPF_RINGBUF_HDR_SZ + 7) & ~7ull;
			continue;
		}
		rg->head = (const uint8_t *)hdr + BPF_RINGBUF_HDR_SZ;
		rg->head_len = size;
		rg->head_ts = 0;
		if (ts_offset >= 0 && (uint64_t)ts_offset + 8 <= size)
			memcpy(&rg->head_ts, rg->head + ts_offset, 8);
		rg->has_head = 1;
		return 1;
	}
}

static int pick_ring(struct pybpf_reader *r)
{
	int best = -1;

	if (r->ts_offset < 0) {
		for (int k = 0; k < r->n; k++) {
			int i = (r->next + k) % r->n;
			if (ring_peek(&r->rings[i], -1))
				return r->next = i;
		}
		return -1;
	}
	for (int i = 0; i < r->n; i++) {
		if (ring_peek(&r->rings[i], r->ts_offset) &&
		    (best < 0 || r->rings[i].head_ts < r->rings[best].head_ts))
			best = i;
	}
	return best;
}

static long read_once(struct pybpf_reader *r, uint8_t *buf, size_t cap,
		      uint32_t max_records, uint32_t *offsets, uint32_t *lengths,
		      uint16_t *sources)
{
	size_t off = 0;
	long count = 0;
	long err = 0;

	while ((uint32_t)count < max_records) {
		int i = pick_ring(r);
		if (i < 0)
			break;
		struct ring *rg = &r->rings[i];
		if (off + rg->head_len > cap) {
			if (count == 0)
				err = -E2BIG;
			break;
		}
		memcpy(buf + off, rg->head, rg->head_len);
		offsets[count] = (uint32_t)off;
		lengths[count] = rg->head_len;
		sources[count] = (uint16_t)i;
		count++;
		off = (off + rg->head_len + 7) & ~(size_t)7;
		rg->cons += ((uint64_t)rg->head_len + BPF_RINGBUF_HDR_SZ + 7) & ~7ull;
		rg->has_head = 0;
	}
	/* Publish consumer positions once per batch: frees the space for the
	 * producers and tells the kernel when to wake us next. */
	for (int i = 0; i < r->n; i++) {
		struct ring *rg = &r->rings[i];
		if (__atomic_load_n(rg->consumer_pos, __ATOMIC_RELAXED) != rg->cons)
			__atomic_store_n(rg->consumer_pos, rg->cons, __ATOMIC_RELEASE);
	}
	return err ? err : count;
}

/* Longest wait between two looks at the rings (see pybpf_reader_read). */
#define PYBPF_READER_POLL_MS 4

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

long pybpf_reader_read(struct pybpf_reader *r, uint8_t *buf, size_t cap,
		       uint32_t max_records, uint32_t *offsets,
		       uint32_t *lengths, uint16_t *sources, int timeout_ms)
{
	long n = read_once(r, buf, cap, max_records, offsets, lengths, sources);
	struct epoll_event evs[16];
	long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;

	if (n != 0 || timeout_ms == 0 || max_records == 0)
		return n;
	/* Producers may submit without a wakeup (BPF_RB_NO_WAKEUP, as a probe does
	 * to keep wakeups off its hot path), so the wait is cut into slices of at
	 * most PYBPF_READER_POLL_MS after which the rings are looked at again. */
	for (;;) {
		int slice = PYBPF_READER_POLL_MS;
		if (timeout_ms > 0) {
			long long left = deadline - now_ms();
			if (left <= 0)
				return 0;
			if (left < slice)
				slice = (int)left;
		}
		if (epoll_wait(r->epfd, evs, 16, slice) < 0)
			return errno == EINTR ? 0 : -errno;
		n = read_once(r, buf, cap, max_records, offsets, lengths, sources);
		if (n != 0)
			return n;
	}
}

uint64_t pybpf_reader_pending(struct pybpf_reader *r)
{
	uint64_t total = 0;

	for (int i = 0; i < r->n; i++) {
		struct ring *rg = &r->rings[i];
		total += __atomic_load_n(rg->producer_pos, __ATOMIC_ACQUIRE) - rg->cons;
	}
	return total;
}
