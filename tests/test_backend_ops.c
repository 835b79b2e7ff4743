/* Every op of the backend table on every backend compiled in, in the spirit of
 * ggml's test-backend-ops: the same random inputs through dg_* on each
 * backend, compared with a slow, obvious host reference (double precision) by
 * normalised mean squared error NMSE = sum (got-ref)^2 / sum ref^2, over
 * shapes that include 1-sized and odd ones. Tolerances per op and backend:
 *   - data movement (copy, patchify, unpatchify): exact;
 *   - elementwise, norms, rope, f32 linear, attention on the CPU: 1e-10
 *     (float rounding and summation order only: NMSE ~1e-14);
 *   - a bf16/f16 weight on the CPU is widened exactly: 1e-10 too;
 *   - on CUDA, bf16-weight linears round x to bf16 (1e-4), f16 ones (1e-5),
 *     and attention rounds q, k, v and the probabilities to bf16 (5e-4; the
 *     rows' log-sum-exp 1e-5).
 * Attention runs dense (cross and self, head ranges, the SoftPAG blend, the
 * log-sum-exp output) and through every mask-based method on representative
 * geometries against a dense reference masked with the method's predicate.
 * A backend absent at run time is reported skipped, never passed. */
#include <math.h>
#include <string.h>

#include "attention/method.h"
#include "attention/reference.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/ops.h"
#include "tests/attn_masked_ref.h"
#include "tests/test.h"

typedef struct {
    dg_backend *be;
    const char *name;
    int cpu;
} target;

static uint64_t rng_state = 0x853C49E6748FEA9Bull;

/* Uniform in [-1, 1). */
static float rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1 << 23) - 1.0);
}

static float *rand_host(int64_t n, float mag) {
    float *p = malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = mag * rnd();
    return p;
}

static double nmse(const float *got, const double *ref, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)got[i] - ref[i];
        if (isinf(ref[i]) && got[i] == ref[i]) d = 0; /* an empty row's log-sum-exp is -inf on both */
        num += d * d;
        den += isinf(ref[i]) ? 0 : ref[i] * ref[i];
    }
    return den > 0 ? num / den : num;
}

static void report(const target *t, const char *op, const char *detail, double e, double tol) {
    const int ok = e <= tol; /* NaN fails */
    printf("  %-5s %-10s %-46s NMSE %.2e (max %.0e) %s\n", t->name, op, detail, e, tol, ok ? "OK" : "FAIL");
    CHECK(ok, "%s %s %s: NMSE %g > %g", t->name, op, detail, e, tol);
}

/* A backend tensor holding host values (converted to dt), or empty on failure. */
static dg_tensor put(const target *t, dg_dtype dt, int ndim, const int64_t *shape, const float *host) {
    dg_tensor x;
    memset(&x, 0, sizeof x);
    CHECK_OK(dg_tensor_alloc(&x, t->be, dt, ndim, shape));
    size_t n = (size_t)dg_tensor_numel(&x);
    if (dt == DG_F32) {
        CHECK_OK(dg_tensor_upload(&x, host));
    } else {
        void *c = malloc((n ? n : 1) * 2);
        dg_convert_from_f32(c, dt, host, n);
        CHECK_OK(dg_tensor_upload(&x, c));
        free(c);
    }
    return x;
}

static float *get(const dg_tensor *x) {
    float *h = malloc((size_t)(dg_tensor_numel(x) ? dg_tensor_numel(x) : 1) * sizeof(float));
    CHECK_OK(dg_tensor_download(x, h));
    return h;
}

/* What the op sees of a weight stored as dt. */
static void round_to(float *v, int64_t n, dg_dtype dt) {
    if (dt == DG_F32) return;
    void *c = malloc((size_t)n * 2);
    dg_convert_from_f32(c, dt, v, (size_t)n);
    dg_convert_to_f32(v, c, dt, (size_t)n);
    free(c);
}

/* ---- linear ------------------------------------------------------------ */

