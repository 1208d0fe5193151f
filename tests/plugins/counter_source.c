/* Test plugin: an event source ("counter", id 999) emitting counter events.
 *
 * Each event is a plugin event (type 322) whose payload is the counter as a
 * little-endian uint64, its timestamp 1000 + counter and its tid (uint64)-1.
 * init config (JSON, schema below): {"max": N} events in total (default 10).
 * open params: "" normal; "timeout" answers SS_PLUGIN_TIMEOUT on the first
 * call; "fail" makes open fail; "failbatch" makes the second batch fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin_api.h"

#define BATCH 8

typedef struct { uint64_t max; char err[PLUGIN_MAX_ERRLEN]; char str[256]; } state_t;
typedef struct {
	uint64_t next; int timeouts; int failbatch; int calls;
	char progress[64];
	uint8_t *bufs[BATCH];
	ss_plugin_event *evts[BATCH];
} inst_t;

const char *plugin_get_required_api_version(void) { return "3.0.0"; }
const char *plugin_get_version(void) { return "1.2.3"; }
const char *plugin_get_name(void) { return "counter"; }
const char *plugin_get_description(void) { return "emits counter events"; }
const char *plugin_get_contact(void) { return "tests"; }
uint32_t plugin_get_id(void) { return 999; }
const char *plugin_get_event_source(void) { return "counter"; }

const char *plugin_get_init_schema(ss_plugin_schema_type *t) {
	*t = SS_PLUGIN_SCHEMA_JSON;
	return "{\"type\":\"object\",\"properties\":{\"max\":{\"type\":\"integer\",\"minimum\":0}},"
	       "\"additionalProperties\":false}";
}

ss_plugin_t *plugin_init(const ss_plugin_init_input *in, ss_plugin_rc *rc) {
	state_t *s = calloc(1, sizeof(*s));
	const char *p = strstr(in->config, "\"max\"");
	s->max = 10;
	if(p) { p = strchr(p, ':'); s->max = strtoull(p + 1, NULL, 10); }
	*rc = SS_PLUGIN_SUCCESS;
	return s;
}
void plugin_destroy(ss_plugin_t *s) { free(s); }
const char *plugin_get_last_error(ss_plugin_t *s) { return ((state_t *)s)->err; }

const char *plugin_list_open_params(ss_plugin_t *s, ss_plugin_rc *rc) {
	*rc = SS_PLUGIN_SUCCESS;
	return "[{\"value\":\"\",\"desc\":\"count up\"},{\"value\":\"timeout\",\"desc\":\"one timeout first\"}]";
}

ss_instance_t *plugin_open(ss_plugin_t *s, const char *params, ss_plugin_rc *rc) {
	state_t *st = s;
	if(strcmp(params, "fail") == 0) {
		snprintf(st->err, sizeof(st->err), "cannot open '%s'", params);
		*rc = SS_PLUGIN_FAILURE;
		return NULL;
	}
	inst_t *h = calloc(1, sizeof(*h));
	h->timeouts = strcmp(params, "timeout") == 0;
	h->failbatch = strcmp(params, "failbatch") == 0;
	for(int i = 0; i < BATCH; i++) {
		h->bufs[i] = malloc(sizeof(ss_plugin_event) + 8 + 4 + 8);
		h->evts[i] = (ss_plugin_event *)h->bufs[i];
	}
	*rc = SS_PLUGIN_SUCCESS;
	return h;
}

void plugin_close(ss_plugin_t *s, ss_instance_t *i) {
	inst_t *h = i;
	for(int k = 0; k < BATCH; k++) free(h->bufs[k]);
	free(h);
}

const char *plugin_get_progress(ss_plugin_t *s, ss_instance_t *i, uint32_t *pct) {
	inst_t *h = i;
	state_t *st = s;
	*pct = st->max ? (uint32_t)(h->next * 10000 / st->max) : 10000;
	snprintf(h->progress, sizeof(h->progress), "%llu of %llu", (unsigned long long)h->next,
	         (unsigned long long)st->max);
	return h->progress;
}

static void fill(uint8_t *b, uint64_t n) {
	ss_plugin_event *e = (ss_plugin_event *)b;
	uint32_t lens[2] = {4, 8}, id = 0; /* id 0: the framework puts ours */
	e->ts = 1000 + n;
	e->tid = (uint64_t)-1;
	e->type = 322;
	e->nparams = 2;
	e->len = sizeof(*e) + sizeof(lens) + 4 + 8;
	memcpy(b + sizeof(*e), lens, sizeof(lens));
	memcpy(b + sizeof(*e) + 8, &id, 4);
	memcpy(b + sizeof(*e) + 12, &n, 8);
}

ss_plugin_rc plugin_next_batch(ss_plugin_t *s, ss_instance_t *i, uint32_t *nevts, ss_plugin_event ***evts) {
	state_t *st = s;
	inst_t *h = i;
	h->calls++;
	if(h->timeouts) { h->timeouts--; *nevts = 0; return SS_PLUGIN_TIMEOUT; }
	if(h->failbatch && h->calls == 2) {
		snprintf(st->err, sizeof(st->err), "batch %d broke", h->calls);
		return SS_PLUGIN_FAILURE;
	}
	uint32_t n = 0;
	while(n < BATCH && h->next < st->max) fill(h->bufs[n++], h->next++);
	*nevts = n;
	*evts = h->evts;
	return h->next >= st->max && n == 0 ? SS_PLUGIN_EOF : SS_PLUGIN_SUCCESS;
}

const char *plugin_event_to_string(ss_plugin_t *s, const ss_plugin_event_input *in) {
	state_t *st = s;
	uint64_t n;
	memcpy(&n, (const uint8_t *)in->evt + PLUGIN_EVENT_PAYLOAD_OFFSET, 8);
	snprintf(st->str, sizeof(st->str), "counter=%llu", (unsigned long long)n);
	return st->str;
}
