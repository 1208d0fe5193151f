/* Test plugin: async events. Once a handler is set, a thread pushes COUNT
 * (init config, default 5) async events named "sample" whose data is
 * "sample <i>", plus one named "undeclared" that the framework must reject;
 * setting a NULL handler joins the thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin_api.h"

typedef struct {
	char err[PLUGIN_MAX_ERRLEN];
	int count, rejected;
	pthread_t th; int running;
	ss_plugin_owner_t *owner; ss_plugin_async_event_handler_t handler;
} state_t;

const char *plugin_get_required_api_version(void) { return "3.0.0"; }
const char *plugin_get_version(void) { return "0.2.0"; }
const char *plugin_get_name(void) { return "asyncsample"; }
const char *plugin_get_description(void) { return "pushes async events"; }
const char *plugin_get_contact(void) { return "tests"; }
const char *plugin_get_async_events(void) { return "[\"sample\"]"; }

ss_plugin_t *plugin_init(const ss_plugin_init_input *in, ss_plugin_rc *rc) {
	state_t *s = calloc(1, sizeof(*s));
	s->count = in->config[0] ? atoi(in->config) : 5;
	*rc = SS_PLUGIN_SUCCESS;
	return s;
}
const char *plugin_get_last_error(ss_plugin_t *s) { return ((state_t *)s)->err; }

static void send(state_t *s, const char *name, const char *data) {
	uint8_t buf[256];
	ss_plugin_event *e = (ss_plugin_event *)buf;
	uint32_t lens[3] = {4, (uint32_t)strlen(name) + 1, (uint32_t)strlen(data)}, id = 0;
	char err[PLUGIN_MAX_ERRLEN];
	e->ts = (uint64_t)-1; e->tid = 7; e->type = 402; e->nparams = 3;
	e->len = sizeof(*e) + sizeof(lens) + lens[0] + lens[1] + lens[2];
	uint8_t *p = buf + sizeof(*e);
	memcpy(p, lens, sizeof(lens)); p += sizeof(lens);
	memcpy(p, &id, 4); p += 4;
	memcpy(p, name, lens[1]); p += lens[1];
	memcpy(p, data, lens[2]);
	if(s->handler(s->owner, e, err) != SS_PLUGIN_SUCCESS) s->rejected++;
}

static void *run(void *arg) {
	state_t *s = arg;
	char data[32];
	for(int i = 0; i < s->count; i++) {
		snprintf(data, sizeof(data), "sample %d", i);
		send(s, "sample", data);
	}
	send(s, "undeclared", "x");
	return NULL;
}

ss_plugin_rc plugin_set_async_event_handler(ss_plugin_t *st, ss_plugin_owner_t *o, const ss_plugin_async_event_handler_t h) {
	state_t *s = st;
	if(s->running) { pthread_join(s->th, NULL); s->running = 0; }
	s->owner = o; s->handler = h;
	if(h) { s->running = 1; pthread_create(&s->th, NULL, run, s); }
	return SS_PLUGIN_SUCCESS;
}

void plugin_destroy(ss_plugin_t *st) {
	state_t *s = st;
	if(s->running) pthread_join(s->th, NULL);
	free(s);
}

/* exposes how many events the framework refused, for the tests */
const char *plugin_get_fields(void) { return "[{\"type\":\"uint64\",\"name\":\"asyncsample.rejected\",\"desc\":\"refused\"}]"; }
ss_plugin_rc plugin_extract_fields(ss_plugin_t *st, const ss_plugin_event_input *ev, const ss_plugin_field_extract_input *in) {
	static uint64_t v;
	v = (uint64_t)((state_t *)st)->rejected;
	in->fields[0].res.u64 = &v; in->fields[0].res_len = 1;
	return SS_PLUGIN_SUCCESS;
}
