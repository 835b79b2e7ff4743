/* Agent attention (sparse-attention.md §5), training-free form (AgentSD): per
 * head, with agents A pooled from the queries,
 *   V_A = softmax(A K^T * scale) V                       agents aggregate keys
 *   O   = softmax(Q A^T * scale^k_scale2) V_A + k_shortcut * V
 * scale^k_scale2 is AgentSD's d^-(0.5 k_scale2) for the standard 1/sqrt(d).
 * Agents: adaptive average pooling of Q (PyTorch AdaptiveAvgPool bins) over
 * the video grid to agent_frames x sqrt(agents) x sqrt(agents), i.e. the
 * general module's AdaptiveAvgPool2d of Q to sqrt(n) x sqrt(n) per frame
 * group; AgentSD's ToMe merging of to_q inputs is a mean of queries too, but
 * input-dependent. The learned biases and DWC of the trained module are not
 * part of the training-free method. As in AgentSD, when 2 * #agents >= N the
 * agent path is not cheaper and plain softmax attention runs instead.
 * No mask (allow is NULL); density reports the cost ratio 2 * #agents / N
 * (two N x #agents attentions against one N x N), 1 when dense. Self-attention
 * over video tokens only: text tokens are refused. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "attention/method.h"
#include "attention/methods_internal.h"
#include "core/cpu/ops_cpu.h"
#include "core/error.h"

typedef struct agent_params {
    int side;          /* sqrt(agents) */
    int frames;        /* agent_frames */
    double k_scale2, k_shortcut;
} agent_params;

static int agent_count(const dg_attn_method *m) {
    const agent_params *p = m->params;
    return p->frames * p->side * p->side;
}

static int agent_dense(const dg_attn_method *m) { return 2 * (int64_t)agent_count(m) >= dg_attn_geometry_tokens(&m->geom); }

static int agent_prepare(dg_attn_method *m, const dg_attn_geometry *g) {
    const agent_params *p = m->params;
    DG_TRY(dg_attn_geometry_check(g, "agent"));
    DG_CHECK(g->text_tokens == 0, "agent: text tokens in self-attention are not supported (text_tokens=%d)",
             g->text_tokens);
    char need[96];
    DG_CHECK(p->frames <= g->T, "agent: agent_frames=%d larger than T=%d: needs %s", p->frames, g->T,
             dg_attn_need(g, 0, p->frames, need, sizeof need));
    DG_CHECK(p->side <= g->H, "agent: sqrt(agents)=%d larger than the frame (H=%d): needs %s", p->side, g->H,
             dg_attn_need(g, 1, p->side, need, sizeof need));
    DG_CHECK(p->side <= g->W, "agent: sqrt(agents)=%d larger than the frame (W=%d): needs %s", p->side, g->W,
             dg_attn_need(g, 2, p->side, need, sizeof need));
    m->geom = *g;
    return DG_OK;
}

/* Bin i of n over length L (AdaptiveAvgPool): [floor(i L / n), ceil((i+1) L / n)). */
static void agent_bin(int i, int n, int L, int *lo, int *hi) {
    *lo = (int)((int64_t)i * L / n);
    *hi = (int)(((int64_t)(i + 1) * L + n - 1) / n);
}

/* a[na x D] = mean of the queries of head h in each agent bin. */
static void agent_pool(const dg_attn_method *m, const float *q, int64_t q_stride, int h, float *a, double *acc) {
    const agent_params *p = m->params;
    const dg_attn_geometry *g = &m->geom;
    const int D = g->head_dim;
    int idx = 0;
    for (int at = 0; at < p->frames; at++)
        for (int ah = 0; ah < p->side; ah++)
            for (int aw = 0; aw < p->side; aw++, idx++) {
                int t0, t1, h0, h1, w0, w1;
                agent_bin(at, p->frames, g->T, &t0, &t1);
                agent_bin(ah, p->side, g->H, &h0, &h1);
                agent_bin(aw, p->side, g->W, &w0, &w1);
                for (int c = 0; c < D; c++) acc[c] = 0.0;
                for (int t = t0; t < t1; t++)
                    for (int y = h0; y < h1; y++)
                        for (int x = w0; x < w1; x++) {
                            const float *qi = q + (((int64_t)t * g->H + y) * g->W + x) * q_stride + (int64_t)h * D;
                            for (int c = 0; c < D; c++) acc[c] += qi[c];
                        }
                const double inv = 1.0 / ((double)(t1 - t0) * (h1 - h0) * (w1 - w0));
                for (int c = 0; c < D; c++) a[(int64_t)idx * D + c] = (float)(acc[c] * inv);
            }
}

/* Row-wise softmax in place over rows x cols. */
static void agent_softmax_rows(float *x, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *row = x + r * cols, mx = -INFINITY;
        for (int64_t c = 0; c < cols; c++) mx = row[c] > mx ? row[c] : mx;
        double sum = 0.0;
        for (int64_t c = 0; c < cols; c++) sum += row[c] = expf(row[c] - mx);
        const float inv = (float)(1.0 / sum);
        for (int64_t c = 0; c < cols; c++) row[c] *= inv;
    }
}

