/*
 * falco-py plugin API header: the C ABI of Falco plugins, API version 3.12.
 *
 * Written for falco-py from the ABI that falcosecurity/libs defines (type
 * layouts, enum values and the names of the exported `plugin_*` symbols), so
 * that plugins built against upstream's header load here unchanged and plugins
 * built against this one load in Falco. Struct members are only ever appended
 * between minor versions, which is why a framework may pass the newest layout
 * to a plugin built for an older minor.
 *
 * This single file serves two readers: C compilers (plugins, tests/plugins)
 * and libsinsp.plugin.cdefs, which hands it to cffi. For the latter, keep to
 * plain declarations: `#define NAME <integer>` is the only preprocessor form it
 * keeps, `#if ... #endif` blocks are dropped whole, and the one packed struct
 * sits between the two `#pragma pack` lines.
 */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PLUGIN_API_VERSION_MAJOR 3
#define PLUGIN_API_VERSION_MINOR 12
#define PLUGIN_API_VERSION_PATCH 0

/* Size of the error buffers plugins fill (terminator included). */
#define PLUGIN_MAX_ERRLEN 1024

/* Offset of a plugin event's payload: 26-byte header, two u32 lengths, u32 plugin id. */
#define PLUGIN_EVENT_PAYLOAD_OFFSET 38

typedef uint32_t ss_plugin_bool;

/* Extractable field types; the numbers are libsinsp's PT_* codes. */
typedef enum ss_plugin_field_type {
	FTYPE_UINT64 = 8,
	FTYPE_STRING = 9,
	FTYPE_RELTIME = 20,
	FTYPE_ABSTIME = 21,
	FTYPE_BOOL = 25,
	FTYPE_IPADDR = 40,
	FTYPE_IPNET = 41
} ss_plugin_field_type;

typedef enum ss_plugin_rc {
	SS_PLUGIN_SUCCESS = 0,
	SS_PLUGIN_FAILURE = 1,
	SS_PLUGIN_TIMEOUT = -1,
	SS_PLUGIN_EOF = 2,
	SS_PLUGIN_NOT_SUPPORTED = 3
} ss_plugin_rc;

typedef enum ss_plugin_schema_type {
	SS_PLUGIN_SCHEMA_NONE = 0,
	SS_PLUGIN_SCHEMA_JSON = 1
} ss_plugin_schema_type;

/* An event in the libscap wire format: this header, then nparams lengths
 * (u16, or u32 for large-payload types such as 322 and 402), then the data.
 * ts or tid set to (uint64_t)-1 mean "let the framework fill it". */
#pragma pack(push, 1)
struct ss_plugin_event {
	uint64_t ts;
	uint64_t tid;
	uint32_t len;
	uint16_t type;
	uint32_t nparams;
};
#pragma pack(pop)
typedef struct ss_plugin_event ss_plugin_event;

/* An event handed to the plugin (read-only), its number and its source name. */
typedef struct ss_plugin_event_input {
	const ss_plugin_event *evt;
	uint64_t evtnum;
	const char *evtsrc;
} ss_plugin_event_input;

typedef struct ss_plugin_byte_buffer {
	uint32_t len;
	const void *ptr;
} ss_plugin_byte_buffer;

typedef struct ss_plugin_extract_value_offsets {
	uint32_t *start;
	uint32_t *length;
} ss_plugin_extract_value_offsets;

/* One extraction request (field_id .. flist, set by the framework) and its
 * answer (res, res_len: an array of res_len values owned by the plugin). */
typedef struct ss_plugin_extract_field {
	union {
		const char **str;
		uint64_t *u64;
		uint32_t *u32;
		ss_plugin_bool *boolean;
		ss_plugin_byte_buffer *buf;
	} res;
	uint64_t res_len;
	uint32_t field_id;
	const char *field;
	const char *arg_key;
	uint64_t arg_index;
	ss_plugin_bool arg_present;
	uint32_t ftype;
	ss_plugin_bool flist;
} ss_plugin_extract_field;

