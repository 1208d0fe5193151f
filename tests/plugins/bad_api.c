/* Test plugin: requires the API version REQ_API (set at compile time), else complete. */
#include <stdlib.h>
#include "plugin_api.h"

const char *plugin_get_required_api_version(void) { return REQ_API; }
const char *plugin_get_version(void) { return "1.0.0"; }
const char *plugin_get_name(void) { return "bad_api"; }
const char *plugin_get_description(void) { return "wants another API"; }
const char *plugin_get_contact(void) { return "tests"; }
const char *plugin_get_fields(void) { return "[{\"type\":\"uint64\",\"name\":\"bad.x\",\"desc\":\"x\"}]"; }
ss_plugin_t *plugin_init(const ss_plugin_init_input *in, ss_plugin_rc *rc) { *rc = SS_PLUGIN_SUCCESS; return malloc(1); }
void plugin_destroy(ss_plugin_t *s) { free(s); }
const char *plugin_get_last_error(ss_plugin_t *s) { return ""; }
ss_plugin_rc plugin_extract_fields(ss_plugin_t *s, const ss_plugin_event_input *e,
                                   const ss_plugin_field_extract_input *in) { return SS_PLUGIN_FAILURE; }
