/* Test plugin: a source of raw (libscap) events, plugin id 0 and no event source:
 * as the plugin API allows, it may return events of any type, and Falco opens it as
 * the "syscall" source with the nodriver engine.
 *
 * open params: the path of a file holding events back to back, each complete with
 * its 26-byte header (its len field gives its size). plugin_next_batch returns them
 * in order, up to 4 per batch, then SS_PLUGIN_EOF. A file that cannot be read fails
 * the open; a truncated event ends the stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin_api.h"

#define BATCH 4

typedef struct { char err[PLUGIN_MAX_ERRLEN]; } state_t;
typedef struct { uint8_t *data; size_t size, pos; ss_plugin_event *evts[BATCH]; } inst_t;

const char *plugin_get_required_api_version(void) { return "3.0.0"; }
const char *plugin_get_version(void) { return "0.3.0"; }
const char *plugin_get_name(void) { return "rawsource"; }
const char *plugin_get_description(void) { return "replays raw events from a file"; }
const char *plugin_get_contact(void) { return "tests"; }
uint32_t plugin_get_id(void) { return 0; }
const char *plugin_get_event_source(void) { return ""; }

ss_plugin_t *plugin_init(const ss_plugin_init_input *in, ss_plugin_rc *rc) {
	*rc = SS_PLUGIN_SUCCESS;
	return calloc(1, sizeof(state_t));
}
void plugin_destroy(ss_plugin_t *s) { free(s); }
const char *plugin_get_last_error(ss_plugin_t *s) { return ((state_t *)s)->err; }

ss_instance_t *plugin_open(ss_plugin_t *s, const char *params, ss_plugin_rc *rc) {
	state_t *st = s;
	FILE *f = fopen(params, "rb");
	if(!f) {
		snprintf(st->err, sizeof(st->err), "cannot read '%s'", params);
		*rc = SS_PLUGIN_FAILURE;
		return NULL;
	}
	inst_t *h = calloc(1, sizeof(*h));
	fseek(f, 0, SEEK_END);
	h->size = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	h->data = malloc(h->size ? h->size : 1);
	h->size = fread(h->data, 1, h->size, f);
	fclose(f);
	*rc = SS_PLUGIN_SUCCESS;
	return h;
}

void plugin_close(ss_plugin_t *s, ss_instance_t *i) {
	inst_t *h = i;
	free(h->data);
	free(h);
}

ss_plugin_rc plugin_next_batch(ss_plugin_t *s, ss_instance_t *i, uint32_t *nevts, ss_plugin_event ***evts) {
	inst_t *h = i;
	uint32_t n = 0;
	while(n < BATCH && h->pos + sizeof(ss_plugin_event) <= h->size) {
		ss_plugin_event *e = (ss_plugin_event *)(h->data + h->pos);
		uint32_t len;
		memcpy(&len, &e->len, sizeof(len));
		if(len < sizeof(ss_plugin_event) || h->pos + len > h->size) { h->pos = h->size; break; }
		h->evts[n++] = e;
		h->pos += len;
	}
	*nevts = n;
	*evts = h->evts;
	return n == 0 ? SS_PLUGIN_EOF : SS_PLUGIN_SUCCESS;
}
