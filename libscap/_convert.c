/* The per-event loop of libscap.savefile.converter in C.
 *
 * The conversion rules are compiled in Python (converter.plan) into plans of
 * plain numbers and bytes, one per (event type, parameter count); conv_init
 * receives all of them once. conv_run then turns packed event records (the
 * reader's, see _scan.h) into the records of the converted stream, in place:
 *
 *   - an event whose plan is "pass" keeps its record as is (no copy of any
 *     byte, the Event made from it is a view into the reader's chunk);
 *   - an event that is dropped (or only stored) leaves no record;
 *   - a converted event is built into the converter's arena, and its record's
 *     off has CONV_ARENA_BIT set: the offset is then into the arena, which the
 *     Python side takes (conv_arena) after the batch;
 *   - the enter events of the "store" actions are kept per thread in a hash
 *     map tid -> (type, parameter lengths and bytes), bounded (see below).
 *
 * The semantics (eligibility, steps, instructions, which stored enter is
 * used and when it is forgotten) are documented in converter.py; this file
 * follows them step by step, side effects included, so that a failing event
 * leaves the same state as the Python reference (tests/converter_reference.py).
 * conv_run stops, with the record index in *done, at an event it rejects
 * (CONV_REJECT; the reason in conv_error) and before an event whose plan needs
 * a from_callback value (CONV_CALLBACK): the Python side computes the values,
 * hands them over with conv_set_callback and calls conv_run again from there.
 *
 * Every length is checked before it is used: records may come from any Event
 * object (the converter is public), so even an event's extent in its buffer is
 * verified here. */
#include <stdlib.h>
#include <string.h>

#include "_bytes.h"
#include "_scan.h"

#define HDR 26
#define MAX_INSTRS 64

/* ---- the plans (read-only after conv_init) ------------------------------ */

static unsigned g_ntypes;
static struct conv_plan *g_plans;      /* [g_ntypes * CONV_NPARAMS_SLOTS] */
static struct conv_step *g_steps;
static size_t g_nsteps;
static struct conv_instr *g_instrs;
static size_t g_ninstrs;
static uint8_t *g_fallbacks;
static size_t g_fallbacks_len;

static void *dup_mem(const void *src, size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p && n)
        memcpy(p, src, n);
    return p;
}

int conv_init(unsigned ntypes, const struct conv_plan *plans, const struct conv_step *steps, size_t nsteps,
              const struct conv_instr *instrs, size_t ninstrs, const uint8_t *fallbacks, size_t fallbacks_len)
{
    /* validate the references between the tables once, so conv_run can trust them */
    for (size_t i = 0; i < (size_t)ntypes * CONV_NPARAMS_SLOTS; i++) {
        const struct conv_plan *p = &plans[i];
        if (p->verdict == CONV_STEPS && (uint64_t)p->first_step + p->n_steps > nsteps)
            return -1;
    }
    for (size_t i = 0; i < nsteps; i++) {
        const struct conv_step *s = &steps[i];
        if ((uint64_t)s->first_instr + s->n_instrs > ninstrs || s->n_instrs > MAX_INSTRS
            || (s->width != 2 && s->width != 4) || (s->new_width != 2 && s->new_width != 4))
            return -1;
    }
    for (size_t i = 0; i < ninstrs; i++) {
        const struct conv_instr *in = &instrs[i];
        if ((uint64_t)in->fallback_off + in->fallback_len > fallbacks_len)
            return -1;
    }
    struct conv_plan *np = dup_mem(plans, (size_t)ntypes * CONV_NPARAMS_SLOTS * sizeof *plans);
    struct conv_step *ns = dup_mem(steps, nsteps * sizeof *steps);
    struct conv_instr *ni = dup_mem(instrs, ninstrs * sizeof *instrs);
    uint8_t *nf = dup_mem(fallbacks, fallbacks_len);
    if (!np || !ns || !ni || !nf) {
        free(np), free(ns), free(ni), free(nf);
        return -2;
    }
    free(g_plans), free(g_steps), free(g_instrs), free(g_fallbacks);
    g_plans = np, g_steps = ns, g_instrs = ni, g_fallbacks = nf;
    g_nsteps = nsteps, g_ninstrs = ninstrs, g_fallbacks_len = fallbacks_len;
    g_ntypes = ntypes;
    return 0;
}

/* ---- the converter's state --------------------------------------------- */

