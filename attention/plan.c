/* Attention plans from JSON (see plan.h). */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/params_json.h"
#include "attention/plan.h"
#include "core/error.h"
#include "io/presets.h"
#include "io/json.h"

/* A JSON array of integers in [0, 2^20) (layers, heads); absent -> NULL, 0. */
static int get_index_list(const char *ctx, const cJSON *obj, const char *key, int64_t **out, int *n) {
    *out = NULL, *n = 0;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!arr || cJSON_IsNull(arr)) return DG_OK;
    DG_CHECK(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) >= 1, "%s: '%s' must be a non-empty array of integers",
             ctx, key);
    const int len = cJSON_GetArraySize(arr);
    int64_t *v = malloc((size_t)len * sizeof(int64_t));
    DG_CHECK_ALLOC(v);
    for (int i = 0; i < len; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < 0 ||
            e->valuedouble >= (1 << 20)) {
            free(v);
            return dg_error("%s: '%s'[%d] must be a non-negative integer", ctx, key, i);
        }
        v[i] = (int64_t)e->valuedouble;
    }
    *out = v, *n = len;
    return DG_OK;
}

/* "method" (required) and "params" of obj, created into *m. */
static int make_method(const cJSON *obj, const char *ctx, dg_attn_method **m) {
    const char *name;
    DG_TRY(dg_json_get_string(ctx, obj, "method", &name, 1));
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(obj, "params");
    if (params && cJSON_IsNull(params)) params = NULL;
    char where[512];
    snprintf(where, sizeof where, "%s: params", ctx);
    dg_attn_params ps;
    DG_TRY(dg_attn_params_from_json(&ps, params, where));
    const int rc = dg_attn_method_create(m, name, &ps, where);
    dg_attn_params_free(&ps);
    return rc;
}

static int parse_rule(dg_attn_plan_rule *r, const cJSON *obj, const char *ctx) {
    static const char *const keys[] = {"steps", "layers", "heads", "method", "params", NULL};
    r->step_lo = 0, r->step_hi = -1;
    DG_TRY(dg_json_check_keys(ctx, obj, keys));
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(obj, "steps");
    if (steps && !cJSON_IsNull(steps)) {
        int64_t range[2];
        DG_TRY(dg_json_get_int_array(ctx, obj, "steps", range, 2, 1));
        DG_CHECK(range[0] >= 0 && range[1] > range[0], "%s: 'steps' must be [first, end) with 0 <= first < end", ctx);
        r->step_lo = range[0], r->step_hi = range[1];
    }
    DG_TRY(get_index_list(ctx, obj, "layers", &r->layers, &r->n_layers));
    DG_TRY(get_index_list(ctx, obj, "heads", &r->heads, &r->n_heads));
    return make_method(obj, ctx, &r->method);
}

static int plan_from_json(dg_attn_plan *p, const cJSON *root, const char *src) {
    static const char *const keys[] = {"description", "method",       "params",   "dense_steps",
                                       "dense_fraction", "dense_layers", "overrides", NULL};
    memset(p, 0, sizeof *p);
    p->dense_steps = -1, p->dense_fraction = -1;
    p->source = strdup(src);
    DG_CHECK_ALLOC(p->source);
    char ctx[600];
    if (dg_json_check_keys(src, root, keys) || make_method(root, src, &p->base) ||
        dg_attn_method_create(&p->dense, "dense", NULL, src) ||
        dg_json_get_int(src, root, "dense_steps", &p->dense_steps, 0) ||
        dg_json_get_double(src, root, "dense_fraction", &p->dense_fraction, 0) ||
        get_index_list(src, root, "dense_layers", &p->dense_layers, &p->n_dense_layers))
        goto fail;
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (desc && !cJSON_IsString(desc)) {
        dg_error("%s: 'description' must be a string", src);
        goto fail;
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "dense_steps") && p->dense_steps < 0) {
        dg_error("%s: 'dense_steps' must be >= 0 (got %lld)", src, (long long)p->dense_steps);
        goto fail;
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "dense_fraction") && !(p->dense_fraction >= 0 && p->dense_fraction <= 1)) {
        dg_error("%s: 'dense_fraction' must be in [0, 1] (got %g)", src, p->dense_fraction);
        goto fail;
    }
    if (p->dense_steps >= 0 && p->dense_fraction >= 0) {
        dg_error("%s: give 'dense_steps' or 'dense_fraction', not both", src);
        goto fail;
    }
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(root, "overrides");
    if (ov && !cJSON_IsNull(ov)) {
        if (!cJSON_IsArray(ov)) {
            dg_error("%s: 'overrides' must be an array of objects", src);
            goto fail;
        }
        const int n = cJSON_GetArraySize(ov);
        p->rules = calloc((size_t)(n ? n : 1), sizeof *p->rules);
        if (!p->rules) {
            dg_error("%s:%d: out of memory", __FILE__, __LINE__);
            goto fail;
        }
        for (int i = 0; i < n; i++) {
            snprintf(ctx, sizeof ctx, "%s: overrides[%d]", src, i);
            p->n_rules = i + 1;
            if (parse_rule(&p->rules[i], cJSON_GetArrayItem(ov, i), ctx)) goto fail;
        }
    }
    return DG_OK;
fail:
    dg_attn_plan_free(p);
    return DG_ERR;
}