/* State tables: opaque handles owned by the framework (or by a plugin). */
typedef void ss_plugin_table_t;
typedef void ss_plugin_table_entry_t;
typedef void ss_plugin_table_field_t;

typedef enum ss_plugin_state_type {
	SS_PLUGIN_ST_INT8 = 1,
	SS_PLUGIN_ST_INT16 = 2,
	SS_PLUGIN_ST_INT32 = 3,
	SS_PLUGIN_ST_INT64 = 4,
	SS_PLUGIN_ST_UINT8 = 5,
	SS_PLUGIN_ST_UINT16 = 6,
	SS_PLUGIN_ST_UINT32 = 7,
	SS_PLUGIN_ST_UINT64 = 8,
	SS_PLUGIN_ST_STRING = 9,
	SS_PLUGIN_ST_TABLE = 10,
	SS_PLUGIN_ST_BOOL = 25
} ss_plugin_state_type;

typedef union ss_plugin_state_data {
	int8_t s8;
	int16_t s16;
	int32_t s32;
	int64_t s64;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	const char *str;
	ss_plugin_bool b;
	ss_plugin_table_t *table;
} ss_plugin_state_data;

typedef struct ss_plugin_table_info {
	const char *name;
	ss_plugin_state_type key_type;
} ss_plugin_table_info;

typedef struct ss_plugin_table_fieldinfo {
	const char *name;
	ss_plugin_state_type field_type;
	ss_plugin_bool read_only;
} ss_plugin_table_fieldinfo;

typedef void ss_plugin_owner_t;
typedef void ss_plugin_t;
typedef void ss_instance_t;

typedef enum ss_plugin_log_severity {
	SS_PLUGIN_LOG_SEV_FATAL = 1,
	SS_PLUGIN_LOG_SEV_CRITICAL = 2,
	SS_PLUGIN_LOG_SEV_ERROR = 3,
	SS_PLUGIN_LOG_SEV_WARNING = 4,
	SS_PLUGIN_LOG_SEV_NOTICE = 5,
	SS_PLUGIN_LOG_SEV_INFO = 6,
	SS_PLUGIN_LOG_SEV_DEBUG = 7,
	SS_PLUGIN_LOG_SEV_TRACE = 8
} ss_plugin_log_severity;

typedef enum ss_plugin_metric_value_type {
	SS_PLUGIN_METRIC_VALUE_TYPE_U32 = 0,
	SS_PLUGIN_METRIC_VALUE_TYPE_S32 = 1,
	SS_PLUGIN_METRIC_VALUE_TYPE_U64 = 2,
	SS_PLUGIN_METRIC_VALUE_TYPE_S64 = 3,
	SS_PLUGIN_METRIC_VALUE_TYPE_D = 4,
	SS_PLUGIN_METRIC_VALUE_TYPE_F = 5,
	SS_PLUGIN_METRIC_VALUE_TYPE_I = 6
} ss_plugin_metric_value_type;

typedef union ss_plugin_metric_value {
	uint32_t u32;
	int32_t s32;
	uint64_t u64;
	int64_t s64;
	double d;
	float f;
	int i;
} ss_plugin_metric_value;

typedef enum ss_plugin_metric_type {
	SS_PLUGIN_METRIC_TYPE_MONOTONIC = 0,
	SS_PLUGIN_METRIC_TYPE_NON_MONOTONIC = 1
} ss_plugin_metric_type;

typedef struct ss_plugin_metric {
	const char *name;
	ss_plugin_metric_type type;
	ss_plugin_metric_value value;
	ss_plugin_metric_value_type value_type;
} ss_plugin_metric;

/* ---- table vtables (the "_ext" ones are current; the others are the
 * deprecated first layouts, still part of the structs that embed them) ---- */