/* One stored enter event: its type, parameter count and length width, and
 * its parameter lengths followed by the parameter bytes (the event without
 * its header). tid 0 with data NULL marks a free slot. */
struct stored {
    uint64_t tid, ts;
    uint8_t *data;
    uint32_t len;
    uint16_t type;
    uint8_t nparams, width;
};

struct conv {
    struct stored *tab; /* open addressing, linear probing, capacity a power of 2 */
    size_t cap, count, bytes;
    uint64_t evicted;
    uint8_t *arena;
    size_t arena_len, arena_cap;
    uint8_t *scratch[2];
    size_t scratch_cap[2];
    /* callback values for the event conv_run stopped before */
    int cb_ready;
    uint8_t cb_state[MAX_INSTRS]; /* 0 none, 1 value, 2 fallback */
    uint8_t *cb_data[MAX_INSTRS];
    uint32_t cb_len[MAX_INSTRS];
    struct conv_error err;
};

struct conv *conv_new(void)
{
    struct conv *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cap = 256;
    c->tab = calloc(c->cap, sizeof *c->tab);
    if (!c->tab) {
        free(c);
        return NULL;
    }
    return c;
}

static void cb_clear(struct conv *c)
{
    for (int i = 0; i < MAX_INSTRS; i++) {
        free(c->cb_data[i]);
        c->cb_data[i] = NULL;
        c->cb_state[i] = 0;
    }
    c->cb_ready = 0;
}

void conv_free(struct conv *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->cap; i++)
        free(c->tab[i].data);
    free(c->tab);
    free(c->arena);
    free(c->scratch[0]);
    free(c->scratch[1]);
    cb_clear(c);
    free(c);
}

static inline size_t slot_of(const struct conv *c, uint64_t tid)
{
    return (size_t)((tid * 0x9E3779B97F4A7C15ull) >> 32) & (c->cap - 1);
}

static inline int is_used(const struct stored *s) { return s->data != NULL; }

static struct stored *find(struct conv *c, uint64_t tid)
{
    for (size_t i = slot_of(c, tid);; i = (i + 1) & (c->cap - 1)) {
        struct stored *s = &c->tab[i];
        if (!is_used(s))
            return NULL;
        if (s->tid == tid)
            return s;
    }
}

/* Remove a used slot (backward-shift deletion keeps the probe chains whole). */
static void remove_slot(struct conv *c, struct stored *s)
{
    size_t i = (size_t)(s - c->tab), mask = c->cap - 1;
    free(s->data);
    c->bytes -= s->len;
    c->count--;
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        struct stored *t = &c->tab[j];
        if (!is_used(t))
            break;
        size_t home = slot_of(c, t->tid);
        /* t may move to i if its home is not in the cyclic range (i, j] */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            c->tab[i] = *t;
            i = j;
        }
    }
    memset(&c->tab[i], 0, sizeof c->tab[i]);
}

static void place(struct conv *c, const struct stored *s)
{
    size_t i = slot_of(c, s->tid);
    while (is_used(&c->tab[i]))
        i = (i + 1) & (c->cap - 1);
    c->tab[i] = *s;
}

