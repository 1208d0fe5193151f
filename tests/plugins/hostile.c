/* Test plugin for fuzzing the plugin boundary: an event source ("hostile", id 998)
 * and field extractor whose answers come from the fuzzer.
 *
 * - Events: the file named by the open params holds records [u32 size][bytes]; each
 *   record is returned verbatim as an ss_plugin_event (header fields included, so
 *   len/type/nparams/parameter lengths are whatever the fuzzer wrote). The buffer
 *   behind each event is at least as long as its len field claims (zero padded; len
 *   is capped at 4 MiB), so every malformation is in the event, not in memory.
 * - Fields: plugin_get_fields returns $HOSTILE_FIELDS when set (invalid JSON, wrong
 *   shapes...), else the fields below. Name and version come from $HOSTILE_NAME /
 *   $HOSTILE_VERSION when set (non-UTF-8, invalid versions).
 * - Extraction, from the event's bytes: hostile.str is the bytes after the first 38
 *   (a plugin event's header, lengths and id) up to the first NUL (non-UTF-8 as they come); hostile.big is a 1 MiB
 *   string; hostile.list has (first payload byte) entries; hostile.num is the u64 at
 *   the payload; hostile.ip is an address buffer of (second payload byte % 20) bytes;
 *   hostile.fail makes plugin_extract_fields fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin_api.h"

#define MAX_EVT (4u << 20)
#define BIG (1u << 20)

typedef struct {
	char err[PLUGIN_MAX_ERRLEN];
	char *big; char str[4096]; const char *sp[300]; uint64_t u64; uint8_t ip[32];
	ss_plugin_byte_buffer ipb;
} state_t;
typedef struct { uint8_t *data; size_t size, pos; uint8_t **bufs; ss_plugin_event **evts; uint32_t cap; } inst_t;

static const char *env_or(const char *name, const char *dflt) {
	const char *v = getenv(name);
	return v ? v : dflt;
}
const char *plugin_get_required_api_version(void) { return "3.10.0"; }
const char *plugin_get_version(void) { return env_or("HOSTILE_VERSION", "0.1.0"); }
const char *plugin_get_name(void) { return env_or("HOSTILE_NAME", "hostile"); }
const char *plugin_get_description(void) { return "returns whatever the fuzzer wants"; }
const char *plugin_get_contact(void) { return "tests"; }
uint32_t plugin_get_id(void) { return 998; }
const char *plugin_get_event_source(void) { return "hostile"; }
const char *plugin_get_extract_event_sources(void) { return "[\"hostile\"]"; }
const char *plugin_get_fields(void) {
	return env_or("HOSTILE_FIELDS", "["
	       "{\"type\":\"string\",\"name\":\"hostile.str\",\"desc\":\"payload text\"},"
	       "{\"type\":\"string\",\"name\":\"hostile.big\",\"desc\":\"1 MiB\"},"
	       "{\"type\":\"string\",\"name\":\"hostile.list\",\"desc\":\"list\",\"isList\":true},"
	       "{\"type\":\"uint64\",\"name\":\"hostile.num\",\"desc\":\"number\"},"
	       "{\"type\":\"ipaddr\",\"name\":\"hostile.ip\",\"desc\":\"address of odd size\"},"
	       "{\"type\":\"uint64\",\"name\":\"hostile.fail\",\"desc\":\"fails\"}"
	       "]");
}

ss_plugin_t *plugin_init(const ss_plugin_init_input *in, ss_plugin_rc *rc) {
	state_t *s = calloc(1, sizeof(*s));
	s->big = malloc(BIG + 1);
	memset(s->big, 0xff, BIG);
	s->big[BIG] = 0;
	*rc = SS_PLUGIN_SUCCESS;
	return s;
}
void plugin_destroy(ss_plugin_t *s) { free(((state_t *)s)->big); free(s); }
const char *plugin_get_last_error(ss_plugin_t *s) { return ((state_t *)s)->err; }

ss_instance_t *plugin_open(ss_plugin_t *s, const char *params, ss_plugin_rc *rc) {
	state_t *st = s;
	FILE *f = fopen(params, "rb");
	if(!f) { snprintf(st->err, sizeof(st->err), "cannot open %s", params); *rc = SS_PLUGIN_FAILURE; return NULL; }
	inst_t *h = calloc(1, sizeof(*h));
	fseek(f, 0, SEEK_END);
	h->size = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	h->data = malloc(h->size + 1);
	if(fread(h->data, 1, h->size, f) != h->size) h->size = 0;
	fclose(f);
	*rc = SS_PLUGIN_SUCCESS;
	return h;
}

static void free_batch(inst_t *h) {
	for(uint32_t i = 0; i < h->cap; i++) free(h->bufs[i]);
	free(h->bufs); free(h->evts);
	h->bufs = NULL; h->evts = NULL; h->cap = 0;
}
void plugin_close(ss_plugin_t *s, ss_instance_t *i) {
	inst_t *h = i;
	free_batch(h);
	free(h->data);
	free(h);
}

ss_plugin_rc plugin_next_batch(ss_plugin_t *s, ss_instance_t *i, uint32_t *nevts, ss_plugin_event ***evts) {
	inst_t *h = i;
	free_batch(h);
	h->bufs = calloc(8, sizeof(*h->bufs));
	h->evts = calloc(8, sizeof(*h->evts));
	uint32_t n = 0;
	while(n < 8 && h->pos + 4 <= h->size) {
		uint32_t size;
		memcpy(&size, h->data + h->pos, 4);
		h->pos += 4;
		if(size > h->size - h->pos) size = (uint32_t)(h->size - h->pos);
		uint8_t head[sizeof(ss_plugin_event)] = {0};
		memcpy(head, h->data + h->pos, size < sizeof(head) ? size : sizeof(head));
		uint32_t len;
		memcpy(&len, head + 16, 4); /* as the event will carry it (zero padded when short) */
		if(len > MAX_EVT) { len = MAX_EVT; }
		size_t alloc = size > len ? size : len;
		if(alloc < sizeof(ss_plugin_event)) alloc = sizeof(ss_plugin_event);
		h->bufs[n] = calloc(1, alloc);
		memcpy(h->bufs[n], h->data + h->pos, size);
		memcpy(h->bufs[n] + 16, &len, 4);
		h->evts[n] = (ss_plugin_event *)h->bufs[n];
		h->pos += size;
		n++;
	}
	h->cap = n;
	*nevts = n;
	*evts = h->evts;
	return n == 0 ? SS_PLUGIN_EOF : SS_PLUGIN_SUCCESS;
}

