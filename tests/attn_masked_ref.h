/* Test oracle for mask-based attention methods (docs/attention.md): a
 * dense attention with a boolean mask taken from the method's allow(), in
 * double, softmax over allowed keys only (a row with none gives zeros), and a
 * check that runs a prepared method's fast path (block-sparse engine) against
 * it. Included by the method tests. */
#ifndef DG_TESTS_ATTN_MASKED_REF_H
#define DG_TESTS_ATTN_MASKED_REF_H

#include <stdint.h>
#include <string.h>

#include "attention/method.h"
#include "attention/reference.h"
#include "core/cpu/ops_cpu.h"
#include "core/error.h"
#include "tests/test.h"

static uint64_t mref_rng = 0x9E3779B97F4A7C15ull;

/* Uniform in [-1, 1). */
static inline float mref_rnd(void) {
    mref_rng = mref_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(mref_rng >> 40) / (double)(1 << 23) - 1.0);
}

static inline float *mref_random(int64_t n, float mag) {
    float *p = malloc((size_t)n * sizeof(float));
    if (p)
        for (int64_t i = 0; i < n; i++) p[i] = mag * mref_rnd();
    return p;
}

/* allow[i*n + j] from the method's predicate (original token indices). */
static inline unsigned char *mref_allow_matrix(const dg_attn_method *m, int64_t n, int64_t *allowed) {
    unsigned char *a = malloc((size_t)(n * n));
    *allowed = 0;
    if (!a) return NULL;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) *allowed += a[i * n + j] = (unsigned char)(m->ops->allow(m, i, j) != 0);
    return a;
}

static inline void mref_attention(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                           const unsigned char *allow) {
    const int64_t n = s->nq, D = s->head_dim;
    double *row = malloc((size_t)n * sizeof(double)), *acc = malloc((size_t)D * sizeof(double));
    for (int h = 0; h < s->heads; h++)
        for (int64_t i = 0; i < n; i++) {
            const float *qi = q + i * s->q_stride + h * D;
            double mx = -INFINITY, sum = 0.0;
            for (int64_t j = 0; j < n; j++) {
                if (!allow[i * n + j]) continue;
                const float *kj = k + j * s->kv_stride + h * D;
                double dot = 0.0;
                for (int64_t c = 0; c < D; c++) dot += (double)qi[c] * kj[c];
                row[j] = dot * s->scale;
                if (row[j] > mx) mx = row[j];
            }
            for (int64_t c = 0; c < D; c++) acc[c] = 0.0;
            for (int64_t j = 0; j < n; j++) {
                if (!allow[i * n + j]) continue;
                double p = exp(row[j] - mx);
                sum += p;
                for (int64_t c = 0; c < D; c++) acc[c] += p * v[j * s->kv_stride + h * D + c];
            }
            for (int64_t c = 0; c < D; c++) o[i * s->q_stride + h * D + c] = sum > 0 ? (float)(acc[c] / sum) : 0.0f;
        }
    free(row);
    free(acc);
}

/* A prepared method's fast path on host memory with any strides: its own algorithm, or the CPU
 * backend's sparse or dense kernel on its layout (what the attention op runs). */
static inline int mref_run(dg_attn_method *m, float *o, const float *q, const float *k, const float *v,
                           const dg_attn_shape *s) {
    if (m->ops->run) return m->ops->run(m, o, q, k, v, s);
    return m->layout.row_start ? dg_attention_sparse_cpu(o, q, k, v, s, &m->layout, NULL, 0)
                               : dg_attention_dense_cpu(o, q, k, v, s, NULL, NULL, 0);
}

/* Prepares m for g, runs the engine on random Q, K, V (q and o with 3 floats
 * of padding per token) and compares with the masked reference: max error
 * <= 1e-5 * max|ref|. Also checks the layout's exact pair count and density
 * against allow(). Returns the density. */
static inline double mref_check(dg_attn_method *m, const dg_attn_geometry *g, const char *label) {
    if (m->ops->prepare(m, g) != DG_OK) {
        CHECK(0, "%s: prepare: %s", label, dg_last_error());
        return -1;
    }
    const int64_t n = dg_attn_geometry_tokens(g), width = (int64_t)g->heads * g->head_dim;
    dg_attn_shape s = {.nq = n, .nk = n, .heads = g->heads, .head_dim = g->head_dim, .q_stride = width + 3,
                       .kv_stride = width, .scale = 1.0f / sqrtf((float)g->head_dim)};
    int64_t allowed;
    unsigned char *allow = mref_allow_matrix(m, n, &allowed);
    float *q = mref_random(n * s.q_stride, 2.0f), *k = mref_random(n * s.kv_stride, 2.0f);
    float *v = mref_random(n * s.kv_stride, 1.0f);
    float *o = malloc((size_t)(n * s.q_stride) * sizeof(float)), *ref = malloc((size_t)(n * s.q_stride) * sizeof(float));
    double density = m->ops->density(m);
    if (!allow || !q || !k || !v || !o || !ref) {
        CHECK(0, "%s: out of memory", label);
        goto done;
    }
    CHECK(m->layout.allowed_pairs == allowed, "%s: layout counts %lld allowed pairs, allow() %lld", label,
          (long long)m->layout.allowed_pairs, (long long)allowed);
    CHECK(density == (double)allowed / ((double)n * n), "%s: density %.9f vs %.9f", label, density,
          (double)allowed / ((double)n * n));
    memset(o, 0, (size_t)(n * s.q_stride) * sizeof(float));
    memset(ref, 0, (size_t)(n * s.q_stride) * sizeof(float));
    CHECK_OK(mref_run(m, o, q, k, v, &s));
    mref_attention(ref, q, k, v, &s, allow);
    double e, r;
    test_max_err(o, ref, (size_t)(n * s.q_stride), &e, &r);
    CHECK(e <= 1e-5 * r, "%s: max err %.3g vs max|ref| %.3g", label, e, r);
    printf("%-44s n=%5lld density %.4f  err/max %.2e\n", label, (long long)n, density, e / r);
done:
    free(allow), free(q), free(k), free(v), free(o), free(ref);
    return density;
}

/* Creates a method from a JSON text (NULL: defaults); NULL on failure. */
static inline dg_attn_method *mref_create(const char *name, const char *json) {
    dg_attn_params params = {0};
    dg_attn_method *m = NULL;
    if (json && dg_attn_params_parse(&params, json, "plan.json: params") != DG_OK) {
        CHECK(0, "bad test JSON %s: %s", json, dg_last_error());
        return NULL;
    }
    if (dg_attn_method_create(&m, name, json ? &params : NULL, "plan.json") != DG_OK) m = NULL;
    dg_attn_params_free(&params);
    return m;
}

/* The creation or preparation must fail with a message containing want. */
static inline void mref_expect_refusal(const char *name, const char *json, const dg_attn_geometry *g, const char *want) {
    dg_error_clear();
    dg_attn_method *m = mref_create(name, json);
    int failed = m == NULL;
    if (m && g) failed = m->ops->prepare(m, g) != DG_OK;
    CHECK(failed, "%s %s: accepted, expected refusal '%s'", name, json ? json : "(defaults)", want);
    if (failed) CHECK(strstr(dg_last_error(), want) != NULL, "%s %s: error '%s' lacks '%s'", name, json ? json : "",
                      dg_last_error(), want);
    dg_attn_method_free(m);
}

#endif