static int rehash(struct conv *c, size_t new_cap)
{
    struct stored *old = c->tab;
    size_t old_cap = c->cap;
    struct stored *tab = calloc(new_cap, sizeof *tab);
    if (!tab)
        return -1;
    c->tab = tab;
    c->cap = new_cap;
    for (size_t i = 0; i < old_cap; i++)
        if (is_used(&old[i]))
            place(c, &old[i]);
    free(old);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The bound on stored enter events: when CONV_STORED_MAX events or
 * CONV_STORED_MAX_BYTES bytes are reached, the older half (by timestamp) is
 * forgotten. A real capture holds one pending enter per thread inside a
 * syscall, far below it; the bound is for hostile or broken captures. */
static int evict_older_half(struct conv *c)
{
    uint64_t *ts = malloc(c->count * sizeof *ts);
    size_t n = 0;
    if (!ts)
        return -1;
    for (size_t i = 0; i < c->cap; i++)
        if (is_used(&c->tab[i]))
            ts[n++] = c->tab[i].ts;
    qsort(ts, n, sizeof *ts, cmp_u64);
    uint64_t cutoff = ts[n / 2];
    int inclusive = ts[0] == cutoff; /* all in the older half share the cutoff: drop them too */
    free(ts);
    for (size_t i = 0; i < c->cap; i++) {
        struct stored *s = &c->tab[i];
        if (is_used(s) && (s->ts < cutoff || (inclusive && s->ts == cutoff))) {
            free(s->data);
            c->bytes -= s->len;
            c->count--;
            c->evicted++;
            memset(s, 0, sizeof *s);
        }
    }
    return rehash(c, c->cap); /* the holes broke probe chains: place everything again */
}

static int store(struct conv *c, uint64_t tid, uint64_t ts, uint16_t type, uint8_t nparams, uint8_t width,
                 const uint8_t *data, uint32_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, data, len);
    struct stored *s = find(c, tid);
    if (s) {
        free(s->data);
        c->bytes -= s->len;
    } else {
        if (c->count + 1 > CONV_STORED_MAX || c->bytes + len > CONV_STORED_MAX_BYTES) {
            if (c->count && evict_older_half(c) < 0) {
                free(copy);
                return -1;
            }
        }
        if ((c->count + 1) * 2 > c->cap && rehash(c, c->cap * 2) < 0) {
            free(copy);
            return -1;
        }
        size_t i = slot_of(c, tid);
        while (is_used(&c->tab[i]))
            i = (i + 1) & (c->cap - 1);
        s = &c->tab[i];
        c->count++;
    }
    s->tid = tid, s->ts = ts, s->data = copy, s->len = len, s->type = type, s->nparams = nparams, s->width = width;
    c->bytes += len;
    return 0;
}

size_t conv_stored(struct conv *c, uint64_t *evicted)
{
    *evicted = c->evicted;
    return c->count;
}

/* ---- growable buffers -------------------------------------------------- */

static uint8_t *reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (need > *cap) {
        size_t n = *cap ? *cap : 4096;
        while (n < need)
            n *= 2;
        uint8_t *p = realloc(*buf, n);
        if (!p)
            return NULL;
        *buf = p;
        *cap = n;
    }
    return *buf;
}

const uint8_t *conv_arena(struct conv *c, size_t *len)
{
    *len = c->arena_len;
    c->arena_len = 0;
    return c->arena;
}

int conv_set_callback(struct conv *c, unsigned instr, const uint8_t *data, size_t len, int use_fallback)
{
    if (instr >= MAX_INSTRS)
        return -1;
    free(c->cb_data[instr]);
    c->cb_data[instr] = NULL;
    if (use_fallback) {
        c->cb_state[instr] = 2;
    } else {
        if (len > UINT32_MAX || !(c->cb_data[instr] = dup_mem(data, len)))
            return -1;
        c->cb_len[instr] = (uint32_t)len;
        c->cb_state[instr] = 1;
    }
    c->cb_ready = 1;
    return 0;
}

const struct conv_error *conv_error(struct conv *c)
{
    return &c->err;
}

/* ---- one event ---------------------------------------------------------- */

static int fail(struct conv *c, int code, uint32_t a, uint32_t b, uint32_t d)
{
    c->err.code = code, c->err.a = a, c->err.b = b, c->err.c = d;
    return code;
}

/* Where the parameters of the event ev[0:len] (n of them, lengths of width
 * bytes) are: *data the offset of the first byte, *total their sum. */
static int param_lengths(const uint8_t *ev, uint32_t len, uint32_t n, unsigned width, uint32_t *data, uint64_t *total)
{
    uint64_t d = HDR + (uint64_t)width * n, sum = 0;
    if (d > len)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        sum += width == 4 ? rd32(ev + HDR + 4 * i) : rd16(ev + HDR + 2 * i);
    if (d + sum > len)
        return -1;
    *data = (uint32_t)d;
    *total = sum;
    return 0;
}

static inline uint32_t len_at(const uint8_t *lens, unsigned width, uint32_t i)
{
    return width == 4 ? rd32(lens + 4 * i) : rd16(lens + 2 * i);
}

/* Parameter i of a parameter block (lengths of `width` bytes at lens, the values
 * from `values` on) and, in *n, its length cut to max_len. */
static const uint8_t *param_at(const uint8_t *lens, unsigned width, const uint8_t *values, uint32_t i,
                               uint32_t max_len, uint32_t *n)
{
    for (uint32_t j = 0; j < i; j++)
        values += len_at(lens, width, j);
    *n = len_at(lens, width, i);
    if (*n > max_len)
        *n = max_len;
    return values;
}