static int agent_run(dg_attn_method *m, float *o, const float *q, const float *k, const float *v,
                     const dg_attn_shape *s) {
    const agent_params *p = m->params;
    const dg_attn_geometry *g = &m->geom;
    DG_TRY(dg_attn_shape_check(s));
    DG_CHECK(g->heads > 0, "agent: run before prepare");
    const int64_t N = dg_attn_geometry_tokens(g);
    DG_CHECK(s->nq == N && s->nk == N && s->heads == g->heads && s->head_dim == g->head_dim,
             "agent: prepared for %lld tokens x %d heads x %d, called with %lld/%lld x %d x %d", (long long)N,
             g->heads, g->head_dim, (long long)s->nq, (long long)s->nk, s->heads, s->head_dim);
    DG_CHECK(s->scale > 0, "agent: scale must be > 0 (got %g)", s->scale);
    if (agent_dense(m)) return dg_attention_dense_cpu(o, q, k, v, s, NULL, NULL, 0);

    const int na = agent_count(m), D = s->head_dim;
    const float s2 = (float)pow(s->scale, p->k_scale2), shortcut = (float)p->k_shortcut;
    float *a = malloc((size_t)na * D * sizeof(float)), *va = malloc((size_t)na * D * sizeof(float));
    float *sa = malloc((size_t)na * N * sizeof(float)); /* agents x keys, then queries x agents */
    double *acc = malloc((size_t)D * sizeof(double));
    if (!a || !va || !sa || !acc) {
        free(a), free(va), free(sa), free(acc);
        return dg_error("%s:%d: out of memory", __FILE__, __LINE__);
    }
    for (int h = 0; h < s->heads; h++) {
        const float *qh = q + (int64_t)h * D, *kh = k + (int64_t)h * D, *vh = v + (int64_t)h * D;
        float *oh = o + (int64_t)h * D;
        agent_pool(m, q, s->q_stride, h, a, acc);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, na, (int)N, D, s->scale, a, D, kh, (int)s->kv_stride,
                    0.0f, sa, (int)N);
        agent_softmax_rows(sa, na, N);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, na, D, (int)N, 1.0f, sa, (int)N, vh,
                    (int)s->kv_stride, 0.0f, va, D);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, na, D, s2, qh, (int)s->q_stride, a, D, 0.0f, sa,
                    na);
        agent_softmax_rows(sa, N, na);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < N; i++)
            for (int c = 0; c < D; c++) oh[i * s->q_stride + c] = shortcut * vh[i * s->kv_stride + c];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, D, na, 1.0f, sa, na, va, D, 1.0f, oh,
                    (int)s->q_stride);
    }
    free(a), free(va), free(sa), free(acc);
    return DG_OK;
}

static double agent_density(const dg_attn_method *m) {
    if (agent_dense(m)) return 1.0;
    return 2.0 * agent_count(m) / (double)dg_attn_geometry_tokens(&m->geom);
}

static void agent_destroy(dg_attn_method *m) {
    free(m->params);
    m->params = NULL;
}

static const dg_attn_method_ops agent_ops = {
    .name = "agent",
    .prepare = agent_prepare,
    .run = agent_run,
    .density = agent_density,
    .allow = NULL,
    .destroy = agent_destroy,
};

int dg_attn_agent_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx) {
    static const char *const keys[] = {"agents", "agent_frames", "k_scale2", "k_shortcut", NULL};
    char where[256];
    snprintf(where, sizeof(where), "%s: agent", ctx ? ctx : "attention");
    /* AgentSD defaults (patch.py): k_scale2 0.3, k_shortcut 0.075; 49 agents as Agent-DeiT. */
    int64_t agents = 49, frames = 1;
    agent_params p = {.k_scale2 = 0.3, .k_shortcut = 0.075};
    DG_TRY(dg_attn_params_check_keys(params, where, keys));
    if (params) {
        DG_TRY(dg_attn_params_get_int(where, params, "agents", &agents));
        DG_TRY(dg_attn_params_get_int(where, params, "agent_frames", &frames));
        DG_TRY(dg_attn_params_get_double(where, params, "k_scale2", &p.k_scale2));
        DG_TRY(dg_attn_params_get_double(where, params, "k_shortcut", &p.k_shortcut));
    }
    int64_t side = (int64_t)llround(sqrt((double)(agents > 0 ? agents : 0)));
    DG_CHECK(agents >= 1 && agents <= 65536 && side * side == agents,
             "%s: agents=%lld must be a perfect square in [1, 65536]", where, (long long)agents);
    DG_CHECK(frames >= 1 && frames <= 4096, "%s: agent_frames=%lld out of range [1, 4096]", where, (long long)frames);
    DG_CHECK(agents * frames <= 65536, "%s: agents x agent_frames = %lld exceeds 65536", where,
             (long long)(agents * frames));
    DG_CHECK(p.k_scale2 >= 0 && p.k_scale2 <= 4, "%s: k_scale2=%g out of range [0, 4]", where, p.k_scale2);
    DG_CHECK(p.k_shortcut >= -4 && p.k_shortcut <= 4, "%s: k_shortcut=%g out of range [-4, 4]", where, p.k_shortcut);
    p.side = (int)side;
    p.frames = (int)frames;
    agent_params *heap = malloc(sizeof(*heap));
    DG_CHECK_ALLOC(heap);
    *heap = p;
    m->ops = &agent_ops;
    m->params = heap;
    return DG_OK;
}