ss_plugin_rc plugin_extract_fields(ss_plugin_t *s, const ss_plugin_event_input *evt,
                                   const ss_plugin_field_extract_input *in) {
	state_t *st = s;
	const uint8_t *raw = (const uint8_t *)evt->evt;
	uint32_t len = evt->evt->len;
	const uint8_t *pl = raw + 38; /* header, two u32 lengths, plugin id */
	uint32_t plen = len > 38 ? len - 38 : 0;
	for(uint32_t i = 0; i < in->num_fields; i++) {
		ss_plugin_extract_field *f = &in->fields[i];
		f->res_len = 1;
		switch(f->field_id) {
		case 0: {
			uint32_t k = plen < sizeof(st->str) - 1 ? plen : sizeof(st->str) - 1;
			memcpy(st->str, pl, k); st->str[k] = 0;
			st->sp[0] = st->str; f->res.str = &st->sp[0]; break;
		}
		case 1: st->sp[1] = st->big; f->res.str = &st->sp[1]; break;
		case 2: {
			uint32_t k = plen ? pl[0] : 0;
			for(uint32_t j = 0; j < k && j < 256; j++) st->sp[2 + j] = (j % 2) ? "" : "x\xff\xfe";
			f->res.str = &st->sp[2]; f->res_len = k; break;
		}
		case 3: st->u64 = 0; memcpy(&st->u64, pl, plen < 8 ? plen : 8); f->res.u64 = &st->u64; break;
		case 4: memset(st->ip, 0xab, sizeof(st->ip)); st->ipb.ptr = st->ip;
			st->ipb.len = plen > 1 ? pl[1] % 20 : 3; f->res.buf = &st->ipb; break;
		default: snprintf(st->err, sizeof(st->err), "field %u fails \xff\xfe on purpose", f->field_id);
			return SS_PLUGIN_FAILURE;
		}
	}
	return SS_PLUGIN_SUCCESS;
}

const char *plugin_event_to_string(ss_plugin_t *s, const ss_plugin_event_input *in) {
	state_t *st = s;
	uint32_t len = in->evt->len, k = len > 26 ? len - 26 : 0;
	if(k > sizeof(st->str) - 1) k = sizeof(st->str) - 1;
	memcpy(st->str, (const uint8_t *)in->evt + 26, k);
	st->str[k] = 0;
	return st->str;
}