/* One conversion step of the event src[0:srclen] (record fields ts, tid)
 * into scratch buffer `which`; the result in *out/*outlen. */
static int do_step(struct conv *c, const struct conv_step *s, int first, const uint8_t *src, uint32_t srclen,
                   uint64_t ts, uint64_t tid, int which, const uint8_t **out, uint32_t *outlen)
{
    uint32_t data;
    uint64_t old_total;
    if (param_lengths(src, srclen, s->old_nparams, s->width, &data, &old_total) < 0)
        return fail(c, CONV_ERR_OVERRUN, srclen, 0, 0);

    struct stored *enter = find(c, tid);
    if (enter && (int)enter->type != (int)s->old_type - 1)
        enter = NULL; /* a stale enter of another syscall: see converter.py */
    int used_enter = 0;

    const uint8_t *vptr[MAX_INSTRS];
    uint32_t vlen[MAX_INSTRS];
    uint64_t body = 0;
    const struct conv_instr *ins = &g_instrs[s->first_instr];
    for (unsigned k = 0; k < s->n_instrs; k++) {
        const struct conv_instr *in = &ins[k];
        const uint8_t *p = g_fallbacks + in->fallback_off;
        uint32_t n = in->fallback_len;
        switch (in->source) {
        case CONV_FROM_ENTER:
            if (!enter)
                break;
            if (in->param >= enter->nparams)
                return fail(c, CONV_ERR_ENTER_PARAM, in->param, enter->type, enter->nparams);
            p = param_at(enter->data, enter->width, enter->data + (uint32_t)enter->nparams * enter->width,
                         in->param, in->max_len, &n);
            used_enter = 1;
            break;
        case CONV_FROM_OLD:
            if (in->param >= s->old_nparams)
                return fail(c, CONV_ERR_INTERNAL, 0, 0, 0);
            p = param_at(src + HDR, s->width, src + data, in->param, in->max_len, &n);
            break;
        case CONV_FROM_CALLBACK:
            if (!first || !c->cb_ready || !c->cb_state[k])
                return fail(c, CONV_ERR_INTERNAL, 1, 0, 0);
            if (c->cb_state[k] == 1) {
                p = c->cb_data[k];
                n = c->cb_len[k];
            }
            break;
        default: /* from_empty, from_default: the fallback */
            break;
        }
        vptr[k] = p;
        vlen[k] = n;
        body += n;
    }

    unsigned nw = s->new_width;
    uint64_t total;
    if (s->kind == CONV_ADD_PARAMS)
        total = (uint64_t)data + (uint64_t)nw * s->n_instrs + old_total + body;
    else
        total = HDR + (uint64_t)nw * s->n_instrs + body;
    if (total > UINT32_MAX)
        return fail(c, CONV_ERR_TOO_LARGE, 0, 0, 0);
    uint8_t *dst = reserve(&c->scratch[which], &c->scratch_cap[which], total);
    if (!dst)
        return fail(c, CONV_ERR_NOMEM, 0, 0, 0);

    uint8_t *w = dst + HDR;
    if (s->kind == CONV_ADD_PARAMS) {
        memcpy(w, src + HDR, data - HDR); /* the old lengths */
        w += data - HDR;
    }
    for (unsigned k = 0; k < s->n_instrs; k++, w += nw) {
        if (nw == 4)
            wr32(w, vlen[k]);
        else
            wr16(w, (uint16_t)vlen[k]); /* capped at max_len 0xFFFF by the plan */
    }
    if (s->kind == CONV_ADD_PARAMS) {
        memcpy(w, src + data, old_total);
        w += old_total;
    }
    for (unsigned k = 0; k < s->n_instrs; k++) {
        memcpy(w, vptr[k], vlen[k]);
        w += vlen[k];
    }
    wr64(dst, ts);
    wr64(dst + 8, tid);
    wr32(dst + 16, (uint32_t)total);
    wr16(dst + 20, s->new_type);
    wr32(dst + 22, s->new_nparams);
    if (used_enter)
        remove_slot(c, enter); /* nothing stored or removed since it was found */
    *out = dst;
    *outlen = (uint32_t)total;
    return 0;
}

/* ---- the batch loop ----------------------------------------------------- */