static void test_linear(const target *t, int64_t M, int64_t in, int64_t out, dg_dtype wdt, int bias) {
    const int64_t xs[2] = {M, in}, ws[2] = {out, in}, bs[1] = {out}, ys[2] = {M, out};
    float *x = rand_host(M * in, 1.0f), *w = rand_host(out * in, 0.5f), *b = rand_host(out, 1.0f);
    round_to(w, out * in, wdt);
    round_to(b, out, wdt);
    dg_tensor X = put(t, DG_F32, 2, xs, x), W = put(t, wdt, 2, ws, w), B = put(t, wdt, 1, bs, b), Y;
    CHECK_OK(dg_tensor_alloc(&Y, t->be, DG_F32, 2, ys));
    CHECK_OK(dg_linear(&Y, &X, &W, bias ? &B : NULL));
    float *y = get(&Y);
    double *ref = malloc((size_t)(M * out) * sizeof(double));
    for (int64_t r = 0; r < M; r++)
        for (int64_t o = 0; o < out; o++) {
            double s = bias ? b[o] : 0.0;
            for (int64_t i = 0; i < in; i++) s += (double)x[r * in + i] * w[o * in + i];
            ref[r * out + o] = s;
        }
    char d[64];
    snprintf(d, sizeof d, "%lldx%lld . %lldx%lld %s%s", (long long)M, (long long)in, (long long)out, (long long)in,
             dg_dtype_name(wdt), bias ? " +bias" : "");
    const double tol = t->cpu || wdt == DG_F32 ? 1e-10 : wdt == DG_BF16 ? 1e-4 : 1e-5;
    report(t, "linear", d, nmse(y, ref, M * out), tol);
    free(x), free(w), free(b), free(y), free(ref);
    dg_tensor_free(&X), dg_tensor_free(&W), dg_tensor_free(&B), dg_tensor_free(&Y);
}

/* ---- norms ------------------------------------------------------------- */

static void test_norm(const target *t, int rms, int64_t rows, int64_t C, int affine) {
    const int64_t xs[2] = {rows, C}, vs[1] = {C};
    float *x = rand_host(rows * C, 2.0f), *g = rand_host(C, 1.0f), *bt = rand_host(C, 1.0f);
    for (int64_t i = 0; i < rows * C; i++) x[i] += 0.3f; /* a mean to remove */
    dg_tensor X = put(t, DG_F32, 2, xs, x), G = put(t, DG_F32, 1, vs, g), Bt = put(t, DG_F32, 1, vs, bt), Y;
    CHECK_OK(dg_tensor_alloc(&Y, t->be, DG_F32, 2, xs));
    const float eps = 1e-6f;
    if (rms)
        CHECK_OK(dg_rmsnorm(&Y, &X, affine ? &G : NULL, eps));
    else
        CHECK_OK(dg_layernorm(&Y, &X, affine ? &G : NULL, affine ? &Bt : NULL, eps));
    float *y = get(&Y);
    double *ref = malloc((size_t)(rows * C) * sizeof(double));
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * C;
        double mean = 0, var = 0;
        if (!rms) {
            for (int64_t c = 0; c < C; c++) mean += xr[c];
            mean /= (double)C;
        }
        for (int64_t c = 0; c < C; c++) var += (xr[c] - mean) * (xr[c] - mean);
        const double inv = 1.0 / sqrt(var / (double)C + eps);
        for (int64_t c = 0; c < C; c++)
            ref[r * C + c] = (xr[c] - mean) * inv * (affine ? g[c] : 1.0) + (affine && !rms ? bt[c] : 0.0);
    }
    char d[64];
    snprintf(d, sizeof d, "%lldx%lld%s", (long long)rows, (long long)C, affine ? " affine" : "");
    report(t, rms ? "rmsnorm" : "layernorm", d, nmse(y, ref, rows * C), 1e-10);
    free(x), free(g), free(bt), free(y), free(ref);
    dg_tensor_free(&X), dg_tensor_free(&G), dg_tensor_free(&Bt), dg_tensor_free(&Y);
}

/* ---- elementwise ------------------------------------------------------- */

enum { EW_GELU, EW_SILU, EW_ADD, EW_MODULATE, EW_GATED_ADD, EW_GATED_ADD_ONE };
static const char *const ew_names[] = {"gelu_tanh", "silu", "add", "modulate", "gated_add", "gated_add"};

