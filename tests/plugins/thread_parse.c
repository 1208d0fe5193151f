/* Test plugin: parses counter events and keeps state in the framework's
 * "threads" table. For counter n it looks up thread tid = 1 + n % 3 and adds 1
 * to the dynamic field "seen" it defined at init; on n == 0 it creates
 * thread 42 with comm "made-by-plugin". Fields: parse.seen[tid] (the "seen"
 * of a thread), parse.comm[tid], parse.nthreads (iterating the table).
 * Results are stored per request, so one call can answer several fields. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin_api.h"

#define MAX_REQ 64

typedef struct {
	char err[PLUGIN_MAX_ERRLEN];
	ss_plugin_table_t *threads;
	ss_plugin_table_field_t *seen, *comm, *tid;
	uint64_t u64[MAX_REQ]; const char *str[MAX_REQ]; uint32_t count;
} state_t;

const char *plugin_get_required_api_version(void) { return "3.6.0"; }
const char *plugin_get_version(void) { return "0.1.0"; }
const char *plugin_get_name(void) { return "threadparse"; }
const char *plugin_get_description(void) { return "counts events per thread"; }
const char *plugin_get_contact(void) { return "tests"; }
const char *plugin_get_parse_event_sources(void) { return "[\"counter\"]"; }
const char *plugin_get_extract_event_sources(void) { return "[\"counter\"]"; }
const char *plugin_get_fields(void) {
	return "[{\"type\":\"uint64\",\"name\":\"parse.seen\",\"desc\":\"seen\",\"arg\":{\"isRequired\":true,\"isIndex\":true}},"
	       "{\"type\":\"string\",\"name\":\"parse.comm\",\"desc\":\"comm\",\"arg\":{\"isRequired\":true,\"isIndex\":true}},"
	       "{\"type\":\"uint64\",\"name\":\"parse.nthreads\",\"desc\":\"threads\"}]";
}

ss_plugin_t *plugin_init(const ss_plugin_init_input *in, ss_plugin_rc *rc) {
	state_t *s = calloc(1, sizeof(*s));
	*rc = SS_PLUGIN_FAILURE;
	if(!in->tables) { snprintf(s->err, sizeof(s->err), "no tables input"); return s; }
	s->threads = in->tables->get_table(in->owner, "threads", SS_PLUGIN_ST_INT64);
	if(!s->threads) { snprintf(s->err, sizeof(s->err), "no threads table: %s", in->get_owner_last_error(in->owner)); return s; }
	s->seen = in->tables->fields_ext->add_table_field(s->threads, "seen", SS_PLUGIN_ST_UINT64);
	s->comm = in->tables->fields_ext->get_table_field(s->threads, "comm", SS_PLUGIN_ST_STRING);
	s->tid = in->tables->fields_ext->get_table_field(s->threads, "tid", SS_PLUGIN_ST_INT64);
	if(!s->seen || !s->comm || !s->tid) { snprintf(s->err, sizeof(s->err), "field: %s", in->get_owner_last_error(in->owner)); return s; }
	/* a wrong type must be refused */
	if(in->tables->fields_ext->get_table_field(s->threads, "comm", SS_PLUGIN_ST_UINT64)) {
		snprintf(s->err, sizeof(s->err), "comm accepted as uint64"); return s;
	}
	*rc = SS_PLUGIN_SUCCESS;
	return s;
}
void plugin_destroy(ss_plugin_t *s) { free(s); }
const char *plugin_get_last_error(ss_plugin_t *s) { return ((state_t *)s)->err; }

ss_plugin_rc plugin_parse_event(ss_plugin_t *s, const ss_plugin_event_input *ev, const ss_plugin_event_parse_input *in) {
	state_t *st = s;
	uint64_t n;
	ss_plugin_state_data key, val;
	memcpy(&n, (const uint8_t *)ev->evt + PLUGIN_EVENT_PAYLOAD_OFFSET, 8);
	if(n == 0) {
		ss_plugin_table_entry_t *e = in->table_writer_ext->create_table_entry(st->threads);
		val.str = "made-by-plugin";
		in->table_writer_ext->write_entry_field(st->threads, e, st->comm, &val);
		key.s64 = 42;
		e = in->table_writer_ext->add_table_entry(st->threads, &key, e);
		if(!e) { snprintf(st->err, sizeof(st->err), "add failed"); return SS_PLUGIN_FAILURE; }
		in->table_reader_ext->release_table_entry(st->threads, e);
	}
	key.s64 = (int64_t)(1 + n % 3);
	ss_plugin_table_entry_t *e = in->table_reader_ext->get_table_entry(st->threads, &key);
	if(!e) return SS_PLUGIN_SUCCESS; /* unknown thread: nothing to count */
	if(in->table_reader_ext->read_entry_field(st->threads, e, st->seen, &val) != SS_PLUGIN_SUCCESS) {
		snprintf(st->err, sizeof(st->err), "read seen failed");
		return SS_PLUGIN_FAILURE;
	}
	val.u64++;
	in->table_writer_ext->write_entry_field(st->threads, e, st->seen, &val);
	in->table_reader_ext->release_table_entry(st->threads, e);
	return SS_PLUGIN_SUCCESS;
}

static ss_plugin_bool count_it(ss_plugin_table_iterator_state_t *s, ss_plugin_table_entry_t *e) {
	((state_t *)s)->count++;
	return 1;
}

ss_plugin_rc plugin_extract_fields(ss_plugin_t *s, const ss_plugin_event_input *ev, const ss_plugin_field_extract_input *in) {
	state_t *st = s;
	if(in->num_fields > MAX_REQ) {
		snprintf(st->err, sizeof(st->err), "more than %d fields in one call", MAX_REQ);
		return SS_PLUGIN_FAILURE;
	}
	for(uint32_t i = 0; i < in->num_fields; i++) {
		ss_plugin_extract_field *f = &in->fields[i];
		ss_plugin_state_data key, val;
		f->res_len = 0;
		if(f->field_id == 2) {
			st->count = 0;
			in->table_reader_ext->iterate_entries(st->threads, count_it, st);
			st->u64[i] = st->count; f->res.u64 = &st->u64[i]; f->res_len = 1;
			continue;
		}
		key.s64 = (int64_t)f->arg_index;
		ss_plugin_table_entry_t *e = in->table_reader_ext->get_table_entry(st->threads, &key);
		if(!e) continue;
		if(f->field_id == 0) {
			in->table_reader_ext->read_entry_field(st->threads, e, st->seen, &val);
			st->u64[i] = val.u64; f->res.u64 = &st->u64[i];
		} else {
			in->table_reader_ext->read_entry_field(st->threads, e, st->comm, &val);
			st->str[i] = val.str; f->res.str = &st->str[i];
		}
		f->res_len = 1;
		in->table_reader_ext->release_table_entry(st->threads, e);
	}
	return SS_PLUGIN_SUCCESS;
}