typedef struct {
	const ss_plugin_table_fieldinfo *(*list_table_fields)(ss_plugin_table_t *t, uint32_t *nfields);
	ss_plugin_table_field_t *(*get_table_field)(ss_plugin_table_t *t, const char *name,
	                                            ss_plugin_state_type data_type);
	ss_plugin_table_field_t *(*add_table_field)(ss_plugin_table_t *t, const char *name,
	                                            ss_plugin_state_type data_type);
} ss_plugin_table_fields_vtable;

typedef struct {
	const ss_plugin_table_fieldinfo *(*list_table_fields)(ss_plugin_table_t *t, uint32_t *nfields);
	ss_plugin_table_field_t *(*get_table_field)(ss_plugin_table_t *t, const char *name,
	                                            ss_plugin_state_type data_type);
	ss_plugin_table_field_t *(*add_table_field)(ss_plugin_table_t *t, const char *name,
	                                            ss_plugin_state_type data_type);
} ss_plugin_table_fields_vtable_ext;

typedef struct {
	const char *(*get_table_name)(ss_plugin_table_t *t);
	uint64_t (*get_table_size)(ss_plugin_table_t *t);
	ss_plugin_table_entry_t *(*get_table_entry)(ss_plugin_table_t *t, const ss_plugin_state_data *key);
	ss_plugin_rc (*read_entry_field)(ss_plugin_table_t *t, ss_plugin_table_entry_t *e,
	                                 const ss_plugin_table_field_t *f, ss_plugin_state_data *out);
} ss_plugin_table_reader_vtable;

typedef void ss_plugin_table_iterator_state_t;
typedef ss_plugin_bool (*ss_plugin_table_iterator_func_t)(ss_plugin_table_iterator_state_t *s,
                                                          ss_plugin_table_entry_t *e);

typedef struct {
	const char *(*get_table_name)(ss_plugin_table_t *t);
	uint64_t (*get_table_size)(ss_plugin_table_t *t);
	ss_plugin_table_entry_t *(*get_table_entry)(ss_plugin_table_t *t, const ss_plugin_state_data *key);
	ss_plugin_rc (*read_entry_field)(ss_plugin_table_t *t, ss_plugin_table_entry_t *e,
	                                 const ss_plugin_table_field_t *f, ss_plugin_state_data *out);
	void (*release_table_entry)(ss_plugin_table_t *t, ss_plugin_table_entry_t *e);
	ss_plugin_bool (*iterate_entries)(ss_plugin_table_t *t, ss_plugin_table_iterator_func_t it,
	                                  ss_plugin_table_iterator_state_t *s);
} ss_plugin_table_reader_vtable_ext;

typedef struct {
	ss_plugin_rc (*clear_table)(ss_plugin_table_t *t);
	ss_plugin_rc (*erase_table_entry)(ss_plugin_table_t *t, const ss_plugin_state_data *key);
	ss_plugin_table_entry_t *(*create_table_entry)(ss_plugin_table_t *t);
	void (*destroy_table_entry)(ss_plugin_table_t *t, ss_plugin_table_entry_t *e);
	ss_plugin_table_entry_t *(*add_table_entry)(ss_plugin_table_t *t, const ss_plugin_state_data *key,
	                                            ss_plugin_table_entry_t *entry);
	ss_plugin_rc (*write_entry_field)(ss_plugin_table_t *t, ss_plugin_table_entry_t *e,
	                                  const ss_plugin_table_field_t *f, const ss_plugin_state_data *in);
} ss_plugin_table_writer_vtable;