static void test_elementwise(const target *t, int op, int64_t rows, int64_t C) {
    const int64_t s[2] = {rows, C}, vs[1] = {C}, n = rows * C;
    float *a = rand_host(n, 3.0f), *b = rand_host(n, 1.0f), *u = rand_host(C, 1.0f), *v = rand_host(C, 1.0f);
    dg_tensor A = put(t, DG_F32, 2, s, a), B = put(t, DG_F32, 2, s, b), U = put(t, DG_F32, 1, vs, u),
              V = put(t, DG_F32, 1, vs, v), Y;
    CHECK_OK(dg_tensor_alloc(&Y, t->be, DG_F32, 2, s));
    double *ref = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        const double x = a[i], c = (double)(i % C);
        switch (op) {
        case EW_GELU: ref[i] = 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))); break;
        case EW_SILU: ref[i] = x / (1.0 + exp(-x)); break;
        case EW_ADD: ref[i] = x + b[i]; break;
        case EW_MODULATE: ref[i] = x * (1.0 + v[(int64_t)c]) + u[(int64_t)c]; break;
        case EW_GATED_ADD: ref[i] = x + (double)b[i] * u[(int64_t)c]; break;
        default: ref[i] = x + b[i]; break;
        }
    }
    float *y;
    switch (op) {
    case EW_GELU: CHECK_OK(dg_gelu_tanh(&Y, &A)); break;
    case EW_SILU: CHECK_OK(dg_silu(&Y, &A)); break;
    case EW_ADD: CHECK_OK(dg_add(&Y, &A, &B)); break;
    case EW_MODULATE: CHECK_OK(dg_modulate(&Y, &A, U.data, V.data)); break;
    default: CHECK_OK(dg_gated_add(&A, &B, op == EW_GATED_ADD ? U.data : NULL)); break;
    }
    y = get(op >= EW_GATED_ADD ? &A : &Y);
    char d[64];
    snprintf(d, sizeof d, "%lldx%lld%s", (long long)rows, (long long)C, op == EW_GATED_ADD_ONE ? " gate 1" : "");
    report(t, ew_names[op], d, nmse(y, ref, n), 1e-10);
    free(a), free(b), free(u), free(v), free(y), free(ref);
    dg_tensor_free(&A), dg_tensor_free(&B), dg_tensor_free(&U), dg_tensor_free(&V), dg_tensor_free(&Y);
}

/* ---- rope -------------------------------------------------------------- */

static void test_rope(const target *t, int64_t N, int64_t heads, int64_t d) {
    const int64_t xs[3] = {N, heads, d}, ts[2] = {N, d}, n = N * heads * d;
    float *x = rand_host(n, 1.0f), *c = rand_host(N * d, 1.0f), *s = rand_host(N * d, 1.0f);
    dg_tensor X = put(t, DG_F32, 3, xs, x), Cs = put(t, DG_F32, 2, ts, c), Sn = put(t, DG_F32, 2, ts, s);
    CHECK_OK(dg_rope(&X, &Cs, &Sn));
    float *y = get(&X);
    double *ref = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < N; i++)
        for (int64_t h = 0; h < heads; h++)
            for (int64_t j = 0; j < d; j += 2) {
                const float *v = x + (i * heads + h) * d + j, *ci = c + i * d + j, *si = s + i * d + j;
                ref[(i * heads + h) * d + j] = (double)v[0] * ci[0] - (double)v[1] * si[0];
                ref[(i * heads + h) * d + j + 1] = (double)v[0] * si[1] + (double)v[1] * ci[1];
            }
    char dd[64];
    snprintf(dd, sizeof dd, "%lldx%lldx%lld", (long long)N, (long long)heads, (long long)d);
    report(t, "rope", dd, nmse(y, ref, n), 1e-10);
    free(x), free(c), free(s), free(y), free(ref);
    dg_tensor_free(&X), dg_tensor_free(&Cs), dg_tensor_free(&Sn);
}

/* ---- data movement ----------------------------------------------------- */

