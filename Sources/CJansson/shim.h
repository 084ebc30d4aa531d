#ifndef DLG_CJANSSON_SHIM_H
#define DLG_CJANSSON_SHIM_H
#include <jansson.h>

/* Function-like macros and inline helpers do not import into Swift; typed wrappers here. */
static inline void dlg_json_decref(json_t *json) { json_decref(json); }
static inline json_t *dlg_json_incref(json_t *json) { return json_incref(json); }
static inline int dlg_json_typeof(const json_t *json) { return (int)json_typeof(json); }
#endif
