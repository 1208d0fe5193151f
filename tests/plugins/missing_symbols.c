/* Test plugin: omits plugin_get_last_error (required) unless HAVE_LAST_ERROR;
 * with HALF_SOURCE it also exports plugin_open without plugin_next_batch. */
#include <stdlib.h>
#include "plugin_api.h"

const char *plugin_get_required_api_version(void) { return "3.0.0"; }
const char *plugin_get_version(void) { return "1.0.0"; }
const char *plugin_get_name(void) { return "missing"; }
const char *plugin_get_description(void) { return "incomplete"; }
const char *plugin_get_contact(void) { return "tests"; }
ss_plugin_t *plugin_init(const ss_plugin_init_input *in, ss_plugin_rc *rc) { *rc = SS_PLUGIN_SUCCESS; return malloc(1); }
void plugin_destroy(ss_plugin_t *s) { free(s); }
#ifdef HAVE_LAST_ERROR
const char *plugin_get_last_error(ss_plugin_t *s) { return ""; }
#endif
#ifdef HALF_SOURCE
ss_instance_t *plugin_open(ss_plugin_t *s, const char *p, ss_plugin_rc *rc) { *rc = SS_PLUGIN_FAILURE; return NULL; }
void plugin_close(ss_plugin_t *s, ss_instance_t *h) {}
#endif