static void test_patch(const target *t, int64_t C, int64_t F, int64_t H, int64_t W, const int p[3]) {
    const int64_t vs[4] = {C, F, H, W}, Fp = F / p[0], Hp = H / p[1], Wp = W / p[2];
    const int64_t pv = (int64_t)p[0] * p[1] * p[2], ts[2] = {Fp * Hp * Wp, C * pv}, n = C * F * H * W;
    float *x = rand_host(n, 1.0f);
    dg_tensor X = put(t, DG_F32, 4, vs, x), Tk, Back;
    CHECK_OK(dg_tensor_alloc(&Tk, t->be, DG_F32, 2, ts));
    CHECK_OK(dg_tensor_alloc(&Back, t->be, DG_F32, 4, vs));
    CHECK_OK(dg_patchify(&Tk, &X, p));
    float *tok = get(&Tk);
    double *ref = malloc((size_t)n * sizeof(double)), *refx = malloc((size_t)n * sizeof(double));
    for (int64_t c = 0; c < C; c++)
        for (int64_t f = 0; f < F; f++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) {
                    const int64_t tokn = ((f / p[0]) * Hp + h / p[1]) * Wp + w / p[2];
                    const int64_t inner = ((f % p[0]) * p[1] + h % p[1]) * p[2] + w % p[2];
                    const double val = x[((c * F + f) * H + h) * W + w];
                    ref[tokn * C * pv + c * pv + inner] = val;                /* patchify: c slowest */
                    refx[((c * F + f) * H + h) * W + w] = tok[tokn * C * pv + inner * C + c]; /* unpatchify: c fastest */
                }
    char d[64];
    snprintf(d, sizeof d, "%lldx%lldx%lldx%lld / %dx%dx%d", (long long)C, (long long)F, (long long)H, (long long)W,
             p[0], p[1], p[2]);
    report(t, "patchify", d, nmse(tok, ref, n), 0.0);
    CHECK_OK(dg_unpatchify(&Back, &Tk, p));
    float *back = get(&Back);
    report(t, "unpatchify", d, nmse(back, refx, n), 0.0);
    CHECK_OK(dg_tensor_copy(&Back, &X));
    float *cp = get(&Back);
    for (int64_t i = 0; i < n; i++) ref[i] = x[i];
    report(t, "copy", d, nmse(cp, ref, n), 0.0);
    free(x), free(tok), free(back), free(cp), free(ref), free(refx);
    dg_tensor_free(&X), dg_tensor_free(&Tk), dg_tensor_free(&Back);
}

/* ---- attention --------------------------------------------------------- */

/* Reference of one call: heads [h0, h1) of o from the masked (allow NULL: dense) double attention, the
 * other heads keep o's previous contents; lse per (row, head); the SoftPAG blend for u != NULL. */
static void attn_reference(double *o, double *lse, const float *o_before, const float *q, const float *k,
                           const float *v, int64_t nq, int64_t nk, int heads, int hd, int h0, int h1,
                           const unsigned char *allow, const float *u, int64_t qoff) {
    const int64_t C = (int64_t)heads * hd;
    const double scale = 1.0 / sqrt((double)hd);
    double *row = malloc((size_t)nk * sizeof(double));
    for (int64_t i = 0; i < nq * C; i++) o[i] = o_before[i];
    for (int64_t i = 0; i < nq * heads; i++) lse[i] = 0; /* heads outside the range: not compared */
    for (int h = h0; h < h1; h++)
        for (int64_t i = 0; i < nq; i++) {
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < nk; j++) {
                row[j] = -INFINITY;
                if (allow && !allow[i * nk + j]) continue;
                double dot = 0;
                for (int c = 0; c < hd; c++) dot += (double)q[i * C + h * hd + c] * k[j * C + h * hd + c];
                row[j] = dot * scale;
                mx = row[j] > mx ? row[j] : mx;
            }
            for (int c = 0; c < hd; c++) o[i * C + h * hd + c] = 0;
            for (int64_t j = 0; j < nk; j++) {
                if (row[j] == -INFINITY) continue;
                const double p = exp(row[j] - mx);
                sum += p;
                for (int c = 0; c < hd; c++) o[i * C + h * hd + c] += p * v[j * C + h * hd + c];
            }
            for (int c = 0; c < hd; c++) {
                double *oc = &o[i * C + h * hd + c];
                *oc = sum > 0 ? *oc / sum : 0.0;
                if (u) *oc = (1.0 - u[h]) * *oc + u[h] * v[(i + qoff) * C + h * hd + c];
            }
            lse[i * heads + h] = sum > 0 ? mx + log(sum) : -INFINITY;
        }
    free(row);
}

