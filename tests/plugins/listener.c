/* Test plugin: capture listening (plugin_capture_open / plugin_capture_close).
 *
 * capture_open counts the opens and subscribes two routines through the
 * framework's routine vtable: "finite" returns true 4 times, then false on its
 * 5th call (so it runs exactly 5 times); "forever" sleeps 1 ms and returns true
 * until capture_close unsubscribes it. capture_close counts the closes, and
 * when the init config is a path, appends "opens=<n> closes=<n> finite=<n>
 * unsubscribed=<rc>" to that file (rc 0: the framework knew the routine).
 * Fields (syscall source): listener.opens, listener.closes, listener.finite,
 * listener.forever (routine call counts). Built with -DLISTENER_FAIL_OPEN,
 * capture_open fails with "refused to open".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "plugin_api.h"

typedef struct {
	char err[PLUGIN_MAX_ERRLEN];
	char path[512];
	volatile uint64_t opens, closes, finite, forever;
	ss_plugin_routine_t *forever_id;
	uint64_t v;
} state_t;

const char *plugin_get_required_api_version(void) { return "3.9.0"; }
const char *plugin_get_version(void) { return "0.1.0"; }
const char *plugin_get_name(void) { return "listener"; }
const char *plugin_get_description(void) { return "listens to capture open/close"; }
const char *plugin_get_contact(void) { return "tests"; }

ss_plugin_t *plugin_init(const ss_plugin_init_input *in, ss_plugin_rc *rc) {
	state_t *s = calloc(1, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", in->config ? in->config : "");
	*rc = SS_PLUGIN_SUCCESS;
	return s;
}
void plugin_destroy(ss_plugin_t *s) { free(s); }
const char *plugin_get_last_error(ss_plugin_t *s) { return ((state_t *)s)->err; }

static ss_plugin_bool finite_routine(ss_plugin_t *st, ss_plugin_routine_state_t *i) {
	state_t *s = st;
	s->finite++;
	return s->finite < 5;
}

static ss_plugin_bool forever_routine(ss_plugin_t *st, ss_plugin_routine_state_t *i) {
	state_t *s = st;
	struct timespec ts = {0, 1000000};
	nanosleep(&ts, NULL);
	s->forever++;
	return 1;
}

ss_plugin_rc plugin_capture_open(ss_plugin_t *st, const ss_plugin_capture_listen_input *in) {
	state_t *s = st;
	s->opens++;
#ifdef LISTENER_FAIL_OPEN
	snprintf(s->err, sizeof(s->err), "refused to open");
	return SS_PLUGIN_FAILURE;
#endif
	if(!in->routine->subscribe(in->owner, finite_routine, NULL)) {
		snprintf(s->err, sizeof(s->err), "subscribe failed");
		return SS_PLUGIN_FAILURE;
	}
	s->forever_id = in->routine->subscribe(in->owner, forever_routine, NULL);
	return s->forever_id ? SS_PLUGIN_SUCCESS : SS_PLUGIN_FAILURE;
}

ss_plugin_rc plugin_capture_close(ss_plugin_t *st, const ss_plugin_capture_listen_input *in) {
	state_t *s = st;
	s->closes++;
	ss_plugin_rc rc = in->routine->unsubscribe(in->owner, s->forever_id);
	if(s->path[0]) {
		FILE *f = fopen(s->path, "a");
		if(f) {
			fprintf(f, "opens=%llu closes=%llu finite=%llu unsubscribed=%d\n", (unsigned long long)s->opens,
			        (unsigned long long)s->closes, (unsigned long long)s->finite, (int)rc);
			fclose(f);
		}
	}
	return SS_PLUGIN_SUCCESS;
}

const char *plugin_get_fields(void) {
	return "[{\"type\":\"uint64\",\"name\":\"listener.opens\",\"desc\":\"capture_open calls\"},"
	       "{\"type\":\"uint64\",\"name\":\"listener.closes\",\"desc\":\"capture_close calls\"},"
	       "{\"type\":\"uint64\",\"name\":\"listener.finite\",\"desc\":\"finite routine calls\"},"
	       "{\"type\":\"uint64\",\"name\":\"listener.forever\",\"desc\":\"forever routine calls\"}]";
}
ss_plugin_rc plugin_extract_fields(ss_plugin_t *st, const ss_plugin_event_input *ev, const ss_plugin_field_extract_input *in) {
	state_t *s = st;
	static uint64_t vals[16];
	for(uint32_t k = 0; k < in->num_fields && k < 16; k++) {
		switch(in->fields[k].field_id) {
		case 0: vals[k] = s->opens; break;
		case 1: vals[k] = s->closes; break;
		case 2: vals[k] = s->finite; break;
		default: vals[k] = s->forever; break;
		}
		in->fields[k].res.u64 = &vals[k];
		in->fields[k].res_len = 1;
	}
	return SS_PLUGIN_SUCCESS;
}