int conv_run(struct conv *c, const uint8_t *buf, size_t buflen, const uint8_t *in, size_t n, uint8_t *out,
             size_t *done, size_t *nout)
{
    size_t k = 0, i;
    int rc = CONV_OK;

    if (!g_plans) {
        fail(c, CONV_ERR_INTERNAL, 2, 0, 0);
        *done = *nout = 0;
        return CONV_REJECT;
    }
    for (i = 0; i < n; i++) {
        const uint8_t *r = in + i * SCAN_RECORD_SIZE;
        uint16_t etype = rd16(r + 28);
        uint32_t nparams = rd32(r + 30);
        if (etype >= g_ntypes)
            continue; /* beyond the table: dropped */
        const struct conv_plan *p =
            &g_plans[(size_t)etype * CONV_NPARAMS_SLOTS
                     + (nparams < CONV_NPARAMS_SLOTS ? nparams : CONV_NPARAMS_SLOTS - 1)];
        if (p->verdict == CONV_PASS) {
            if (out + k * SCAN_RECORD_SIZE != r)
                memmove(out + k * SCAN_RECORD_SIZE, r, SCAN_RECORD_SIZE);
            k++;
            continue;
        }
        if (p->verdict == CONV_DROP)
            continue;
        if (p->verdict != CONV_STEPS) {
            fail(c, CONV_ERR_PLAN, 0, 0, 0);
            rc = CONV_REJECT;
            break;
        }
        if (p->callbacks && !c->cb_ready) {
            rc = CONV_CALLBACK;
            break;
        }

        uint64_t off = rd64(r), ts = rd64(r + 8), tid = rd64(r + 16);
        uint32_t len = rd32(r + 24);
        if (off > buflen || len > buflen - off || len < HDR) {
            if (c->cb_ready)
                cb_clear(c); /* this event's callback values: not the next one's */
            fail(c, CONV_ERR_OVERRUN, len, 0, 0);
            rc = CONV_REJECT;
            break;
        }
        const uint8_t *cur = buf + off;
        uint32_t curlen = len;
        int err = 0;
        for (unsigned st = 0; st < p->n_steps && !err; st++)
            err = do_step(c, &g_steps[p->first_step + st], st == 0, cur, curlen, ts, tid, st & 1, &cur, &curlen);
        if (!err && p->store) {
            uint32_t data;
            uint64_t total;
            uint32_t cn = rd32(cur + 22);
            if (param_lengths(cur, curlen, cn, p->store, &data, &total) < 0)
                err = fail(c, CONV_ERR_OVERRUN, curlen, 0, 0);
            else if (cn > 0xFF)
                err = fail(c, CONV_ERR_INTERNAL, 3, 0, 0);
            else if (store(c, tid, ts, rd16(cur + 20), (uint8_t)cn, p->store, cur + HDR, (uint32_t)(data - HDR + total)) < 0)
                err = fail(c, CONV_ERR_NOMEM, 0, 0, 0);
        }
        if (c->cb_ready)
            cb_clear(c);
        if (err) {
            rc = CONV_REJECT;
            break;
        }
        if (!p->deliver)
            continue;
        uint8_t *o = out + k * SCAN_RECORD_SIZE;
        if (p->n_steps == 0) { /* stored and passed unchanged */
            if (o != r)
                memmove(o, r, SCAN_RECORD_SIZE);
            k++;
            continue;
        }
        uint8_t *a = reserve(&c->arena, &c->arena_cap, c->arena_len + curlen);
        if (!a) {
            fail(c, CONV_ERR_NOMEM, 0, 0, 0);
            rc = CONV_REJECT;
            break;
        }
        memcpy(a + c->arena_len, cur, curlen);
        uint64_t aoff = c->arena_len | CONV_ARENA_BIT;
        uint16_t ntype = rd16(cur + 20);
        uint32_t nn = rd32(cur + 22);
        c->arena_len += curlen;
        memmove(o + 36, r + 36, 12); /* num, flags (before o's other fields overwrite r's when o == r) */
        uint16_t cpu = rd16(r + 34);
        wr64(o, aoff);
        wr64(o + 8, ts);
        wr64(o + 16, tid);
        wr32(o + 24, curlen);
        wr16(o + 28, ntype);
        wr32(o + 30, nn);
        wr16(o + 34, cpu);
        k++;
    }
    *done = i;
    *nout = k;
    return rc;
}