typedef struct {
    int64_t nq, nk;
    int heads, hd, h0, h1;
    const float *u;
    int64_t qoff; /* the queries are key rows [qoff, qoff + nq) (sequence parallelism) */
    const char *what;
} attn_case;

/* One call of dg_attention (or of method m, prepared for nq tokens) against the reference. */
static void run_attention(const target *t, const attn_case *ac, dg_attn_method *m, const unsigned char *allow) {
    const int64_t C = (int64_t)ac->heads * ac->hd, qs[2] = {ac->nq, C}, ks[2] = {ac->nk, C};
    const int64_t ls[2] = {ac->nq, ac->heads}, nqf = ac->nq * C;
    float *q = rand_host(nqf, 2.0f), *k = rand_host(ac->nk * C, 2.0f), *v = rand_host(ac->nk * C, 1.0f);
    float *before = rand_host(nqf, 1.0f), *lse_before = rand_host(ac->nq * ac->heads, 1.0f);
    dg_tensor Q = put(t, DG_F32, 2, qs, q), K = put(t, DG_F32, 2, ks, k), V = put(t, DG_F32, 2, ks, v),
              O = put(t, DG_F32, 2, qs, before), L = put(t, DG_F32, 2, ls, lse_before);
    const int want_lse = !m || !m->ops->run;
    dg_attn_opts opts = {.head_begin = ac->h0, .head_count = ac->h1 - ac->h0, .perturb = ac->u,
                         .query_offset = ac->qoff, .lse = want_lse ? &L : NULL};
    const int rc = m ? dg_attn_method_run(m, &O, &Q, &K, &V, ac->heads, &opts) : dg_attention(&O, &Q, &K, &V,
                                                                                                ac->heads, &opts);
    CHECK(rc == DG_OK, "%s %s: %s", t->name, ac->what, dg_last_error());
    double *ref = malloc((size_t)nqf * sizeof(double)), *lref = malloc((size_t)(ac->nq * ac->heads) * sizeof(double));
    attn_reference(ref, lref, before, q, k, v, ac->nq, ac->nk, ac->heads, ac->hd, ac->h0, ac->h1, allow, ac->u, ac->qoff);
    if (rc == DG_OK) {
        float *o = get(&O), *l = get(&L);
        report(t, "attention", ac->what, nmse(o, ref, nqf), t->cpu ? 1e-10 : 5e-4);
        if (want_lse) {
            /* only the computed heads: the rest must be untouched */
            int untouched = 1;
            for (int64_t i = 0; i < ac->nq * ac->heads; i++) {
                const int h = (int)(i % ac->heads);
                if (h < ac->h0 || h >= ac->h1) {
                    untouched &= l[i] == lse_before[i];
                    l[i] = 0;
                }
            }
            CHECK(untouched, "%s %s: lse of heads outside the range changed", t->name, ac->what);
            report(t, "attn lse", ac->what, nmse(l, lref, ac->nq * ac->heads), t->cpu ? 1e-10 : 1e-5);
        }
        free(o), free(l);
    }
    free(q), free(k), free(v), free(before), free(lse_before), free(ref), free(lref);
    dg_tensor_free(&Q), dg_tensor_free(&K), dg_tensor_free(&V), dg_tensor_free(&O), dg_tensor_free(&L);
}

