/* Test plugin: field extraction over the "counter" source's events, one field
 * of every type the API has, a list field, an index and a key argument.
 * For counter n: value=n, str="n<n>", even=(n%2==0), rel=n*1000, abs=1000+n,
 * ip=10.0.0.n (IPv6 ::n when n>=200), net=192.168.n.1, digits=decimal digits
 * of n as a string list, bit[i]=(n>>i)&1, tag[key]="<key>=<n>" (no value
 * for key "none"). Each request of a batch has its own result storage, so
 * that several fields (or one field with several arguments) can be
 * extracted in one plugin_extract_fields call, as the API allows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin_api.h"

#define MAX_REQ 64

typedef struct {
	char err[PLUGIN_MAX_ERRLEN];
	uint64_t u64[8]; ss_plugin_bool b; char s[64]; const char *sp[24];
	char digits[24][2]; uint8_t ip[16]; uint8_t net[4]; ss_plugin_byte_buffer ipb, netb;
	uint64_t bit[MAX_REQ]; char tag[MAX_REQ][64]; const char *tagp[MAX_REQ];
} state_t;

const char *plugin_get_required_api_version(void) { return "3.10.0"; }
const char *plugin_get_version(void) { return "0.3.0"; }
const char *plugin_get_name(void) { return "counterx"; }
const char *plugin_get_description(void) { return "extracts counter fields"; }
const char *plugin_get_contact(void) { return "tests"; }
const char *plugin_get_extract_event_sources(void) { return "[\"counter\"]"; }
const char *plugin_get_fields(void) {
	return "["
	       "{\"type\":\"uint64\",\"name\":\"counter.value\",\"desc\":\"the counter\",\"display\":\"Value\"},"
	       "{\"type\":\"string\",\"name\":\"counter.str\",\"desc\":\"n and the counter\",\"addOutput\":true},"
	       "{\"type\":\"bool\",\"name\":\"counter.even\",\"desc\":\"counter is even\"},"
	       "{\"type\":\"reltime\",\"name\":\"counter.rel\",\"desc\":\"counter microseconds\"},"
	       "{\"type\":\"abstime\",\"name\":\"counter.abs\",\"desc\":\"event time\"},"
	       "{\"type\":\"ipaddr\",\"name\":\"counter.ip\",\"desc\":\"an address\"},"
	       "{\"type\":\"ipnet\",\"name\":\"counter.net\",\"desc\":\"a network\"},"
	       "{\"type\":\"string\",\"name\":\"counter.digits\",\"desc\":\"digits\",\"isList\":true},"
	       "{\"type\":\"uint64\",\"name\":\"counter.bit\",\"desc\":\"a bit\","
	       "\"arg\":{\"isRequired\":true,\"isIndex\":true}},"
	       "{\"type\":\"string\",\"name\":\"counter.tag\",\"desc\":\"a tag\","
	       "\"arg\":{\"isRequired\":true,\"isKey\":true}}"
	       "]";
}

ss_plugin_t *plugin_init(const ss_plugin_init_input *in, ss_plugin_rc *rc) {
	*rc = SS_PLUGIN_SUCCESS;
	return calloc(1, sizeof(state_t));
}
void plugin_destroy(ss_plugin_t *s) { free(s); }
const char *plugin_get_last_error(ss_plugin_t *s) { return ((state_t *)s)->err; }

ss_plugin_rc plugin_extract_fields(ss_plugin_t *s, const ss_plugin_event_input *evt,
                                   const ss_plugin_field_extract_input *in) {
	state_t *st = s;
	uint64_t n;
	if(in->num_fields > MAX_REQ) {
		snprintf(st->err, sizeof(st->err), "more than %d fields in one call", MAX_REQ);
		return SS_PLUGIN_FAILURE;
	}
	if(evt->evt->type != 322) {
		snprintf(st->err, sizeof(st->err), "unexpected event type %u", evt->evt->type);
		return SS_PLUGIN_FAILURE;
	}
	memcpy(&n, (const uint8_t *)evt->evt + PLUGIN_EVENT_PAYLOAD_OFFSET, 8);
	for(uint32_t i = 0; i < in->num_fields; i++) {
		ss_plugin_extract_field *f = &in->fields[i];
		f->res_len = 1;
		switch(f->field_id) {
		case 0: st->u64[0] = n; f->res.u64 = &st->u64[0]; break;
		case 1: snprintf(st->s, sizeof(st->s), "n%llu", (unsigned long long)n);
			st->sp[22] = st->s; f->res.str = &st->sp[22]; break;
		case 2: st->b = n % 2 == 0; f->res.boolean = &st->b; break;
		case 3: st->u64[1] = n * 1000; f->res.u64 = &st->u64[1]; break;
		case 4: st->u64[2] = evt->evt->ts; f->res.u64 = &st->u64[2]; break;
		case 5:
			memset(st->ip, 0, 16);
			if(n >= 200) { st->ip[15] = (uint8_t)n; st->ipb.len = 16; }
			else { st->ip[0] = 10; st->ip[3] = (uint8_t)n; st->ipb.len = 4; }
			st->ipb.ptr = st->ip; f->res.buf = &st->ipb; break;
		case 6: st->net[0] = 192; st->net[1] = 168; st->net[2] = (uint8_t)n; st->net[3] = 1;
			st->netb.len = 4; st->netb.ptr = st->net; f->res.buf = &st->netb; break;
		case 7: {
			char tmp[24];
			int k = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n);
			for(int j = 0; j < k; j++) { st->digits[j][0] = tmp[j]; st->digits[j][1] = 0; st->sp[j] = st->digits[j]; }
			f->res.str = &st->sp[0]; f->res_len = k; break;
		}
		case 8:
			if(!f->arg_present) { snprintf(st->err, sizeof(st->err), "bit needs an index"); return SS_PLUGIN_FAILURE; }
			st->bit[i] = (n >> f->arg_index) & 1; f->res.u64 = &st->bit[i]; break;
		case 9:
			if(strcmp(f->arg_key, "none") == 0) { f->res_len = 0; break; }
			snprintf(st->tag[i], sizeof(st->tag[i]), "%s=%llu", f->arg_key, (unsigned long long)n);
			st->tagp[i] = st->tag[i]; f->res.str = &st->tagp[i]; break;
		default: snprintf(st->err, sizeof(st->err), "no field %u", f->field_id); return SS_PLUGIN_FAILURE;
		}
	}
	return SS_PLUGIN_SUCCESS;
}
