/* The hot loops of libscap.savefile.reader in C.
 *
 * 1. scan_events: walk the EV_V2/EVF_V2 blocks
 * (and their _LARGE variants) of a chunk, check each the way the reader's
 * general path does, and write one packed record per event. The loop stops at
 * the first block it does not handle (another type, incomplete, or malformed);
 * the Python general path then reads that block and reports any error with its
 * precise offset, so this file never needs to describe a fault.
 * 2. gz_*: gzip inflation in a native thread (see below). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "_bytes.h"
#include "_scan.h"

#define EVENT_HEADER_LEN 26

static uint8_t g_max_params[1 << 16];
static uint8_t g_len_width[1 << 16];
static uint32_t g_ev_v2, g_ev_v2_large, g_evf_v2, g_evf_v2_large;
static uint32_t g_max_event_block_len;

/* The per-type tables (65536 entries each) and block constants come from the
 * Python side once, so the schema and the block numbers have one definition. */
void scan_init(const uint8_t *max_params, const uint8_t *len_width, const uint32_t block_types[4],
               uint32_t max_event_block_len)
{
    memcpy(g_max_params, max_params, sizeof g_max_params);
    memcpy(g_len_width, len_width, sizeof g_len_width);
    g_ev_v2 = block_types[0];
    g_ev_v2_large = block_types[1];
    g_evf_v2 = block_types[2];
    g_evf_v2_large = block_types[3];
    g_max_event_block_len = max_event_block_len;
}

/* Records for the event blocks of chunk[pos:end] (at most max_records), numbered
 * from num + 1; *stop is the offset of the first block not consumed. */
size_t scan_events(const char *chunk, size_t pos, size_t end, uint64_t num, uint8_t *out,
                   size_t max_records, size_t *stop)
{
    const uint8_t *b = (const uint8_t *)chunk;
    size_t n = 0;

    while (n < max_records && pos <= end && end - pos >= 8) {
        const uint8_t *blk = b + pos;
        uint32_t btype = rd32(blk), blen = rd32(blk + 4);
        uint32_t head, min_len, flags = 0;
        int large;

        if (btype == g_ev_v2 || btype == g_ev_v2_large) {
            head = 2;       /* cpu */
            min_len = 40;
            large = btype == g_ev_v2_large;
        } else if (btype == g_evf_v2 || btype == g_evf_v2_large) {
            head = 6;       /* cpu, flags */
            min_len = 44;
            large = btype == g_evf_v2_large;
            flags = rd32(blk + 10);
        } else {
            break;
        }
        if (blen < min_len || (!large && blen > g_max_event_block_len) || blen > end - pos)
            break;
        if (rd32(blk + blen - 4) != blen)
            break;

        const uint8_t *e = blk + 8 + head;
        uint32_t elen = rd32(e + 16);
        uint16_t etype = rd16(e + 20);
        uint32_t nparams = rd32(e + 22);
        if (elen < EVENT_HEADER_LEN || elen > blen - 12 - head || nparams > g_max_params[etype]
            || EVENT_HEADER_LEN + (uint64_t)g_len_width[etype] * nparams > elen)
            break;

        uint8_t *r = out + n * SCAN_RECORD_SIZE;
        uint64_t off = pos + 8 + head, evnum = num + n + 1;
        memcpy(r, &off, 8);
        memcpy(r + 8, e, 16);          /* ts, tid */
        memcpy(r + 24, &elen, 4);
        memcpy(r + 28, &etype, 2);
        memcpy(r + 30, &nparams, 4);
        memcpy(r + 34, blk + 8, 2);    /* cpu */
        memcpy(r + 36, &evnum, 8);
        memcpy(r + 44, &flags, 4);
        n++;
        pos += blen;
    }
    *stop = pos;
    return n;
}

/* ---- gzip inflation in a native thread ------------------------------------
 * A pthread reads the file and inflates it into a ring of GZ_SLOTS buffers of
 * slot_size bytes each; the reader takes one filled slot per gz_next() call.
 * The thread never touches Python, so it runs on another core without the GIL
 * handoffs a Python inflate thread needs for every piece; gz_next() is called
 * through cffi, which releases the GIL while it waits. Memory is bounded by
 * the ring whatever the compression ratio (a gzip bomb costs time only).
 * Concatenated gzip members are inflated one after the other, as gzread does. */
#define GZ_SLOTS 3
#define GZ_IN_SIZE (1u << 20)

