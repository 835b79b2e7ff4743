/* The method registry (name -> constructor), creation and destruction, the
 * "dense" method, and helpers shared by the method files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/methods_internal.h"
#include "core/cpu/ops_cpu.h"
#include "core/error.h"
#include "core/ops.h"

static const struct {
    const char *name;
    int (*create)(dg_attn_method *m, const dg_attn_params *params, const char *ctx);
} registry[] = {
    {"dense", dg_attn_dense_create},   {"grat", dg_attn_grat_create},       {"radial", dg_attn_radial_create},
    {"sta", dg_attn_sta_create},       {"vdit_tile", dg_attn_vdit_tile_create}, {"natten", dg_attn_natten_create},
    {"agent", dg_attn_agent_create},
};

int dg_attn_method_create(dg_attn_method **out, const char *name, const dg_attn_params *params, const char *ctx) {
    *out = NULL;
    DG_CHECK(name != NULL, "%s: missing attention method name", ctx);
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        if (strcmp(name, registry[i].name)) continue;
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

int dg_attn_method_prepare(dg_attn_method *m, const dg_attn_geometry *g, dg_backend *be) {
    DG_TRY(m->ops->prepare(m, g));
    return m->layout.row_start ? dg_block_layout_upload(&m->layout, be) : DG_OK;
}

int dg_attn_method_run(dg_attn_method *m, dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v,
                       int heads, const dg_attn_opts *opts) {
    dg_attn_opts op = opts ? *opts : (dg_attn_opts){0};
    DG_CHECK(m->geom.heads > 0, "%s: run before prepare", m->ops->name);
    if (!m->ops->run) {
        /* The layout depends on the tokens only: any subset of heads may run it (per-head plan overrides). */
        op.layout = m->layout.row_start ? &m->layout : NULL;
        return dg_attention(o, q, k, v, heads, &op);
    }
    DG_CHECK(o->backend->kind == DG_BACKEND_CPU && q->backend == o->backend && k->backend == o->backend &&
                 v->backend == o->backend,
             "attention method '%s' runs on the CPU backend only", m->ops->name);
    DG_CHECK(!op.lse, "attention method '%s' gives no log-sum-exp", m->ops->name);
    DG_CHECK(q->ndim == 2 && k->ndim == 2 && o->ndim == 2 && v->ndim == 2 && heads >= 1 && q->shape[1] % heads == 0,
             "attention method '%s': q, k, v, o must be [tokens, heads*head_dim]", m->ops->name);
    const int h0 = op.head_begin, hn = op.head_count ? op.head_count : heads - h0;
    DG_CHECK(h0 >= 0 && hn >= 1 && h0 + hn <= heads, "attention method '%s': heads [%d, %d) outside the %d heads",
             m->ops->name, h0, h0 + hn, heads);
    const dg_attn_raw r = dg_attn_raw_of(o, q, k, v, heads, &op);
    DG_CHECK(!op.query_offset, "attention method '%s' takes every query (no query offset)", m->ops->name);
    DG_TRY(m->ops->run(m, r.o, r.q, r.k, r.v, &r.s));
    if (op.perturb) dg_attn_perturb_heads(r.o, r.v, &r.s, op.perturb + h0);
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

const char *dg_attn_need(const dg_attn_geometry *g, int axis, int64_t n, char *buf, size_t size) {
    const int per = axis == 0 ? g->frames_per_t : axis == 1 ? g->pixels_per_h : g->pixels_per_w;
    const int64_t size_n = n * per - (axis == 0 ? g->frames_less : 0);
    static const char *const unit[3] = {"frames", "pixels high", "pixels wide"};
    if (per > 0) snprintf(buf, size, "%c >= %lld (%lld %s or more)", "thw"[axis], (long long)n, (long long)size_n,
                          unit[axis]);
    else snprintf(buf, size, "%c >= %lld", "thw"[axis], (long long)n);
    return buf;
}

double dg_attn_layout_density(const dg_attn_method *m) { return dg_block_layout_density(&m->layout); }

/* "dense": no layout; the dense kernel directly. */
static int dense_prepare(dg_attn_method *m, const dg_attn_geometry *g) {
    DG_TRY(dg_attn_geometry_check(g, "dense"));
    m->geom = *g;
    return DG_OK;
}

static double dense_density(const dg_attn_method *m) { return 1.0; }

static int dense_allow(const dg_attn_method *m, int64_t i, int64_t j) { return 1; }

static const dg_attn_method_ops dense_ops = {"dense", dense_prepare, NULL, dense_density, dense_allow, NULL};

int dg_attn_dense_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx) {
    static const char *const keys[] = {NULL};
    DG_TRY(dg_attn_params_check_keys(params, ctx, keys));
    m->ops = &dense_ops;
    return DG_OK;
}
