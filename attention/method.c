/* The method registry (name -> constructor), creation and destruction, the
 * "dense" method, and helpers shared by the method files. */
#include <stdlib.h>
#include <string.h>

#include "attention/methods_internal.h"
#include "core/error.h"

static const struct {
    const char *name;
    int (*create)(dg_attn_method *m, const cJSON *params, const char *ctx);
} registry[] = {
    {"dense", dg_attn_dense_create},   {"grat", dg_attn_grat_create},       {"radial", dg_attn_radial_create},
    {"sta", dg_attn_sta_create},       {"vdit_tile", dg_attn_vdit_tile_create}, {"natten", dg_attn_natten_create},
    {"agent", dg_attn_agent_create},
};

int dg_attn_method_create(dg_attn_method **out, const char *name, const cJSON *params, const char *ctx) {
    *out = NULL;
    DG_CHECK(name != NULL, "%s: missing attention method name", ctx);
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        if (strcmp(name, registry[i].name)) continue;
        DG_CHECK(!params || cJSON_IsObject(params), "%s: params of method '%s' must be a JSON object", ctx, name);
        dg_attn_method *m = calloc(1, sizeof *m);
        DG_CHECK_ALLOC(m);
        if (registry[i].create(m, params, ctx) != DG_OK) {
            free(m);
            return DG_ERR;
        }
        *out = m;
        return DG_OK;
    }
    return dg_error("%s: unknown attention method '%s' (known: dense, grat, radial, sta, vdit_tile, natten, agent)",
                    ctx, name);
}

void dg_attn_method_free(dg_attn_method *m) {
    if (!m) return;
    if (m->ops && m->ops->destroy) m->ops->destroy(m);
    dg_block_layout_free(&m->layout);
    free(m);
}

int dg_attn_params_check_keys(const cJSON *params, const char *ctx, const char *const *keys) {
    if (!params) return DG_OK;
    DG_CHECK(cJSON_IsObject(params), "%s: params must be a JSON object", ctx);
    for (const cJSON *it = params->child; it; it = it->next) {
        int known = 0;
        for (const char *const *k = keys; *k && !known; k++) known = !strcmp(it->string, *k);
        DG_CHECK(known, "%s: unknown parameter '%s'", ctx, it->string);
    }
    return DG_OK;
}

int dg_attn_geometry_check(const dg_attn_geometry *g, const char *method) {
    DG_CHECK(g != NULL, "%s: missing geometry", method);
    DG_CHECK(g->T >= 1 && g->H >= 1 && g->W >= 1, "%s: geometry T, H, W must be >= 1 (got %dx%dx%d)", method, g->T,
             g->H, g->W);
    DG_CHECK(g->text_tokens >= 0, "%s: geometry text_tokens must be >= 0 (got %d)", method, g->text_tokens);
    DG_CHECK(g->heads >= 1 && g->head_dim >= 1, "%s: geometry heads and head_dim must be >= 1", method);
    DG_CHECK(dg_attn_geometry_tokens(g) <= INT32_MAX, "%s: geometry has too many tokens", method);
    return DG_OK;
}

int dg_attn_layout_run(dg_attn_method *m, float *o, const float *q, const float *k, const float *v,
                       const dg_attn_shape *s) {
    /* The layout depends on the tokens only: any subset of heads may run it (per-head plan overrides). */
    DG_CHECK(m->layout.row_start != NULL, "%s: run before prepare", m->ops->name);
    return dg_attention_sparse_cpu(o, q, k, v, s, &m->layout);
}

double dg_attn_layout_density(const dg_attn_method *m) { return dg_block_layout_density(&m->layout); }

/* "dense": no layout; the dense kernel directly. */
static int dense_prepare(dg_attn_method *m, const dg_attn_geometry *g) {
    DG_TRY(dg_attn_geometry_check(g, "dense"));
    m->geom = *g;
    return DG_OK;
}

static int dense_run(dg_attn_method *m, float *o, const float *q, const float *k, const float *v,
                     const dg_attn_shape *s) {
    return dg_attention_dense_cpu(o, q, k, v, s);
}

static double dense_density(const dg_attn_method *m) { return 1.0; }

static int dense_allow(const dg_attn_method *m, int64_t i, int64_t j) { return 1; }

static const dg_attn_method_ops dense_ops = {"dense", dense_prepare, dense_run, dense_density, dense_allow, NULL};

int dg_attn_dense_create(dg_attn_method *m, const cJSON *params, const char *ctx) {
    static const char *const keys[] = {NULL};
    DG_TRY(dg_attn_params_check_keys(params, ctx, keys));
    m->ops = &dense_ops;
    return DG_OK;
}