typedef struct {
	ss_plugin_rc (*clear_table)(ss_plugin_table_t *t);
	ss_plugin_rc (*erase_table_entry)(ss_plugin_table_t *t, const ss_plugin_state_data *key);
	ss_plugin_table_entry_t *(*create_table_entry)(ss_plugin_table_t *t);
	void (*destroy_table_entry)(ss_plugin_table_t *t, ss_plugin_table_entry_t *e);
	ss_plugin_table_entry_t *(*add_table_entry)(ss_plugin_table_t *t, const ss_plugin_state_data *key,
	                                            ss_plugin_table_entry_t *entry);
	ss_plugin_rc (*write_entry_field)(ss_plugin_table_t *t, ss_plugin_table_entry_t *e,
	                                  const ss_plugin_table_field_t *f, const ss_plugin_state_data *in);
} ss_plugin_table_writer_vtable_ext;

/* A table a plugin owns and offers to the framework through add_table(). */
typedef struct {
	const char *name;
	ss_plugin_state_type key_type;
	ss_plugin_table_t *table;
	ss_plugin_table_reader_vtable reader;
	ss_plugin_table_writer_vtable writer;
	ss_plugin_table_fields_vtable fields;
	ss_plugin_table_reader_vtable_ext *reader_ext;
	ss_plugin_table_writer_vtable_ext *writer_ext;
	ss_plugin_table_fields_vtable_ext *fields_ext;
} ss_plugin_table_input;

/* Given at init to plugins that parse or extract: discover and define tables. */
typedef struct {
	ss_plugin_table_info *(*list_tables)(ss_plugin_owner_t *o, uint32_t *ntables);
	ss_plugin_table_t *(*get_table)(ss_plugin_owner_t *o, const char *name, ss_plugin_state_type key_type);
	ss_plugin_rc (*add_table)(ss_plugin_owner_t *o, const ss_plugin_table_input *in);
	ss_plugin_table_fields_vtable fields;
	ss_plugin_table_fields_vtable_ext *fields_ext;
	ss_plugin_table_reader_vtable_ext *reader_ext;
	ss_plugin_table_writer_vtable_ext *writer_ext;
} ss_plugin_init_tables_input;

typedef void (*ss_plugin_log_fn_t)(ss_plugin_owner_t *o, const char *component, const char *msg,
                                   ss_plugin_log_severity sev);

typedef struct ss_plugin_init_input {
	const char *config;
	ss_plugin_owner_t *owner;
	const char *(*get_owner_last_error)(ss_plugin_owner_t *o);
	const ss_plugin_init_tables_input *tables;
	ss_plugin_log_fn_t log_fn;
} ss_plugin_init_input;

typedef struct ss_plugin_field_extract_input {
	ss_plugin_owner_t *owner;
	const char *(*get_owner_last_error)(ss_plugin_owner_t *o);
	uint32_t num_fields;
	ss_plugin_extract_field *fields;
	ss_plugin_table_reader_vtable table_reader;
	ss_plugin_table_reader_vtable_ext *table_reader_ext;
	ss_plugin_extract_value_offsets *value_offsets;
} ss_plugin_field_extract_input;

typedef struct ss_plugin_event_parse_input {
	ss_plugin_owner_t *owner;
	const char *(*get_owner_last_error)(ss_plugin_owner_t *o);
	ss_plugin_table_reader_vtable table_reader;
	ss_plugin_table_writer_vtable table_writer;
	ss_plugin_table_reader_vtable_ext *table_reader_ext;
	ss_plugin_table_writer_vtable_ext *table_writer_ext;
} ss_plugin_event_parse_input;

typedef struct ss_plugin_set_config_input {
	const char *config;
} ss_plugin_set_config_input;

typedef void ss_plugin_routine_t;
typedef void ss_plugin_routine_state_t;
typedef ss_plugin_bool (*ss_plugin_routine_fn_t)(ss_plugin_t *s, ss_plugin_routine_state_t *i);

typedef struct {
	ss_plugin_routine_t *(*subscribe)(ss_plugin_owner_t *o, ss_plugin_routine_fn_t f,
	                                  ss_plugin_routine_state_t *i);
	ss_plugin_rc (*unsubscribe)(ss_plugin_owner_t *o, ss_plugin_routine_t *r);
} ss_plugin_routine_vtable;