int dg_attn_plan_load(dg_attn_plan *p, const char *preset_or_path, const char *configs_dir) {
    memset(p, 0, sizeof *p);
    char path[4096];
    cJSON *root;
    DG_TRY(dg_preset_load("attention", "attention plan", preset_or_path, configs_dir, path, sizeof path, &root));
    int rc = plan_from_json(p, root, path);
    cJSON_Delete(root);
    return rc;
}

int dg_attn_plan_parse(dg_attn_plan *p, const char *json_text, const char *src) {
    memset(p, 0, sizeof *p);
    cJSON *root;
    DG_TRY(dg_json_parse(src, json_text, strlen(json_text), &root));
    int rc = plan_from_json(p, root, src);
    cJSON_Delete(root);
    return rc;
}

static int check_list(const char *src, const char *what, const int64_t *v, int n, int limit, const char *unit) {
    for (int i = 0; i < n; i++)
        DG_CHECK(v[i] < limit, "%s: %s[%d] = %lld but the model has %d %s", src, what, i, (long long)v[i], limit, unit);
    return DG_OK;
}

int dg_attn_plan_check(const dg_attn_plan *p, int num_layers, int num_heads) {
    DG_TRY(check_list(p->source, "dense_layers", p->dense_layers, p->n_dense_layers, num_layers, "layers"));
    char what[64];
    for (int r = 0; r < p->n_rules; r++) {
        snprintf(what, sizeof what, "overrides[%d].layers", r);
        DG_TRY(check_list(p->source, what, p->rules[r].layers, p->rules[r].n_layers, num_layers, "layers"));
        snprintf(what, sizeof what, "overrides[%d].heads", r);
        DG_TRY(check_list(p->source, what, p->rules[r].heads, p->rules[r].n_heads, num_heads, "heads"));
    }
    return DG_OK;
}

static int same_geometry(const dg_attn_geometry *a, const dg_attn_geometry *b) {
    return a->T == b->T && a->H == b->H && a->W == b->W && a->text_tokens == b->text_tokens &&
           a->text_first == b->text_first && a->heads == b->heads && a->head_dim == b->head_dim;
}

int dg_attn_plan_prepare(dg_attn_plan *p, const dg_attn_geometry *g, dg_backend *be) {
    if (p->prepared_on == be && same_geometry(&p->prepared, g)) return DG_OK;
    p->prepared_on = NULL; /* until every method is prepared */
    dg_attn_method *all[2] = {p->base, p->dense};
    for (int i = 0; i < 2; i++)
        if (dg_attn_method_prepare(all[i], g, be) != DG_OK) return dg_error_wrap("%s: ", p->source);
    for (int r = 0; r < p->n_rules; r++)
        if (dg_attn_method_prepare(p->rules[r].method, g, be) != DG_OK)
            return dg_error_wrap("%s: overrides[%d]: ", p->source, r);
    p->prepared = *g, p->prepared_on = be;
    return DG_OK;
}

static int in_list(const int64_t *v, int n, int x) {
    if (!v) return 1;
    for (int i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

dg_attn_method *dg_attn_plan_method(const dg_attn_plan *p, int step, int steps, int layer, int head) {
    if (p->dense_steps >= 0 && step < p->dense_steps) return p->dense;
    if (p->dense_fraction >= 0 && step < (int64_t)llround(p->dense_fraction * steps)) return p->dense;
    if (p->dense_layers && in_list(p->dense_layers, p->n_dense_layers, layer)) return p->dense;
    for (int r = p->n_rules - 1; r >= 0; r--) {
        const dg_attn_plan_rule *ru = &p->rules[r];
        if (step >= ru->step_lo && (ru->step_hi < 0 || step < ru->step_hi) &&
            in_list(ru->layers, ru->n_layers, layer) && in_list(ru->heads, ru->n_heads, head))
            return ru->method;
    }
    return p->base;
}

int dg_attn_plan_sparse_at(const dg_attn_plan *p, int step, int steps, int layers, int heads) {
    for (int l = 0; l < layers; l++)
        for (int h = 0; h < heads; h++)
            if (strcmp(dg_attn_plan_method(p, step, steps, l, h)->ops->name, "dense")) return 1;
    return 0;
}

int dg_attn_plan_run(dg_attn_plan *p, int step, int steps, int layer, dg_tensor *o, const dg_tensor *q,
                     const dg_tensor *k, const dg_tensor *v, int heads, const dg_attn_opts *opts) {
    dg_attn_opts op = opts ? *opts : (dg_attn_opts){0};
    for (int h0 = 0; h0 < heads;) {
        dg_attn_method *m = dg_attn_plan_method(p, step, steps, layer, h0);
        int h1 = h0 + 1;
        while (h1 < heads && dg_attn_plan_method(p, step, steps, layer, h1) == m) h1++;
        op.head_begin = h0, op.head_count = h1 - h0;
        DG_TRY(dg_attn_method_run(m, o, q, k, v, heads, &op));
        h0 = h1;
    }
    return DG_OK;
}

void dg_attn_plan_free(dg_attn_plan *p) {
    if (!p) return;
    for (int r = 0; r < p->n_rules; r++) {
        free(p->rules[r].layers), free(p->rules[r].heads);
        dg_attn_method_free(p->rules[r].method);
    }
    free(p->rules);
    free(p->dense_layers);
    dg_attn_method_free(p->base);
    dg_attn_method_free(p->dense);
    free(p->source);
    memset(p, 0, sizeof *p);
}