static void test_attention_dense(const target *t) {
    static const float u[4] = {0.0f, 0.5f, 1.0f, -0.25f};
    const attn_case cases[] = {
        {1, 1, 1, 64, 0, 1, NULL, 0, "1 token"},
        {63, 63, 3, 64, 0, 3, NULL, 0, "63 tokens, 3 heads"},
        {65, 129, 2, 128, 0, 2, NULL, 0, "65 x 129 keys, d=128"},
        {300, 200, 4, 32, 1, 3, NULL, 0, "heads [1, 3) of 4"},
        {517, 7, 6, 16, 0, 6, NULL, 0, "cross: 517 x 7 text keys"},
        {90, 90, 2, 12, 0, 2, NULL, 0, "d=12 (wan_tiny)"},
        {77, 77, 4, 16, 0, 4, u, 0, "SoftPAG u = 0, .5, 1, -.25"},
        {40, 100, 4, 16, 0, 4, u, 30, "queries 30..70 of 100 keys, SoftPAG"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_attention(t, &cases[i], NULL, NULL);
}

/* Each mask-based method on a small video geometry (and GRAT with text tokens), prepared for the
 * target's backend, against the dense reference masked by its predicate. */
static void test_attention_methods(const target *t) {
    static const struct {
        const char *name, *params;
        dg_attn_geometry g;
        int h0, h1;
    } cases[] = {
        {"dense", NULL, {.T = 3, .H = 5, .W = 7}, 0, 2},
        {"sta", "{\"tile\":[2,2,3],\"window\":[1,3,1],\"partial_tiles\":true}", {.T = 5, .H = 6, .W = 8}, 0, 2},
        {"natten", "{\"kernel_size\":[3,3,3],\"stride\":[1,2,3],\"dilation\":[1,1,2]}", {.T = 5, .H = 6, .W = 8}, 1, 2},
        {"natten", "{\"kernel_size\":[2,4,3],\"causal\":[true,false,true]}", {.T = 5, .H = 6, .W = 8}, 0, 2},
        {"vdit_tile", "{\"global_frames\":1}", {.T = 5, .H = 6, .W = 8}, 0, 2},
        {"radial", "{\"block\": 4, \"threshold\": 4, \"sink\": false}", {.T = 8, .H = 4, .W = 4}, 0, 2},
        {"grat", "{\"group\": [1, 2, 2]}", {.T = 2, .H = 4, .W = 4, .text_tokens = 3}, 0, 2},
        {"grat", "{\"group\": [2, 2, 2]}", {.T = 4, .H = 6, .W = 6}, 0, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dg_attn_geometry g = cases[i].g;
        g.heads = 2, g.head_dim = 16;
        dg_attn_method *m = mref_create(cases[i].name, cases[i].params);
        if (!m) continue;
        const int64_t n = dg_attn_geometry_tokens(&g);
        int64_t allowed;
        unsigned char *allow = NULL;
        if (dg_attn_method_prepare(m, &g, t->be) != DG_OK) {
            CHECK(0, "%s %s: prepare: %s", t->name, cases[i].name, dg_last_error());
        } else {
            allow = mref_allow_matrix(m, n, &allowed);
            char what[64];
            snprintf(what, sizeof what, "%s %dx%dx%d+%d (density %.2f)", cases[i].name, g.T, g.H, g.W, g.text_tokens,
                     m->ops->density(m));
            const attn_case ac = {n, n, g.heads, g.head_dim, cases[i].h0, cases[i].h1, NULL, 0, what};
            run_attention(t, &ac, m, allow);
        }
        free(allow);
        dg_attn_method_free(m);
    }
}

/* Agent attention is a host-memory algorithm (tested in test_attn_agent): other backends refuse it
 * with the reason rather than reading device pointers. */
static void test_attention_agent(const target *t) {
    dg_attn_method *m = mref_create("agent", NULL);
    dg_attn_geometry g = {.T = 2, .H = 8, .W = 8, .heads = 1, .head_dim = 16};
    if (!m || dg_attn_method_prepare(m, &g, t->be) != DG_OK) {
        CHECK(0, "agent: %s", dg_last_error());
        dg_attn_method_free(m);
        return;
    }
    const int64_t n = dg_attn_geometry_tokens(&g), s[2] = {n, 16};
    float *h = rand_host(n * 16, 1.0f);
    dg_tensor Q = put(t, DG_F32, 2, s, h), O = put(t, DG_F32, 2, s, h);
    const int rc = dg_attn_method_run(m, &O, &Q, &Q, &Q, 1, NULL);
    if (t->cpu) {
        CHECK(rc == DG_OK, "cpu agent: %s", dg_last_error());
    } else {
        CHECK(rc != DG_OK && strstr(dg_last_error(), "CPU backend only"), "%s agent: %s", t->name,
              rc ? dg_last_error() : "accepted device memory");
        printf("  %-5s %-10s %-46s refused: %s\n", t->name, "attention", "agent (host-memory algorithm)",
               dg_last_error());
    }
    free(h);
    dg_tensor_free(&Q), dg_tensor_free(&O);
    dg_attn_method_free(m);
}

/* Attention over keys [0, split) and over [split, nk) merged by log-sum-exp, each group's logits
 * shifted by its bias, against one softmax over all keys with those shifts (what clip parallelism's
 * dual-scope attention computes); a group that saw no key leaves the other's result. */
static void test_attention_merge(const target *t, float bias, float bias2) {
    const int64_t nq = 50, nk = 90, split = 37, heads = 2, hd = 16, C = heads * hd;
    const int64_t qs[2] = {nq, C}, k1s[2] = {split, C}, k2s[2] = {nk - split, C}, ls[2] = {nq, heads};
    float *q = rand_host(nq * C, 2.0f), *k = rand_host(nk * C, 2.0f), *v = rand_host(nk * C, 1.0f);
    dg_tensor Q = put(t, DG_F32, 2, qs, q), K1 = put(t, DG_F32, 2, k1s, k), V1 = put(t, DG_F32, 2, k1s, v),
              K2 = put(t, DG_F32, 2, k2s, k + split * C), V2 = put(t, DG_F32, 2, k2s, v + split * C), O1, O2, L1, L2;
    CHECK_OK(dg_tensor_alloc(&O1, t->be, DG_F32, 2, qs) || dg_tensor_alloc(&O2, t->be, DG_F32, 2, qs) ||
             dg_tensor_alloc(&L1, t->be, DG_F32, 2, ls) || dg_tensor_alloc(&L2, t->be, DG_F32, 2, ls));
    dg_attn_opts o1 = {.lse = &L1}, o2 = {.lse = &L2};
    CHECK_OK(dg_attention(&O1, &Q, &K1, &V1, (int)heads, &o1));
    CHECK_OK(dg_attention(&O2, &Q, &K2, &V2, (int)heads, &o2));
    float *alone = get(&O1);
    CHECK_OK(dg_attention_merge(&O1, &L1, &O2, &L2, bias, bias2));
    float *got = get(&O1);
    double *ref = malloc((size_t)(nq * C) * sizeof(double)), *w = malloc((size_t)nk * sizeof(double));
    const double scale = 1.0 / sqrt((double)hd);
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < nq; i++) {
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < nk; j++) {
                double dot = 0;
                for (int64_t c = 0; c < hd; c++) dot += (double)q[i * C + h * hd + c] * k[j * C + h * hd + c];
                w[j] = dot * scale + (j < split ? bias : bias2);
                mx = w[j] > mx ? w[j] : mx;
            }
            for (int64_t j = 0; j < nk; j++) sum += w[j] = exp(w[j] - mx);
            for (int64_t c = 0; c < hd; c++) {
                double acc = 0;
                for (int64_t j = 0; j < nk; j++) acc += w[j] * v[j * C + h * hd + c];
                ref[i * C + h * hd + c] = acc / sum;
            }
        }
    char d[64];
    snprintf(d, sizeof d, "37 + 53 keys, biases %g / %g", bias, bias2);
    report(t, "attn merge", d, nmse(got, ref, nq * C), t->cpu ? 1e-10 : 5e-4);
    /* an empty second group (lse -inf) leaves the first group's output */
    float *inf = malloc((size_t)(nq * heads) * sizeof(float));
    for (int64_t i = 0; i < nq * heads; i++) inf[i] = -INFINITY;
    dg_tensor Linf = put(t, DG_F32, 2, ls, inf), O3 = put(t, DG_F32, 2, qs, alone);
    CHECK_OK(dg_attention(&O3, &Q, &K1, &V1, (int)heads, &o1));
    CHECK_OK(dg_attention_merge(&O3, &L1, &O2, &Linf, bias, bias2));
    float *same = get(&O3);
    for (int64_t i = 0; i < nq * C; i++) ref[i] = alone[i];
    report(t, "attn merge", "empty second group", nmse(same, ref, nq * C), 1e-12);
    free(q), free(k), free(v), free(alone), free(got), free(ref), free(w), free(inf), free(same);
    dg_tensor *all[] = {&Q, &K1, &V1, &K2, &V2, &O1, &O2, &L1, &L2, &Linf, &O3};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dg_tensor_free(all[i]);
}

/* Bad calls are refused with the reason, on every backend. */
static void test_attention_refusals(const target *t) {
    const int64_t s[2] = {8, 12}, s2[2] = {9, 12}, l[2] = {8, 2};
    float *h = rand_host(9 * 12, 1.0f);
    dg_tensor A = put(t, DG_F32, 2, s, h), B = put(t, DG_F32, 2, s2, h), O = put(t, DG_F32, 2, s, h),
              L = put(t, DG_F32, 2, l, h);
    dg_attn_opts bad_range = {.head_begin = 2, .head_count = 2}, lse = {.lse = &L};
    CHECK(dg_attention(&O, &A, &A, &A, 5, NULL) != DG_OK && strstr(dg_last_error(), "heads"), "5 heads of 12: %s",
          dg_last_error());
    CHECK(dg_attention(&O, &A, &A, &A, 3, &bad_range) != DG_OK && strstr(dg_last_error(), "outside"),
          "heads [2, 4) of 3: %s", dg_last_error());
    CHECK(dg_attention(&O, &A, &A, &A, 3, &lse) != DG_OK && strstr(dg_last_error(), "lse"), "lse [8, 2] for 3 heads");
    /* the blend needs the queries' own rows of v: 9 queries cannot be among 8 keys, nor 8 from offset 2 of 9 */
    dg_attn_opts pert = {.perturb = h}, shifted = {.perturb = h, .query_offset = 2};
    dg_tensor O9 = put(t, DG_F32, 2, s2, h);
    CHECK(dg_attention(&O9, &B, &A, &A, 3, &pert) != DG_OK && strstr(dg_last_error(), "self-attention"),
          "perturbation of cross-attention: %s", dg_last_error());
    CHECK(dg_attention(&O, &A, &B, &B, 3, &shifted) != DG_OK && strstr(dg_last_error(), "self-attention"),
          "perturbation past the keys: %s", dg_last_error());
    dg_tensor_free(&O9);
    CHECK(dg_attention(&A, &A, &A, &O, 3, NULL) != DG_OK && strstr(dg_last_error(), "aliases"),
          "output aliasing the keys: %s", dg_last_error());
    free(h);
    dg_tensor_free(&A), dg_tensor_free(&B), dg_tensor_free(&O), dg_tensor_free(&L);
}

static void run_all(const target *t) {
    printf("%s backend\n", t->name);
    const dg_dtype dts[3] = {DG_F32, DG_BF16, DG_F16};
    for (int d = 0; d < 3; d++) {
        test_linear(t, 1, 1, 1, dts[d], 1);
        test_linear(t, 7, 33, 5, dts[d], 1);
        test_linear(t, 64, 128, 96, dts[d], d == 0);
    }
    for (int rms = 0; rms < 2; rms++) {
        test_norm(t, rms, 1, 1, 0);
        test_norm(t, rms, 5, 37, 1);
        test_norm(t, rms, 130, 256, rms);
    }
    for (int op = EW_GELU; op <= EW_GATED_ADD_ONE; op++) {
        test_elementwise(t, op, 1, 1);
        test_elementwise(t, op, 17, 300);
    }
    test_rope(t, 1, 1, 2);
    test_rope(t, 45, 3, 12);
    const int p1[3] = {1, 2, 2}, p2[3] = {2, 1, 3};
    test_patch(t, 4, 3, 6, 10, p1);
    test_patch(t, 3, 4, 5, 9, p2);
    test_attention_dense(t);
    test_attention_methods(t);
    test_attention_agent(t);
    test_attention_merge(t, 0.0f, 0.0f);
    test_attention_merge(t, 10.0f, 0.0f);
    test_attention_merge(t, -1.5f, 3.0f);
    test_attention_refusals(t);
}

int main(void) {
    dg_backend cpu;
    if (dg_backend_cpu_init(&cpu, 0) != DG_OK) {
        fprintf(stderr, "cpu backend: %s\n", dg_last_error());
        return 1;
    }
    const target tc = {&cpu, "cpu", 1};
    run_all(&tc);
    /* Every other backend this build knows, when its device is present. */
    dg_backend gpu;
    if (dg_backend_init_device(&gpu, "cuda", 0) == DG_OK) {
        const target tg = {&gpu, "cuda", 0};
        run_all(&tg);
        dg_backend_free(&gpu);
    } else {
        printf("cuda backend: skipped (%s)\n", dg_last_error());
    }
    dg_backend_free(&cpu);
    return TEST_END();
}
