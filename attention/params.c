/* Method parameters as plain data (params.h) and their conversion from a
 * plan's JSON. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention/params_json.h"
#include "core/error.h"
#include "io/json.h"

#define MAX_INT 9007199254740992.0 /* 2^53: integers exact in a double */

static void value_free(dg_attn_value *v) {
    for (int i = 0; i < v->n_items; i++) value_free(&v->items[i]);
    free(v->items);
    free(v->string);
}

void dg_attn_params_free(dg_attn_params *ps) {
    if (!ps) return;
    for (int i = 0; i < ps->n; i++) {
        free(ps->items[i].key);
        value_free(&ps->items[i].value);
    }
    free(ps->items);
    memset(ps, 0, sizeof *ps);
}

/* A scalar, or (when array_ok) a flat array of scalars. */
static int value_from_json(dg_attn_value *v, const cJSON *j, const char *ctx, const char *key, int array_ok) {
    memset(v, 0, sizeof *v);
    if (cJSON_IsNumber(j)) {
        v->kind = DG_ATTN_NUMBER, v->number = j->valuedouble;
    } else if (cJSON_IsBool(j)) {
        v->kind = DG_ATTN_BOOL, v->number = cJSON_IsTrue(j);
    } else if (cJSON_IsString(j) && j->valuestring) {
        v->kind = DG_ATTN_STRING;
        v->string = strdup(j->valuestring);
        DG_CHECK_ALLOC(v->string);
    } else if (array_ok && cJSON_IsArray(j)) {
        v->kind = DG_ATTN_ARRAY;
        const int n = cJSON_GetArraySize(j);
        v->items = calloc((size_t)(n ? n : 1), sizeof *v->items);
        DG_CHECK_ALLOC(v->items);
        for (const cJSON *e = j->child; e; e = e->next) {
            v->n_items++; /* counted before filling so a failure frees what was made */
            DG_TRY(value_from_json(&v->items[v->n_items - 1], e, ctx, key, 0));
        }
    } else {
        return dg_error("%s: key '%s' must be a number, true/false, a string or a flat array of those", ctx, key);
    }
    return DG_OK;
}

int dg_attn_params_from_json(dg_attn_params *ps, const cJSON *obj, const char *ctx) {
    memset(ps, 0, sizeof *ps);
    if (!obj || cJSON_IsNull(obj)) return DG_OK;
    DG_CHECK(cJSON_IsObject(obj), "%s must be a JSON object", ctx);
    const int n = cJSON_GetArraySize(obj);
    ps->items = calloc((size_t)(n ? n : 1), sizeof *ps->items);
    DG_CHECK_ALLOC(ps->items);
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (cJSON_IsNull(it)) continue; /* null counts as absent */
        dg_attn_param *p = &ps->items[ps->n++];
        if (!(p->key = strdup(it->string)) || value_from_json(&p->value, it, ctx, it->string, 1) != DG_OK) {
            if (!p->key) dg_error("%s:%d: out of memory", __FILE__, __LINE__);
            dg_attn_params_free(ps);
            return DG_ERR;
        }
    }
    return DG_OK;
}

int dg_attn_params_parse(dg_attn_params *ps, const char *json_text, const char *ctx) {
    memset(ps, 0, sizeof *ps);
    DG_CHECK(json_text != NULL, "%s: no parameters given", ctx);
    cJSON *root;
    DG_TRY(dg_json_parse(ctx, json_text, strlen(json_text), &root));
    const int rc = dg_attn_params_from_json(ps, root, ctx);
    cJSON_Delete(root);
    return rc;
}

const dg_attn_value *dg_attn_params_find(const dg_attn_params *ps, const char *key) {
    if (!ps) return NULL;
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->items[i].key, key)) return &ps->items[i].value;
    return NULL;
}

int dg_attn_params_check_keys(const dg_attn_params *ps, const char *ctx, const char *const *keys) {
    if (!ps) return DG_OK;
    for (int i = 0; i < ps->n; i++) {
        int known = 0;
        for (const char *const *k = keys; *k && !known; k++) known = !strcmp(ps->items[i].key, *k);
        DG_CHECK(known, "%s: unknown parameter '%s'", ctx, ps->items[i].key);
    }
    return DG_OK;
}

int dg_attn_value_integer(const dg_attn_value *v, int64_t *out) {
    if (v->kind != DG_ATTN_NUMBER || !(v->number >= -MAX_INT && v->number <= MAX_INT)) return 0;
    const int64_t i = (int64_t)v->number;
    if ((double)i != v->number) return 0;
    *out = i;
    return 1;
}

int dg_attn_params_get_int(const char *ctx, const dg_attn_params *ps, const char *key, int64_t *out) {
    const dg_attn_value *v = dg_attn_params_find(ps, key);
    if (!v) return DG_OK;
    DG_CHECK(dg_attn_value_integer(v, out), "%s: key '%s' must be an integer", ctx, key);
    return DG_OK;
}

int dg_attn_params_get_double(const char *ctx, const dg_attn_params *ps, const char *key, double *out) {
    const dg_attn_value *v = dg_attn_params_find(ps, key);
    if (!v) return DG_OK;
    DG_CHECK(v->kind == DG_ATTN_NUMBER && isfinite(v->number), "%s: key '%s' must be a finite number", ctx, key);
    *out = v->number;
    return DG_OK;
}

int dg_attn_params_get_bool(const char *ctx, const dg_attn_params *ps, const char *key, int *out) {
    const dg_attn_value *v = dg_attn_params_find(ps, key);
    if (!v) return DG_OK;
    DG_CHECK(v->kind == DG_ATTN_BOOL, "%s: key '%s' must be true or false", ctx, key);
    *out = (int)v->number;
    return DG_OK;
}

int dg_attn_params_get_string(const char *ctx, const dg_attn_params *ps, const char *key, const char **out) {
    const dg_attn_value *v = dg_attn_params_find(ps, key);
    if (!v) return DG_OK;
    DG_CHECK(v->kind == DG_ATTN_STRING, "%s: key '%s' must be a string", ctx, key);
    *out = v->string;
    return DG_OK;
}

int dg_attn_params_get_int_array(const char *ctx, const dg_attn_params *ps, const char *key, int64_t *out, int n) {
    const dg_attn_value *v = dg_attn_params_find(ps, key);
    if (!v) return DG_OK;
    DG_CHECK(v->kind == DG_ATTN_ARRAY && v->n_items == n, "%s: key '%s' must be an array of %d integers", ctx, key, n);
    int64_t tmp;
    for (int i = 0; i < n; i++)
        DG_CHECK(dg_attn_value_integer(&v->items[i], &tmp), "%s: key '%s': element %d must be an integer", ctx, key, i);
    for (int i = 0; i < n; i++) dg_attn_value_integer(&v->items[i], &out[i]);
    return DG_OK;
}
