/* Reading JSON files (diffusers config.json, checkpoint index files) with
 * cJSON, and typed getters whose errors name the file and the key.
 *
 * Every getter takes a context string `ctx`, usually the file's path (or
 * "path: section" for a nested object), so errors read like
 *   "transformer/config.json: key 'num_layers' must be an integer".
 * A JSON null counts as absent: diffusers writes null for options left unset.
 * When a key is absent (or null) and not required, the getter returns DG_OK
 * and leaves *out untouched, so callers preset defaults. */
#ifndef DG_IO_JSON_H
#define DG_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Parse len bytes of text (no terminating NUL needed). Only whitespace may
 * follow the value, and the top level must be an object. On a syntax error
 * the message gives the approximate byte offset. Free *out with cJSON_Delete. */
int dg_json_parse(const char *ctx, const char *text, size_t len, cJSON **out);
/* Read and parse a whole file (at most 100 MB); errors name the file. */
int dg_json_load(const char *path, cJSON **out);

/* Every key of obj (which must be an object) is one of keys (NULL-terminated); an unknown one is
 * refused naming it and the known ones: "ctx: unknown key 'treshold' (known: method, threshold)". */
int dg_json_check_keys(const char *ctx, const cJSON *obj, const char *const *keys);

/* Integers must be integral numbers within +-2^53 (exact in a double). */
int dg_json_get_int(const char *ctx, const cJSON *obj, const char *key, int64_t *out, int required);
int dg_json_get_double(const char *ctx, const cJSON *obj, const char *key, double *out, int required);
/* Only true/false; 0 and 1 are refused. *out is 0 or 1. */
int dg_json_get_bool(const char *ctx, const cJSON *obj, const char *key, int *out, int required);
/* *out points into the cJSON tree; it lives as long as the tree. */
int dg_json_get_string(const char *ctx, const cJSON *obj, const char *key, const char **out, int required);
/* An array of exactly n_expected integers, written to out[0..n_expected). */
int dg_json_get_int_array(const char *ctx, const cJSON *obj, const char *key, int64_t *out, int n_expected,
                          int required);

#endif
