/* A method's parameters as plain data: what a plan's "params" object holds
 * (numbers, booleans, strings and flat arrays of those), parsed once from the
 * plan file so methods never see JSON. Getters mirror io/json.h: an absent
 * key leaves *out untouched (callers preset defaults), a JSON null counts as
 * absent, and errors name ctx and the key. */
#ifndef DG_ATTENTION_PARAMS_H
#define DG_ATTENTION_PARAMS_H

#include <stdint.h>

typedef enum { DG_ATTN_NUMBER, DG_ATTN_BOOL, DG_ATTN_STRING, DG_ATTN_ARRAY } dg_attn_value_kind;

typedef struct dg_attn_value {
    dg_attn_value_kind kind;
    double number;                 /* NUMBER; BOOL: 0 or 1 */
    char *string;                  /* STRING */
    struct dg_attn_value *items;   /* ARRAY: numbers, booleans or strings */
    int n_items;
} dg_attn_value;

typedef struct dg_attn_param {
    char *key;
    dg_attn_value value;
} dg_attn_param;

typedef struct dg_attn_params {
    dg_attn_param *items;
    int n;
} dg_attn_params;

/* Parse a JSON object text (e.g. "{\"tile\": [2, 4, 4]}"); ctx names it in messages. */
int dg_attn_params_parse(dg_attn_params *ps, const char *json_text, const char *ctx);
void dg_attn_params_free(dg_attn_params *ps);

/* The value under key; NULL when absent (ps may be NULL: no parameters). */
const dg_attn_value *dg_attn_params_find(const dg_attn_params *ps, const char *key);
/* Refuse keys outside the NULL-terminated list, naming ctx and the key. */
int dg_attn_params_check_keys(const dg_attn_params *ps, const char *ctx, const char *const *keys);

/* Integers must be integral numbers within +-2^53. */
int dg_attn_params_get_int(const char *ctx, const dg_attn_params *ps, const char *key, int64_t *out);
int dg_attn_params_get_double(const char *ctx, const dg_attn_params *ps, const char *key, double *out);
int dg_attn_params_get_bool(const char *ctx, const dg_attn_params *ps, const char *key, int *out);
/* *out points into ps. */
int dg_attn_params_get_string(const char *ctx, const dg_attn_params *ps, const char *key, const char **out);
/* An array of exactly n integers into out[0..n) (untouched on failure). */
int dg_attn_params_get_int_array(const char *ctx, const dg_attn_params *ps, const char *key, int64_t *out, int n);
/* Integral number test shared by the getters and the array readers of the methods. */
int dg_attn_value_integer(const dg_attn_value *v, int64_t *out);

#endif