typedef struct ss_plugin_capture_listen_input {
	ss_plugin_owner_t *owner;
	ss_plugin_routine_vtable *routine;
	ss_plugin_table_reader_vtable_ext *table_reader_ext;
	ss_plugin_table_writer_vtable_ext *table_writer_ext;
	const char *(*get_owner_last_error)(ss_plugin_owner_t *o);
} ss_plugin_capture_listen_input;

/* Handler a plugin calls to push an async event (type 402); thread-safe. */
typedef ss_plugin_rc (*ss_plugin_async_event_handler_t)(ss_plugin_owner_t *o, const ss_plugin_event *evt,
                                                        char *err);

/* ---- the symbols a plugin exports (only the required ones must exist) ---- */

/* common (required) */
const char *plugin_get_required_api_version(void);
const char *plugin_get_version(void);
const char *plugin_get_name(void);
const char *plugin_get_description(void);
const char *plugin_get_contact(void);
ss_plugin_t *plugin_init(const ss_plugin_init_input *input, ss_plugin_rc *rc);
void plugin_destroy(ss_plugin_t *s);
const char *plugin_get_last_error(ss_plugin_t *s);
/* common (optional) */
const char *plugin_get_init_schema(ss_plugin_schema_type *schema_type);
ss_plugin_rc plugin_set_config(ss_plugin_t *s, const ss_plugin_set_config_input *i);
ss_plugin_metric *plugin_get_metrics(ss_plugin_t *s, uint32_t *num_metrics);
const char *plugin_get_required_event_schema_version(ss_plugin_t *s);

/* event sourcing */
uint32_t plugin_get_id(void);
const char *plugin_get_event_source(void);
ss_instance_t *plugin_open(ss_plugin_t *s, const char *params, ss_plugin_rc *rc);
void plugin_close(ss_plugin_t *s, ss_instance_t *h);
const char *plugin_list_open_params(ss_plugin_t *s, ss_plugin_rc *rc);
const char *plugin_get_progress(ss_plugin_t *s, ss_instance_t *h, uint32_t *progress_pct);
const char *plugin_event_to_string(ss_plugin_t *s, const ss_plugin_event_input *evt);
ss_plugin_rc plugin_next_batch(ss_plugin_t *s, ss_instance_t *h, uint32_t *nevts, ss_plugin_event ***evts);

/* field extraction */
uint16_t *plugin_get_extract_event_types(uint32_t *numtypes, ss_plugin_t *s);
const char *plugin_get_extract_event_sources(void);
const char *plugin_get_fields(void);
ss_plugin_rc plugin_extract_fields(ss_plugin_t *s, const ss_plugin_event_input *evt,
                                   const ss_plugin_field_extract_input *in);

/* event parsing */
uint16_t *plugin_get_parse_event_types(uint32_t *numtypes, ss_plugin_t *s);
const char *plugin_get_parse_event_sources(void);
ss_plugin_rc plugin_parse_event(ss_plugin_t *s, const ss_plugin_event_input *evt,
                                const ss_plugin_event_parse_input *in);

/* async events */
const char *plugin_get_async_event_sources(void);
const char *plugin_get_async_events(void);
ss_plugin_rc plugin_set_async_event_handler(ss_plugin_t *s, ss_plugin_owner_t *owner,
                                            const ss_plugin_async_event_handler_t handler);
ss_plugin_rc plugin_dump_state(ss_plugin_t *s, ss_plugin_owner_t *owner,
                               const ss_plugin_async_event_handler_t handler);

/* capture listening */
ss_plugin_rc plugin_capture_open(ss_plugin_t *s, const ss_plugin_capture_listen_input *i);
ss_plugin_rc plugin_capture_close(ss_plugin_t *s, const ss_plugin_capture_listen_input *i);

#ifdef __cplusplus
}
#endif