struct gz_reader {
    int fd;
    size_t slot_size;
    uint8_t *slot[GZ_SLOTS];
    size_t len[GZ_SLOTS];
    unsigned filled, taken; /* slots produced / handed out so far (mod GZ_SLOTS = index) */
    int done;               /* producer finished: end of stream or error */
    int stop;               /* consumer asked the producer to quit */
    int held;               /* the consumer still holds slot (taken - 1) */
    char error[256];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void gz_fail(struct gz_reader *g, const char *fmt, const char *detail)
{
    pthread_mutex_lock(&g->mu);
    snprintf(g->error, sizeof g->error, fmt, detail ? detail : "");
    pthread_mutex_unlock(&g->mu);
}

/* Wait for a free slot; returns its index, or -1 if the consumer stopped us. */
static int gz_wait_free(struct gz_reader *g)
{
    pthread_mutex_lock(&g->mu);
    while (!g->stop && g->filled - g->taken + (unsigned)g->held >= GZ_SLOTS)
        pthread_cond_wait(&g->cv, &g->mu);
    int idx = g->stop ? -1 : (int)(g->filled % GZ_SLOTS);
    pthread_mutex_unlock(&g->mu);
    return idx;
}

static void gz_publish(struct gz_reader *g, size_t n)
{
    pthread_mutex_lock(&g->mu);
    g->len[g->filled % GZ_SLOTS] = n;
    g->filled++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void *gz_thread(void *arg)
{
    struct gz_reader *g = arg;
    z_stream zs;
    uint8_t *in = malloc(GZ_IN_SIZE);
    int at_member_end = 0; /* between members: end of input here is a clean end */
    int idx = -1;
    size_t out_len = 0;

    memset(&zs, 0, sizeof zs);
    if (!in || inflateInit2(&zs, 15 + 16) != Z_OK) {
        gz_fail(g, "cannot start zlib%s", "");
        goto out;
    }
    for (;;) {
        if (zs.avail_in == 0) {
            ssize_t r;
            do
                r = read(g->fd, in, GZ_IN_SIZE);
            while (r < 0 && errno == EINTR);
            if (r < 0) {
                gz_fail(g, "read error: %s", strerror(errno));
                break;
            }
            if (r == 0) {
                if (!at_member_end)
                    gz_fail(g, "compressed data ended before the end of the gzip stream%s", "");
                break;
            }
            zs.next_in = in;
            zs.avail_in = (uInt)r;
        }
        if (idx < 0) {
            idx = gz_wait_free(g);
            if (idx < 0)
                break;
            out_len = 0;
        }
        zs.next_out = g->slot[idx] + out_len;
        zs.avail_out = (uInt)(g->slot_size - out_len);
        int ret = inflate(&zs, Z_NO_FLUSH);
        out_len = g->slot_size - zs.avail_out;
        if (ret == Z_STREAM_END) {
            at_member_end = 1;
            if (inflateReset(&zs) != Z_OK) {
                gz_fail(g, "gzip stream is corrupt: %s", zs.msg);
                break;
            }
        } else if (ret == Z_OK || ret == Z_BUF_ERROR) {
            if (zs.total_in > 0)
                at_member_end = 0;
        } else {
            gz_fail(g, "gzip stream is corrupt: %s", zs.msg ? zs.msg : zError(ret));
            break;
        }
        if (out_len == g->slot_size) {
            gz_publish(g, out_len);
            idx = -1;
        }
    }
    if (idx >= 0 && out_len > 0 && !g->error[0])
        gz_publish(g, out_len);
    inflateEnd(&zs);
out:
    free(in);
    pthread_mutex_lock(&g->mu);
    g->done = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

struct gz_reader *gz_open(int fd, size_t slot_size)
{
    struct gz_reader *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->fd = fd;
    g->slot_size = slot_size;
    for (int i = 0; i < GZ_SLOTS; i++) {
        if (!(g->slot[i] = malloc(slot_size))) {
            for (int j = 0; j < i; j++)
                free(g->slot[j]);
            free(g);
            return NULL;
        }
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    if (pthread_create(&g->thread, NULL, gz_thread, g)) {
        for (int i = 0; i < GZ_SLOTS; i++)
            free(g->slot[i]);
        free(g);
        return NULL;
    }
    return g;
}

long gz_next(struct gz_reader *g, const uint8_t **data)
{
    long n;

    pthread_mutex_lock(&g->mu);
    if (g->held) { /* the previous slot is free again */
        g->held = 0;
        pthread_cond_broadcast(&g->cv);
    }
    while (g->filled == g->taken && !g->done)
        pthread_cond_wait(&g->cv, &g->mu);
    if (g->filled != g->taken) {
        unsigned idx = g->taken % GZ_SLOTS;
        *data = g->slot[idx];
        n = (long)g->len[idx];
        g->taken++;
        g->held = 1;
    } else {
        n = g->error[0] ? -1 : 0;
    }
    pthread_mutex_unlock(&g->mu);
    return n;
}

const char *gz_error(struct gz_reader *g)
{
    return g->error;
}

void gz_close(struct gz_reader *g)
{
    pthread_mutex_lock(&g->mu);
    g->stop = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    for (int i = 0; i < GZ_SLOTS; i++)
        free(g->slot[i]);
    free(g);
}

/* ---- live ring-buffer batches --------------------------------------------
 * Records for the events of a batch copied out of the BPF ring buffers: each
 * buf[offsets[i] : offsets[i] + lengths[i]] holds one PPM event. cpu is the
 * source ring's index when each ring serves one CPU (cpu_of_source), else
 * 0xFFFF (unknown). A record shorter than the event header, or whose header
 * claims more bytes than the ring record holds, is skipped (counted in
 * *skipped): the probe never writes one, so it can only be a probe bug. */
size_t records_from_batch(const uint8_t *buf, const uint32_t *offsets, const uint32_t *lengths,
                          const uint16_t *sources, size_t n, uint64_t num, int cpu_of_source,
                          uint8_t *out, size_t *skipped)
{
    size_t k = 0;

    *skipped = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = buf + offsets[i];
        uint32_t elen;
        if (lengths[i] < EVENT_HEADER_LEN || (elen = rd32(e + 16)) < EVENT_HEADER_LEN || elen > lengths[i]) {
            (*skipped)++;
            continue;
        }
        uint8_t *r = out + k * SCAN_RECORD_SIZE;
        uint64_t off = offsets[i], evnum = num + k + 1;
        uint16_t etype = rd16(e + 20), cpu = cpu_of_source ? sources[i] : 0xFFFF;
        uint32_t nparams = rd32(e + 22), flags = 0;
        memcpy(r, &off, 8);
        memcpy(r + 8, e, 16);          /* ts, tid */
        memcpy(r + 24, &elen, 4);
        memcpy(r + 28, &etype, 2);
        memcpy(r + 30, &nparams, 4);
        memcpy(r + 34, &cpu, 2);
        memcpy(r + 36, &evnum, 8);
        memcpy(r + 44, &flags, 4);
        k++;
    }
    return k;
}
