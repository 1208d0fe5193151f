/* The hot loop of libscap.savefile.reader in C: walk the EV_V2/EVF_V2 blocks
 * (and their _LARGE variants) of a chunk, check each the way the reader's
 * general path does, and write one packed record per event. The loop stops at
 * the first block it does not handle (another type, incomplete, or malformed);
 * the Python general path then reads that block and reports any error with its
 * precise offset, so this file never needs to describe a fault. */
#include <string.h>

#include "_scan.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "_scan.c reads the little-endian .scap layout with native loads"
#endif

#define EVENT_HEADER_LEN 26

static uint8_t g_max_params[1 << 16];
static uint8_t g_len_width[1 << 16];
static uint32_t g_ev_v2, g_ev_v2_large, g_evf_v2, g_evf_v2_large;
static uint32_t g_max_event_block_len;

static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

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
