/* Every op of the backend table on every backend compiled in, in the spirit of
 * ggml's test-backend-ops: the same random inputs through dg_* on each
 * backend, compared with a slow, obvious host reference (double precision) by
 * normalised mean squared error NMSE = sum (got-ref)^2 / sum ref^2, over
 * shapes that include 1-sized and odd ones. Tolerances per op and backend:
 *   - exact on every backend: copy, patchify, unpatchify, cache_push,
 *     channels_to_frames, copy_box, clamp, fill, relu, gather_rows, and mul
 *     (a float product is exact in double, rounded once);
 *   - 1e-10 on every backend (float rounding and summation order only: NMSE
 *     ~1e-14): gelu_tanh, silu, add, modulate, gated_add, layernorm, rmsnorm,
 *     rope, f32 linear, conv3d (with its input norm), spatial_attention (for
 *     CUDA the thresholds the former test_cuda_ops set against the CPU);
 *     blend_edge 1e-12 (float weights; nvcc may fuse its multiply-add);
 *   - CPU 1e-10: f16-weight linears and bf16 ones on the f32 path (widened exactly); bf16 ones
 *     through the bf16 GEMM (CPUs with AVX512-BF16, builds with oneDNN) round x to bf16 (1e-4);
 *     attention and its log-sum-exp, attention_merge, attention_pos_bias;
 *   - CUDA: bf16-weight linears round x to bf16 (1e-4: 2^-9 relative per
 *     term), f16 ones (1e-5: 2^-12); attention and attention_merge round q,
 *     k, v and the probabilities to bf16 (5e-4; the rows' log-sum-exp 1e-5);
 *     attention_pos_bias's GEMM order moves scores by ~1e-7 relative, which
 *     exp carries into the weights (1e-9).
 * Attention runs dense (cross and self, head ranges, the SoftPAG blend, the
 * log-sum-exp output) and through every mask-based method on representative
 * geometries against a dense reference masked with the method's predicate.
 * Bad shapes are refused on every backend with messages naming the tensor.
 * The tables themselves are checked complete (only the documented optional
 * functions may be NULL), the CUDA one in every CUDA build, device or not,
 * and a CUDA device that does not exist is refused. A backend absent at run
 * time is reported skipped, never passed. The CPU convolution's two code
 * paths (direct AVX-512 and im2col GEMM) are test_vae_conv's. */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "attention/method.h"
#include "attention/reference.h"
#include "core/backend.h"
#include "core/cpu/gemm_bf16.h"
#include "core/error.h"
#include "core/ops.h"
#include "tests/attn_masked_ref.h"
#include "tests/test.h"

#ifdef DG_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

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
    printf("  %-5s %-18s %-46s NMSE %.2e (max %.0e) %s\n", t->name, op, detail, e, tol, ok ? "OK" : "FAIL");
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

/* NMSE of one random linear against the double reference; d receives its description. */
static double linear_nmse(const target *t, int64_t M, int64_t in, int64_t out, dg_dtype wdt, int bias, char *d,
                          size_t dsize) {
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
    snprintf(d, dsize, "%lldx%lld . %lldx%lld %s%s", (long long)M, (long long)in, (long long)out, (long long)in,
             dg_dtype_name(wdt), bias ? " +bias" : "");
    const double e = nmse(y, ref, M * out);
    free(x), free(w), free(b), free(y), free(ref);
    dg_tensor_free(&X), dg_tensor_free(&W), dg_tensor_free(&B), dg_tensor_free(&Y);
    return e;
}

/* bf16 weights round x to bf16 (2^-9 relative per term, NMSE ~1e-6) where the backend computes in
 * bf16: CUDA always, the CPU with its bf16 GEMM; f16 on CUDA 2^-12. */
static double linear_tol(const target *t, dg_dtype wdt) {
    if (wdt == DG_F32) return 1e-10;
    if (t->cpu) return wdt == DG_BF16 && dg_backend_cpu_dtype(t->be) == DG_BF16 ? 1e-4 : 1e-10;
    return wdt == DG_BF16 ? 1e-4 : 1e-5;
}

static void test_linear(const target *t, int64_t M, int64_t in, int64_t out, dg_dtype wdt, int bias) {
    char d[64];
    const double e = linear_nmse(t, M, in, out, wdt, bias, d, sizeof d);
    report(t, "linear", d, e, linear_tol(t, wdt));
}

/* The CPU's compute type for bf16 weights: bf16 by default where the CPU and build can (the
 * result then carries x's rounding to bf16, so it is not within the f32 tolerance: proof that the
 * bf16 GEMM ran), f32 when set or when the environment says DG_CPU_BF16=0 (exact widening). */
static void test_linear_compute(const target *t) {
    if (!t->cpu) return;
    char d[64];
    const char *env = getenv("DG_CPU_BF16");
    const int want = dg_gemm_bf16_supported() && !(env && !strcmp(env, "0"));
    CHECK(dg_backend_cpu_dtype(t->be) == (want ? DG_BF16 : DG_F32), "cpu compute dtype %s, expected %s",
          dg_dtype_name(dg_backend_cpu_dtype(t->be)), want ? "bf16" : "f32");
    if (dg_backend_cpu_set_dtype(t->be, DG_BF16) == DG_OK) {
        double e = linear_nmse(t, 300, 1536, 96, DG_BF16, 1, d, sizeof d);
        report(t, "linear bf16 GEMM", d, e, 1e-4);
        CHECK(e > 1e-10, "bf16 compute gave f32 accuracy (NMSE %g): the bf16 GEMM did not run", e);
        /* shapes oneDNN tiles with remainders, and the smallest */
        report(t, "linear bf16 GEMM", d, linear_nmse(t, 37, 250, 19, DG_BF16, 0, d, sizeof d), 1e-4);
        report(t, "linear bf16 GEMM", d, linear_nmse(t, 1, 1, 1, DG_BF16, 1, d, sizeof d), 1e-4);
    } else {
        printf("  cpu   bf16 GEMM refused here: %s\n", dg_last_error());
    }
    CHECK_OK(dg_backend_cpu_set_dtype(t->be, DG_F32));
    report(t, "linear f32 compute", d, linear_nmse(t, 300, 1536, 96, DG_BF16, 1, d, sizeof d), 1e-10);
    CHECK(dg_backend_cpu_set_dtype(t->be, DG_F16) != DG_OK, "compute dtype f16 accepted");
    /* DG_CPU_BF16=0 in the environment: a new backend starts on the f32 path */
    setenv("DG_CPU_BF16", "0", 1);
    dg_backend off;
    if (dg_backend_cpu_init(&off, 0) == DG_OK) {
        CHECK(dg_backend_cpu_dtype(&off) == DG_F32, "DG_CPU_BF16=0 left the bf16 GEMM on");
        const target to = {&off, "cpu", 1};
        report(&to, "linear env BF16=0", d, linear_nmse(&to, 300, 1536, 96, DG_BF16, 1, d, sizeof d), 1e-10);
        dg_backend_free(&off);
    }
    if (env) setenv("DG_CPU_BF16", env, 1);
    else unsetenv("DG_CPU_BF16");
    CHECK_OK(dg_backend_cpu_set_dtype(t->be, want ? DG_BF16 : DG_F32));
}

/* ---- norms ------------------------------------------------------------- */

/* gdt: gamma's dtype (the models keep bf16 norm weights in their dtype). */
static void test_norm(const target *t, int rms, int64_t rows, int64_t C, int affine, dg_dtype gdt) {
    const int64_t xs[2] = {rows, C}, vs[1] = {C};
    float *x = rand_host(rows * C, 2.0f), *g = rand_host(C, 1.0f), *bt = rand_host(C, 1.0f);
    for (int64_t i = 0; i < rows * C; i++) x[i] += 0.3f; /* a mean to remove */
    round_to(g, C, gdt);
    dg_tensor X = put(t, DG_F32, 2, xs, x), G = put(t, gdt, 1, vs, g), Bt = put(t, DG_F32, 1, vs, bt), Y;
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
    snprintf(d, sizeof d, "%lldx%lld%s%s", (long long)rows, (long long)C, affine ? " affine" : "",
             gdt == DG_F32 ? "" : " bf16 gamma");
    report(t, rms ? "rmsnorm" : "layernorm", d, nmse(y, ref, rows * C), 1e-10);
    free(x), free(g), free(bt), free(y), free(ref);
    dg_tensor_free(&X), dg_tensor_free(&G), dg_tensor_free(&Bt), dg_tensor_free(&Y);
}

/* ---- elementwise ------------------------------------------------------- */

enum { EW_GELU, EW_SILU, EW_ADD, EW_SUB, EW_MODULATE, EW_GATED_ADD, EW_GATED_ADD_ONE };
static const char *const ew_names[] = {"gelu_tanh", "silu", "add", "sub", "modulate", "gated_add", "gated_add"};

/* inplace: the output is the first input (y == x), as the models call them. */
static void test_elementwise(const target *t, int op, int64_t rows, int64_t C, int inplace) {
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
        case EW_SUB: ref[i] = x - b[i]; break;
        case EW_MODULATE: ref[i] = x * (1.0 + v[(int64_t)c]) + u[(int64_t)c]; break;
        case EW_GATED_ADD: ref[i] = x + (double)b[i] * u[(int64_t)c]; break;
        default: ref[i] = x + b[i]; break;
        }
    }
    dg_tensor *out = inplace || op >= EW_GATED_ADD ? &A : &Y;
    switch (op) {
    case EW_GELU: CHECK_OK(dg_gelu_tanh(out, &A)); break;
    case EW_SILU: CHECK_OK(dg_silu(out, &A)); break;
    case EW_ADD: CHECK_OK(dg_add(out, &A, &B)); break;
    case EW_SUB: CHECK_OK(dg_sub(out, &A, &B)); break;
    case EW_MODULATE: CHECK_OK(dg_modulate(out, &A, U.data, V.data)); break;
    default: CHECK_OK(dg_gated_add(&A, &B, op == EW_GATED_ADD ? U.data : NULL)); break;
    }
    float *y = get(out);
    char d[64];
    snprintf(d, sizeof d, "%lldx%lld%s%s", (long long)rows, (long long)C, op == EW_GATED_ADD_ONE ? " gate 1" : "",
             inplace ? " in place" : "");
    report(t, ew_names[op], d, nmse(y, ref, n), 1e-10);
    free(a), free(b), free(u), free(v), free(y), free(ref);
    dg_tensor_free(&A), dg_tensor_free(&B), dg_tensor_free(&U), dg_tensor_free(&V), dg_tensor_free(&Y);
}

/* sum |a - b| and sum |b| against double sums, across the 16384-element chunks of the reduction; a
 * second call gives the very same sums (a step cache's decision must be reproducible). */
static void test_abs_diff_sums(const target *t, int64_t n) {
    const int64_t s[1] = {n};
    float *a = rand_host(n, 2.0f), *b = rand_host(n, 1.0f);
    dg_tensor A = put(t, DG_F32, 1, s, a), B = put(t, DG_F32, 1, s, b);
    double ref[2] = {0, 0}, got[2] = {NAN, NAN}, again[2] = {NAN, NAN};
    for (int64_t i = 0; i < n; i++) ref[0] += fabs((double)a[i] - b[i]), ref[1] += fabs((double)b[i]);
    CHECK_OK(dg_abs_diff_sums(&A, &B, got));
    CHECK_OK(dg_abs_diff_sums(&A, &B, again));
    const double e = fmax(fabs(got[0] - ref[0]) / fmax(ref[0], 1e-30), fabs(got[1] - ref[1]) / fmax(ref[1], 1e-30));
    char d[64];
    snprintf(d, sizeof d, "%lld elements (relative error)", (long long)n);
    report(t, "abs_diff_sums", d, n ? e : 0.0, 1e-5);
    CHECK(got[0] == again[0] && got[1] == again[1], "%s abs_diff_sums of %lld: a second call differs", t->name,
          (long long)n);
    free(a), free(b);
    dg_tensor_free(&A), dg_tensor_free(&B);
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
        printf("  %-5s %-18s %-46s refused: %s\n", t->name, "attention", "agent (host-memory algorithm)",
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
    report(t, "attention_merge", d, nmse(got, ref, nq * C), t->cpu ? 1e-10 : 5e-4);
    /* an empty second group (lse -inf) leaves the first group's output */
    float *inf = malloc((size_t)(nq * heads) * sizeof(float));
    for (int64_t i = 0; i < nq * heads; i++) inf[i] = -INFINITY;
    dg_tensor Linf = put(t, DG_F32, 2, ls, inf), O3 = put(t, DG_F32, 2, qs, alone);
    CHECK_OK(dg_attention(&O3, &Q, &K1, &V1, (int)heads, &o1));
    CHECK_OK(dg_attention_merge(&O3, &L1, &O2, &Linf, bias, bias2));
    float *same = get(&O3);
    for (int64_t i = 0; i < nq * C; i++) ref[i] = alone[i];
    report(t, "attention_merge", "empty second group", nmse(same, ref, nq * C), 1e-12);
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

/* ---- video VAE ops ----------------------------------------------------- */

typedef struct {
    int64_t cin, cout, kt, kh, kw, T, H, W;
    int up, acc, w4; /* w4: a 4-D [Cout, Cin, kh, kw] weight (the VAE's 2-D convs; kt = 1) */
    int norm;        /* the input channel-normalised first: 1, then SiLU'd: 2 */
} conv_case;

/* In place over frames[C, P]: v / max(||v||, 1e-12) * sqrt(C) * g per position, then SiLU if silu. */
static void normalize_ref(double *v, int64_t C, int64_t P, const float *g, int silu) {
    for (int64_t p = 0; p < P; p++) {
        double ss = 0;
        for (int64_t c = 0; c < C; c++) ss += v[c * P + p] * v[c * P + p];
        const double norm = fmax(sqrt(ss), 1e-12);
        for (int64_t c = 0; c < C; c++) {
            const double u = v[c * P + p] / norm * sqrt((double)C) * g[c];
            v[c * P + p] = silu ? u / (1.0 + exp(-u)) : u;
        }
    }
}

/* y[co,t,r,c] (+)= b[co] + sum w[co,ci,dt,dy,dx] * v(ci, t+dt, r+dy-ph, c+dx-pw), where v reads the frames
 * [cache, x] (normalised per position when asked) through the optional nearest-2x upsample, zero outside;
 * then the cache after this chunk (raw frames). */
static void test_conv3d(const target *t, conv_case k) {
    const int64_t Ho = k.up ? 2 * k.H : k.H, Wo = k.up ? 2 * k.W : k.W, nc = k.kt - 1;
    const int64_t xs[4] = {k.cin, k.T, k.H, k.W}, ys[4] = {k.cout, k.T, Ho, Wo}, cs[4] = {k.cin, nc, k.H, k.W};
    const int64_t ws5[5] = {k.cout, k.cin, k.kt, k.kh, k.kw}, ws4[4] = {k.cout, k.cin, k.kh, k.kw}, bs[1] = {k.cout};
    const int64_t nx = k.cin * k.T * k.H * k.W, ny = k.cout * k.T * Ho * Wo, ncache = k.cin * nc * k.H * k.W;
    float *x = rand_host(nx, 1.0f), *w = rand_host(k.cout * k.cin * k.kt * k.kh * k.kw, 0.2f);
    float *b = rand_host(k.cout, 1.0f), *cache = rand_host(ncache, 1.0f), *y0 = rand_host(ny, 1.0f);
    dg_tensor X = put(t, DG_F32, 4, xs, x), Y = put(t, DG_F32, 4, ys, y0), B = put(t, DG_F32, 1, bs, b);
    dg_tensor Wt = k.w4 ? put(t, DG_F32, 4, ws4, w) : put(t, DG_F32, 5, ws5, w), Cc;
    memset(&Cc, 0, sizeof Cc);
    if (nc) Cc = put(t, DG_F32, 4, cs, cache);
    float *g = rand_host(k.cin, 1.0f);
    dg_tensor G = put(t, DG_F32, 1, &k.cin, g);
    const unsigned flags = (k.up ? DG_CONV_UPSAMPLE2X : 0) | (k.acc ? DG_CONV_ACCUMULATE : 0) |
                           (k.norm == 2 ? DG_CONV_SILU : 0);
    CHECK_OK(dg_conv3d(&Y, &X, nc ? &Cc : NULL, &Wt, &B, k.norm ? &G : NULL, flags));
    float *y = get(&Y);
    /* what the taps read: x and the cache, normalised per position when asked */
    double *xv = malloc((size_t)(nx + ncache) * sizeof(double)), *cv = xv + nx;
    for (int64_t i = 0; i < nx; i++) xv[i] = x[i];
    for (int64_t i = 0; i < ncache; i++) cv[i] = cache[i];
    if (k.norm) {
        normalize_ref(xv, k.cin, k.T * k.H * k.W, g, k.norm == 2);
        normalize_ref(cv, k.cin, nc * k.H * k.W, g, k.norm == 2);
    }
    double *ref = malloc((size_t)ny * sizeof(double));
    const int64_t ph = (k.kh - 1) / 2, pw = (k.kw - 1) / 2;
    for (int64_t co = 0; co < k.cout; co++)
        for (int64_t f = 0; f < k.T; f++)
            for (int64_t r = 0; r < Ho; r++)
                for (int64_t c = 0; c < Wo; c++) {
                    const int64_t yi = ((co * k.T + f) * Ho + r) * Wo + c;
                    double s = (k.acc ? y0[yi] : 0.0) + b[co];
                    for (int64_t ci = 0; ci < k.cin; ci++)
                        for (int64_t dt = 0; dt < k.kt; dt++)
                            for (int64_t dy = 0; dy < k.kh; dy++)
                                for (int64_t dx = 0; dx < k.kw; dx++) {
                                    const int64_t rr = r + dy - ph, cc = c + dx - pw, fr = f + dt;
                                    if (rr < 0 || rr >= Ho || cc < 0 || cc >= Wo) continue;
                                    const int64_t sr = k.up ? rr / 2 : rr, sc = k.up ? cc / 2 : cc;
                                    const double v = fr < nc ? cv[((ci * nc + fr) * k.H + sr) * k.W + sc]
                                                             : xv[((ci * k.T + fr - nc) * k.H + sr) * k.W + sc];
                                    s += v * w[(((co * k.cin + ci) * k.kt + dt) * k.kh + dy) * k.kw + dx];
                                }
                    ref[yi] = s;
                }
    char d[80];
    snprintf(d, sizeof d, "%lldx%lldx%lld %lld->%lld T%lld %lldx%lld%s%s%s", (long long)k.kt, (long long)k.kh,
             (long long)k.kw, (long long)k.cin, (long long)k.cout, (long long)k.T, (long long)Ho, (long long)Wo,
             k.up ? " up2x" : "", k.acc ? " acc" : "", k.norm == 2 ? " norm+silu" : k.norm ? " norm" : "");
    report(t, "conv3d", d, nmse(y, ref, ny), 1e-10);
    if (nc) { /* the cache this conv leaves for the next chunk: the last nc frames of [cache, x] */
        CHECK_OK(dg_cache_push(&Cc, &X));
        float *cp = get(&Cc);
        double *cref = malloc((size_t)ncache * sizeof(double));
        for (int64_t ci = 0; ci < k.cin; ci++)
            for (int64_t j = 0; j < nc; j++)
                for (int64_t p = 0; p < k.H * k.W; p++) {
                    const int64_t fr = k.T + j; /* frame of [cache, x] */
                    cref[(ci * nc + j) * k.H * k.W + p] = fr < nc ? cache[(ci * nc + fr) * k.H * k.W + p]
                                                                  : x[(ci * k.T + fr - nc) * k.H * k.W + p];
                }
        snprintf(d, sizeof d, "%lld frames + %lld, %lldx%lld", (long long)nc, (long long)k.T, (long long)k.H,
                 (long long)k.W);
        report(t, "cache_push", d, nmse(cp, cref, ncache), 0.0);
        free(cp), free(cref);
    }
    free(x), free(w), free(b), free(cache), free(y0), free(y), free(ref), free(g), free(xv);
    dg_tensor_free(&X), dg_tensor_free(&Y), dg_tensor_free(&B), dg_tensor_free(&Wt), dg_tensor_free(&Cc);
    dg_tensor_free(&G);
}

/* One head of width C among the H*W positions of each frame. */
static void test_spatial_attention(const target *t, int64_t C, int64_t T, int64_t H, int64_t W) {
    const int64_t qs[4] = {3 * C, T, H, W}, os[4] = {C, T, H, W}, N = H * W, ld = T * N;
    float *qkv = rand_host(3 * C * ld, 2.0f);
    const float *q = qkv, *k = q + C * ld, *v = k + C * ld;
    dg_tensor QKV = put(t, DG_F32, 4, qs, qkv), O;
    CHECK_OK(dg_tensor_alloc(&O, t->be, DG_F32, 4, os));
    CHECK_OK(dg_spatial_attention(&O, &QKV));
    float *o = get(&O);
    double *ref = malloc((size_t)(C * ld) * sizeof(double)), *p = malloc((size_t)N * sizeof(double));
    for (int64_t f = 0; f < T; f++)
        for (int64_t i = 0; i < N; i++) {
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < N; j++) {
                double dot = 0;
                for (int64_t c = 0; c < C; c++) dot += (double)q[c * ld + f * N + i] * k[c * ld + f * N + j];
                p[j] = dot / sqrt((double)C);
                mx = fmax(mx, p[j]);
            }
            for (int64_t j = 0; j < N; j++) sum += p[j] = exp(p[j] - mx);
            for (int64_t c = 0; c < C; c++) {
                double acc = 0;
                for (int64_t j = 0; j < N; j++) acc += p[j] * v[c * ld + f * N + j];
                ref[c * ld + f * N + i] = acc / sum;
            }
        }
    char d[64];
    snprintf(d, sizeof d, "C%lld T%lld %lldx%lld", (long long)C, (long long)T, (long long)H, (long long)W);
    report(t, "spatial_attention", d, nmse(o, ref, C * ld), 1e-10);
    free(qkv), free(o), free(ref), free(p);
    dg_tensor_free(&QKV), dg_tensor_free(&O);
}

/* The cache alone, where the conv has not run first: x longer and shorter than the cache. */
static void test_cache_push(const target *t, int64_t C, int64_t nc, int64_t T, int64_t HW) {
    const int64_t cs[4] = {C, nc, 1, HW}, xs[4] = {C, T, 1, HW}, n = C * nc * HW;
    float *cache = rand_host(n, 1.0f), *x = rand_host(C * T * HW, 1.0f);
    dg_tensor Cc = put(t, DG_F32, 4, cs, cache), X = put(t, DG_F32, 4, xs, x);
    CHECK_OK(dg_cache_push(&Cc, &X));
    float *got = get(&Cc);
    double *ref = malloc((size_t)n * sizeof(double));
    for (int64_t c = 0; c < C; c++)
        for (int64_t j = 0; j < nc; j++)
            for (int64_t p = 0; p < HW; p++) {
                const int64_t fr = T + j;
                ref[(c * nc + j) * HW + p] = fr < nc ? cache[(c * nc + fr) * HW + p] : x[(c * T + fr - nc) * HW + p];
            }
    char d[64];
    snprintf(d, sizeof d, "%lld frames + %lld", (long long)nc, (long long)T);
    report(t, "cache_push", d, nmse(got, ref, n), 0.0);
    free(cache), free(x), free(got), free(ref);
    dg_tensor_free(&Cc), dg_tensor_free(&X);
}

static void test_channels_to_frames(const target *t, int64_t C, int64_t g, int64_t T, int64_t H, int64_t W) {
    const int64_t xs[4] = {g * C, T, H, W}, ys[4] = {C, g * T, H, W}, HW = H * W, n = g * C * T * HW;
    float *x = rand_host(n, 1.0f);
    dg_tensor X = put(t, DG_F32, 4, xs, x), Y;
    CHECK_OK(dg_tensor_alloc(&Y, t->be, DG_F32, 4, ys));
    CHECK_OK(dg_channels_to_frames(&Y, &X));
    float *y = get(&Y);
    double *ref = malloc((size_t)n * sizeof(double));
    for (int64_t c = 0; c < C; c++)
        for (int64_t f = 0; f < T; f++)
            for (int64_t i = 0; i < g; i++)
                for (int64_t p = 0; p < HW; p++) ref[(c * g * T + g * f + i) * HW + p] = x[((i * C + c) * T + f) * HW + p];
    char d[64];
    snprintf(d, sizeof d, "%lld groups of C%lld, T%lld %lldx%lld", (long long)g, (long long)C, (long long)T,
             (long long)H, (long long)W);
    report(t, "channels_to_frames", d, nmse(y, ref, n), 0.0);
    free(x), free(y), free(ref);
    dg_tensor_free(&X), dg_tensor_free(&Y);
}

/* A box of src into dst at other offsets; the rest of dst untouched; a box leaving src refused. */
static void test_copy_box(const target *t) {
    const int64_t ds[4] = {3, 5, 7, 9}, ss[4] = {4, 2, 6, 11}, n = 3 * 5 * 7 * 9;
    const int64_t dat[4] = {1, 2, 3, 1}, sat[4] = {0, 1, 2, 4}, size[4] = {2, 1, 4, 6}, big[4] = {2, 1, 5, 6};
    float *dst = rand_host(n, 1.0f), *src = rand_host(4 * 2 * 6 * 11, 1.0f);
    dg_tensor D = put(t, DG_F32, 4, ds, dst), S = put(t, DG_F32, 4, ss, src);
    S.name = "src";
    CHECK_OK(dg_copy_box(&D, dat, &S, sat, size));
    float *got = get(&D);
    double *ref = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) ref[i] = dst[i];
    for (int64_t a = 0; a < size[0]; a++)
        for (int64_t b = 0; b < size[1]; b++)
            for (int64_t c = 0; c < size[2]; c++)
                for (int64_t e = 0; e < size[3]; e++)
                    ref[(((dat[0] + a) * ds[1] + dat[1] + b) * ds[2] + dat[2] + c) * ds[3] + dat[3] + e] =
                        src[(((sat[0] + a) * ss[1] + sat[1] + b) * ss[2] + sat[2] + c) * ss[3] + sat[3] + e];
    report(t, "copy_box", "2x1x4x6 of 4x2x6x11 into 3x5x7x9", nmse(got, ref, n), 0.0);
    CHECK(dg_copy_box(&D, dat, &S, sat, big) != DG_OK && strstr(dg_last_error(), "src"),
          "%s: box leaving src accepted: %s", t->name, dg_last_error());
    free(dst), free(src), free(got), free(ref);
    dg_tensor_free(&D), dg_tensor_free(&S);
}

/* y's first n entries along axis (2 = H or 3 = W) cross-faded from the last n of a strip a. */
static void test_blend_edge(const target *t, int axis, int64_t n) {
    int64_t ys[4] = {3, 2, 6, 7}, as[4] = {3, 2, 6, 7};
    as[axis] = n + 2;
    const int64_t ny = 3 * 2 * 6 * 7;
    float *y0 = rand_host(ny, 1.0f), *a = rand_host(3 * 2 * as[2] * as[3], 1.0f);
    dg_tensor Y = put(t, DG_F32, 4, ys, y0), A = put(t, DG_F32, 4, as, a);
    A.name = "strip";
    CHECK_OK(dg_blend_edge(&Y, &A, axis, n));
    float *y = get(&Y);
    double *ref = malloc((size_t)ny * sizeof(double));
    for (int64_t p = 0; p < 6; p++) /* the 3x2 leading dims as one */
        for (int64_t r = 0; r < 6; r++)
            for (int64_t c = 0; c < 7; c++) {
                const int64_t i = axis == 2 ? r : c, yi = (p * 6 + r) * 7 + c;
                const int64_t ai = axis == 2 ? (p * as[2] + as[2] - n + r) * 7 + c : (p * 6 + r) * as[3] + as[3] - n + c;
                ref[yi] = i < n ? a[ai] * (1.0 - (double)i / n) + y0[yi] * ((double)i / n) : y0[yi];
            }
    char d[64];
    snprintf(d, sizeof d, "along %s, %lld of %lld", axis == 2 ? "H" : "W", (long long)n, (long long)ys[axis]);
    /* weights i/n and 1 - i/n in float: NMSE ~1e-14 (test_cuda_ops: nvcc may fuse the multiply-add) */
    report(t, "blend_edge", d, nmse(y, ref, ny), 1e-12);
    CHECK(dg_blend_edge(&Y, &A, axis, n + 3) != DG_OK && strstr(dg_last_error(), "strip"),
          "%s: blend past the strip accepted", t->name);
    free(y0), free(a), free(y), free(ref);
    dg_tensor_free(&Y), dg_tensor_free(&A);
}

/* clamp into another tensor and in place, then fill: both exact. */
static void test_clamp_fill(const target *t, int64_t rows, int64_t C) {
    const int64_t s[2] = {rows, C}, n = rows * C;
    float *x = rand_host(n, 2.0f);
    dg_tensor X = put(t, DG_F32, 2, s, x), Y;
    CHECK_OK(dg_tensor_alloc(&Y, t->be, DG_F32, 2, s));
    double *ref = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) ref[i] = fmin(fmax(x[i], -1.0), 0.5);
    char d[64];
    snprintf(d, sizeof d, "%lldx%lld to [-1, 0.5]", (long long)rows, (long long)C);
    CHECK_OK(dg_clamp(&Y, &X, -1.0f, 0.5f));
    float *y = get(&Y);
    report(t, "clamp", d, nmse(y, ref, n), 0.0);
    CHECK_OK(dg_clamp(&X, &X, -1.0f, 0.5f));
    float *yi = get(&X);
    strcat(d, ", in place");
    report(t, "clamp", d, nmse(yi, ref, n), 0.0);
    for (int64_t i = 0; i < n; i++) ref[i] = 0.75;
    CHECK_OK(dg_fill(&Y, 0.75f));
    float *f = get(&Y);
    snprintf(d, sizeof d, "%lldx%lld", (long long)rows, (long long)C);
    report(t, "fill", d, nmse(f, ref, n), 0.0);
    free(x), free(y), free(yi), free(f), free(ref);
    dg_tensor_free(&X), dg_tensor_free(&Y);
}

/* The VAE wrappers refuse what the kernels would misread, naming the tensor. */
static void test_vae_refusals(const target *t) {
    const int64_t s4[4] = {4, 2, 4, 4}, s3[4] = {3, 2, 4, 4}, c5 = 5, ws[5] = {3, 4, 3, 3, 3}, ws5[5] = {3, 5, 3, 3, 3};
    const int64_t cs[4] = {4, 1, 4, 4}, w2s[4] = {3, 4, 3, 3};
    float *h = rand_host(4 * 5 * 27, 1.0f);
    dg_tensor x = put(t, DG_F32, 4, s4, h), y = put(t, DG_F32, 4, s3, h), w2 = put(t, DG_F32, 4, w2s, h);
    dg_tensor g = put(t, DG_F32, 1, &c5, h), w = put(t, DG_F32, 5, ws, h), w5 = put(t, DG_F32, 5, ws5, h);
    dg_tensor cache = put(t, DG_F32, 4, cs, h);
    y.name = "y3", g.name = "norm1.gamma", w.name = "conv1.weight", w5.name = "conv2.weight", cache.name = "conv1 cache";
    w2.name = "conv_out.weight";
    CHECK(dg_conv3d(&y, &x, NULL, &w2, NULL, &g, DG_CONV_SILU) != DG_OK && strstr(dg_last_error(), "norm1.gamma"),
          "gamma of 5 on 4 channels accepted: %s", dg_last_error());
    CHECK(dg_conv3d(&y, &x, NULL, &w2, NULL, NULL, DG_CONV_SILU) != DG_OK && strstr(dg_last_error(), "no norm"),
          "SiLU without a norm accepted: %s", dg_last_error());
    CHECK(dg_conv3d(&y, &x, NULL, &w2, NULL, NULL, 8) != DG_OK && strstr(dg_last_error(), "unknown flags"),
          "unknown conv flag accepted: %s", dg_last_error());
    CHECK(dg_spatial_attention(&y, &x) != DG_OK && strstr(dg_last_error(), "3C"), "qkv of 4 channels accepted: %s",
          dg_last_error());
    CHECK(dg_cache_push(&y, &x) != DG_OK && strstr(dg_last_error(), "cache"), "cache of 3 channels for 4 accepted: %s",
          dg_last_error());
    CHECK(dg_channels_to_frames(&y, &x) != DG_OK && strstr(dg_last_error(), "y3"),
          "4 channels in groups of 3 accepted: %s", dg_last_error());
    CHECK(dg_clamp(&y, &x, -1, 1) != DG_OK && strstr(dg_last_error(), "y3"), "clamp of another shape accepted: %s",
          dg_last_error());
    CHECK(dg_conv3d(&y, &x, NULL, &w, NULL, NULL, 0) != DG_OK && strstr(dg_last_error(), "conv1.weight") &&
              strstr(dg_last_error(), "needs a cache"),
          "missing cache accepted: %s", dg_last_error());
    CHECK(dg_conv3d(&y, &x, &cache, &w, NULL, NULL, 0) != DG_OK && strstr(dg_last_error(), "conv1 cache"),
          "cache of 1 frame for kt=3 accepted: %s", dg_last_error());
    CHECK(dg_conv3d(&y, &x, &cache, &w, NULL, NULL, DG_CONV_UPSAMPLE2X) != DG_OK && strstr(dg_last_error(), "output"),
          "upsampled output of the input's size accepted: %s", dg_last_error());
    CHECK(dg_conv3d(&y, &x, &cache, &w5, NULL, NULL, 0) != DG_OK && strstr(dg_last_error(), "input channels"),
          "weight of 5 input channels on 4 accepted: %s", dg_last_error());
    free(h);
    dg_tensor *all[] = {&x, &y, &w2, &g, &w, &w5, &cache};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dg_tensor_free(all[i]);
}

/* ---- text-encoder ops -------------------------------------------------- */

/* mul and relu, the latter also in place: exact (a float product is exact in double, then rounded once). */
static void test_mul_relu(const target *t, int64_t rows, int64_t C) {
    const int64_t s[2] = {rows, C}, n = rows * C;
    float *a = rand_host(n, 3.0f), *b = rand_host(n, 3.0f);
    dg_tensor A = put(t, DG_F32, 2, s, a), B = put(t, DG_F32, 2, s, b), Y;
    CHECK_OK(dg_tensor_alloc(&Y, t->be, DG_F32, 2, s));
    double *ref = malloc((size_t)n * sizeof(double));
    char d[64];
    snprintf(d, sizeof d, "%lldx%lld", (long long)rows, (long long)C);
    CHECK_OK(dg_mul(&Y, &A, &B));
    float *y = get(&Y);
    for (int64_t i = 0; i < n; i++) ref[i] = (float)((double)a[i] * b[i]);
    report(t, "mul", d, nmse(y, ref, n), 0.0);
    for (int64_t i = 0; i < n; i++) ref[i] = a[i] > 0 ? a[i] : 0.0;
    CHECK_OK(dg_relu(&Y, &A));
    float *r = get(&Y);
    report(t, "relu", d, nmse(r, ref, n), 0.0);
    CHECK_OK(dg_relu(&A, &A));
    float *ri = get(&A);
    strcat(d, ", in place");
    report(t, "relu", d, nmse(ri, ref, n), 0.0);
    free(a), free(b), free(ref), free(y), free(r), free(ri);
    dg_tensor_free(&A), dg_tensor_free(&B), dg_tensor_free(&Y);
}

/* Rows of an f32 or bf16 table, repeated and out of order, widened to f32: exact. */
static void test_gather_rows(const target *t, dg_dtype dt, int64_t n_table, int64_t C, int64_t n_rows) {
    const int64_t ts[2] = {n_table, C}, ys[2] = {n_rows, C};
    float *table = rand_host(n_table * C, 2.0f);
    round_to(table, n_table * C, dt);
    int32_t *rows = malloc((size_t)n_rows * sizeof *rows);
    for (int64_t r = 0; r < n_rows; r++) rows[r] = (int32_t)((r * 7 + 3) % n_table);
    dg_tensor T = put(t, dt, 2, ts, table), Y;
    CHECK_OK(dg_tensor_alloc(&Y, t->be, DG_F32, 2, ys));
    CHECK_OK(dg_gather_rows(&Y, &T, rows));
    float *y = get(&Y);
    double *ref = malloc((size_t)(n_rows * C) * sizeof(double));
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t c = 0; c < C; c++) ref[r * C + c] = table[rows[r] * C + c];
    char d[64];
    snprintf(d, sizeof d, "%lld of %lldx%lld %s", (long long)n_rows, (long long)n_table, (long long)C,
             dg_dtype_name(dt));
    report(t, "gather_rows", d, nmse(y, ref, n_rows * C), 0.0);
    rows[n_rows - 1] = (int32_t)n_table;
    char want[32];
    snprintf(want, sizeof want, "index %lld", (long long)n_table);
    CHECK(dg_gather_rows(&Y, &T, rows) != DG_OK && strstr(dg_last_error(), want), "%s: row %lld of %lld accepted: %s",
          t->name, (long long)n_table, (long long)n_table, dg_last_error());
    free(table), free(rows), free(y), free(ref);
    dg_tensor_free(&T), dg_tensor_free(&Y);
}

/* T5 attention: softmax((scale q.k + pos_bias[j - i + nq - 1, h]) + key_bias[j]) v per head. masked: every
 * third key gets -FLT_MAX, as a padded prompt, and huge values in v there that must get no weight. */
static void test_attention_pos_bias(const target *t, int64_t nq, int64_t nk, int heads, int hd, int with_pos,
                                    int masked, float scale) {
    const int64_t C = (int64_t)heads * hd, qs[2] = {nq, C}, ks[2] = {nk, C}, ps[2] = {nq + nk - 1, heads};
    float *q = rand_host(nq * C, 1.0f), *k = rand_host(nk * C, 1.0f), *v = rand_host(nk * C, 1.0f);
    float *pos = rand_host((nq + nk - 1) * heads, 2.0f), *kb = malloc((size_t)nk * sizeof(float));
    for (int64_t j = 0; j < nk; j++) {
        kb[j] = masked && j % 3 == 1 ? -FLT_MAX : 0.0f;
        for (int64_t c = 0; kb[j] != 0 && c < C; c++) v[j * C + c] = 1e30f;
    }
    dg_tensor Q = put(t, DG_F32, 2, qs, q), K = put(t, DG_F32, 2, ks, k), V = put(t, DG_F32, 2, ks, v),
              P = put(t, DG_F32, 2, ps, pos), KB = put(t, DG_F32, 1, &nk, kb), O;
    CHECK_OK(dg_tensor_alloc(&O, t->be, DG_F32, 2, qs));
    CHECK_OK(dg_attention_pos_bias(&O, &Q, &K, &V, with_pos ? &P : NULL, masked ? &KB : NULL, heads, scale));
    float *o = get(&O);
    double *ref = malloc((size_t)(nq * C) * sizeof(double)), *p = malloc((size_t)nk * sizeof(double));
    for (int h = 0; h < heads; h++)
        for (int64_t i = 0; i < nq; i++) {
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < nk; j++) {
                double dot = 0;
                for (int c = 0; c < hd; c++) dot += (double)q[i * C + h * hd + c] * k[j * C + h * hd + c];
                p[j] = scale * dot + (with_pos ? pos[(j - i + nq - 1) * heads + h] : 0.0) + (masked ? kb[j] : 0.0);
                mx = fmax(mx, p[j]);
            }
            for (int64_t j = 0; j < nk; j++) sum += p[j] = exp(p[j] - mx);
            for (int c = 0; c < hd; c++) {
                double acc = 0;
                for (int64_t j = 0; j < nk; j++)
                    if (p[j] > 0) acc += p[j] * v[j * C + h * hd + c]; /* 0 * 1e30 is 0, not a large product */
                ref[i * C + h * hd + c] = acc / sum;
            }
        }
    char d[64];
    snprintf(d, sizeof d, "%lld x %lld keys, %d heads, d=%d%s%s", (long long)nq, (long long)nk, heads, hd,
             with_pos ? ", pos" : "", masked ? ", masked" : "");
    /* CUDA: the GEMM summation order moves scores by ~1e-7 relative, which exp carries into the weights */
    report(t, "attention_pos_bias", d, nmse(o, ref, nq * C), t->cpu ? 1e-10 : 1e-9);
    free(q), free(k), free(v), free(pos), free(kb), free(o), free(ref), free(p);
    dg_tensor_free(&Q), dg_tensor_free(&K), dg_tensor_free(&V), dg_tensor_free(&P), dg_tensor_free(&KB),
        dg_tensor_free(&O);
}

static void test_text_refusals(const target *t) {
    const int64_t qs[2] = {4, 12}, ps[2] = {6, 3}, ts[2] = {12, 4};
    float *h = rand_host(48, 1.0f);
    dg_tensor q = put(t, DG_F32, 2, qs, h), o = put(t, DG_F32, 2, qs, h), pos = put(t, DG_F32, 2, ps, h);
    dg_tensor tr = put(t, DG_F32, 2, ts, h);
    tr.name = "transposed";
    CHECK(dg_mul(&o, &q, &tr) != DG_OK && strstr(dg_last_error(), "transposed"), "mul of 4x12 by 12x4 accepted: %s",
          dg_last_error());
    CHECK(dg_attention_pos_bias(&o, &q, &q, &q, NULL, NULL, 5, 1.0f) != DG_OK && strstr(dg_last_error(), "5 heads"),
          "12 channels in 5 heads accepted: %s", dg_last_error());
    CHECK(dg_attention_pos_bias(&o, &q, &q, &q, &pos, NULL, 3, 1.0f) != DG_OK &&
              strstr(dg_last_error(), "position bias"),
          "position bias of 6 rows for 4 x 4 accepted: %s", dg_last_error());
    CHECK(dg_attention_pos_bias(&q, &q, &q, &q, NULL, NULL, 3, 1.0f) != DG_OK && strstr(dg_last_error(), "aliases"),
          "output aliasing the queries accepted: %s", dg_last_error());
    /* no queries: nothing to compute, not an error */
    const int64_t none[2] = {0, 12};
    dg_tensor q0, o0;
    CHECK_OK(dg_tensor_alloc(&q0, t->be, DG_F32, 2, none));
    CHECK_OK(dg_tensor_alloc(&o0, t->be, DG_F32, 2, none));
    CHECK_OK(dg_attention_pos_bias(&o0, &q0, &q, &q, NULL, NULL, 3, 1.0f));
    dg_tensor_free(&q0), dg_tensor_free(&o0);
    free(h);
    dg_tensor_free(&q), dg_tensor_free(&o), dg_tensor_free(&pos), dg_tensor_free(&tr);
}

/* x[Cx, T, H, W] -> y[C, ...] as diffusers' DupUp3D (repeat_interleave, view [C, ft, fs, fs, ...],
 * cells interleaved, first `drop` frames cut) or, col_major, unpatchify (view [C, fs, fs, ...] with the
 * column offset first). */
static void test_channels_to_cells(const target *t, int64_t Cx, int64_t C, const int cells[4], int64_t T, int64_t H,
                                   int64_t W, int acc) {
    const int64_t ft = cells[0], fs = cells[1], drop = cells[2], r = C * ft * fs * fs / Cx;
    const int64_t To = ft * T - drop, Ho = fs * H, Wo = fs * W, n = C * To * Ho * Wo;
    const int64_t xs[4] = {Cx, T, H, W}, ys[4] = {C, To, Ho, Wo};
    float *x = rand_host(Cx * T * H * W, 1.0f), *y0 = rand_host(n, 1.0f);
    dg_tensor X = put(t, DG_F32, 4, xs, x), Y = put(t, DG_F32, 4, ys, y0);
    CHECK_OK(dg_channels_to_cells(&Y, &X, cells, acc));
    float *y = get(&Y);
    double *ref = malloc((size_t)n * sizeof(double));
    for (int64_t c = 0; c < C; c++)
        for (int64_t a = 0; a < ft; a++)
            for (int64_t i = 0; i < fs; i++)
                for (int64_t j = 0; j < fs; j++) {
                    const int64_t k = cells[3] ? (c * fs + j) * fs + i : ((c * ft + a) * fs + i) * fs + j;
                    for (int64_t f = 0; f < T; f++)
                        for (int64_t h = 0; h < H; h++)
                            for (int64_t w = 0; w < W; w++) {
                                const int64_t u = f * ft + a - drop;
                                if (u < 0) continue;
                                const int64_t o = ((c * To + u) * Ho + h * fs + i) * Wo + w * fs + j;
                                ref[o] = x[((k / r * T + f) * H + h) * W + w] + (acc ? y0[o] : 0.0);
                            }
                }
    char d[64];
    snprintf(d, sizeof d, "%lld->%lld ch, %dx%dx%d cells, drop %d%s", (long long)Cx, (long long)C, cells[0], cells[1],
             cells[1], cells[2], cells[3] ? ", col-major" : "");
    report(t, "channels_to_cells", d, nmse(y, ref, n), 0.0);
    free(x), free(y0), free(y), free(ref);
    dg_tensor_free(&X), dg_tensor_free(&Y);
}

/* ---- the table itself -------------------------------------------------- */

/* Every function of dg_backend_ops (after name and host_memory the table holds only functions, from alloc
 * on). The static assertion below fails to compile when a member is added to the table and not here, so a
 * new op cannot land without both tables being checked for it. */
#define TABLE_FUNCTIONS(X)                                                                                       \
    X(alloc) X(free) X(upload) X(download) X(copy) X(destroy) X(sync) X(linear) X(layernorm) X(rmsnorm)          \
    X(gelu_tanh) X(silu) X(add) X(sub) X(abs_diff_sums) X(modulate) X(gated_add) X(rope) X(patchify)            \
    X(unpatchify) X(attention) X(attention_merge) X(layout_upload) X(layout_release) X(conv3d)                  \
    X(spatial_attention) X(cache_push) X(channels_to_frames) X(channels_to_cells)            \
    X(copy_box) X(blend_edge) X(clamp) X(fill) X(mul) X(relu) X(gather_rows) X(attention_pos_bias)
#define COUNT_ONE(f) +1
_Static_assert(sizeof(dg_backend_ops) ==
                   offsetof(dg_backend_ops, alloc) + (0 TABLE_FUNCTIONS(COUNT_ONE)) * sizeof(void (*)(void)),
               "dg_backend_ops has a member TABLE_FUNCTIONS does not list");

/* NULL is allowed only where core/backend.h documents it: sync (ops run synchronously) and the layout
 * copies (kernels read the host layout), on a backend whose memory is the host's. */
static void check_table(const dg_backend_ops *ops) {
    int missing = 0;
    CHECK(ops->name != NULL, "a backend table without a name");
#define CHECK_ONE(f)                                                                                        \
    if (!ops->f && !(ops->host_memory && (!strcmp(#f, "sync") || !strcmp(#f, "layout_upload") ||            \
                                          !strcmp(#f, "layout_release")))) {                                \
        CHECK(0, "%s backend: no %s", ops->name, #f);                                                       \
        missing++;                                                                                          \
    }
    TABLE_FUNCTIONS(CHECK_ONE)
#undef CHECK_ONE
    printf("%s table: %d functions, %d missing\n", ops->name, 0 TABLE_FUNCTIONS(COUNT_ONE), missing);
}

static void run_all(const target *t) {
    printf("%s backend\n", t->name);
    check_table(t->be->ops);
    const dg_dtype dts[3] = {DG_F32, DG_BF16, DG_F16};
    for (int d = 0; d < 3; d++) {
        test_linear(t, 1, 1, 1, dts[d], 1);
        test_linear(t, 7, 33, 5, dts[d], 1);
        test_linear(t, 64, 128, 96, dts[d], d == 0);
        test_linear(t, 300, 1536, 96, dts[d], 1); /* a long reduction: several K tiles on both backends */
    }
    test_linear_compute(t);
    /* rows x C: 1-sized, odd, C above one thread block's width (1000, 5120), many short rows */
    const int64_t rowwise[][2] = {{1, 1}, {5, 37}, {130, 256}, {5, 1000}, {3, 5120}, {257, 64}};
    for (int rms = 0; rms < 2; rms++)
        for (size_t i = 0; i < sizeof rowwise / sizeof rowwise[0]; i++)
            test_norm(t, rms, rowwise[i][0], rowwise[i][1], i % 2, DG_F32);
    test_norm(t, 1, 7, 33, 1, DG_BF16);
    for (int op = EW_GELU; op <= EW_GATED_ADD_ONE; op++) {
        test_elementwise(t, op, 1, 1, 0);
        test_elementwise(t, op, 17, 300, 0);
        if (op <= EW_MODULATE) test_elementwise(t, op, 3, 5120, 1);
    }
    test_abs_diff_sums(t, 0);
    test_abs_diff_sums(t, 5);
    test_abs_diff_sums(t, 3 * 16384 + 77);
    test_rope(t, 1, 1, 2);
    test_rope(t, 45, 3, 12);
    test_rope(t, 37, 12, 128);
    const int p1[3] = {1, 2, 2}, p2[3] = {2, 1, 3};
    test_patch(t, 4, 3, 6, 10, p1);
    test_patch(t, 3, 4, 5, 9, p2);
    test_patch(t, 1, 1, 2, 2, p1);
    test_attention_dense(t);
    test_attention_methods(t);
    test_attention_agent(t);
    test_attention_merge(t, 0.0f, 0.0f);
    test_attention_merge(t, 10.0f, 0.0f);
    test_attention_merge(t, -1.5f, 3.0f);
    test_attention_refusals(t);
    /* video VAE ops: cin, cout, kt, kh, kw, T, H, W, up, acc, w4, norm (1: norm, 2: norm + SiLU) */
    const conv_case convs[] = {
        {5, 7, 3, 3, 3, 3, 6, 70, 0, 0, 0, 0},   /* causal 3x3x3 with its cache */
        {4, 6, 3, 3, 3, 1, 5, 9, 0, 1, 0, 0},    /* T = 1 < kt - 1: the cache supplies two of three frames */
        {6, 13, 1, 3, 3, 2, 4, 25, 1, 0, 1, 0},  /* the 2x-upsample read (4-D weight) */
        {9, 3, 1, 3, 3, 2, 3, 17, 0, 1, 1, 0},   /* conv_out: 3 channels, accumulate */
        {8, 11, 1, 1, 1, 2, 3, 17, 0, 1, 0, 0},  /* 1x1 */
        {6, 12, 3, 1, 1, 2, 3, 9, 0, 0, 0, 0},   /* 3x1x1 time conv */
        {3, 5, 3, 3, 3, 2, 1, 1, 0, 0, 0, 0},    /* a 1x1 frame: every tap but the centre in the padding */
        {5, 7, 3, 3, 3, 3, 6, 70, 0, 1, 0, 2},   /* a residual block's conv: norm + SiLU of cache and x */
        {48, 4, 3, 3, 3, 1, 3, 100, 0, 0, 0, 1}, /* norm alone over 48 channels, 300 positions */
        {6, 5, 1, 3, 3, 2, 4, 25, 1, 0, 1, 2},   /* normalised, then read upsampled */
        {7, 9, 1, 1, 1, 2, 5, 9, 0, 1, 0, 1},    /* 1x1 after a norm (the VAE attention's qkv) */
        {1, 2, 1, 3, 3, 1, 1, 1, 0, 0, 1, 2},    /* one channel: every value normalises to +-gamma */
    };
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) test_conv3d(t, convs[i]);
    test_cache_push(t, 3, 2, 1, 10);
    test_cache_push(t, 3, 2, 4, 10);
    test_spatial_attention(t, 8, 2, 3, 5);
    test_spatial_attention(t, 3, 1, 1, 1);
    test_spatial_attention(t, 4, 1, 64, 80); /* 5120 positions: several query blocks */
    test_channels_to_frames(t, 3, 2, 3, 2, 5);
    test_channels_to_frames(t, 1, 4, 1, 1, 1);
    test_channels_to_cells(t, 4, 2, (int[4]){2, 2, 1, 0}, 3, 3, 2, 1); /* DupUp3D, first chunk, accumulated */
    test_channels_to_cells(t, 8, 4, (int[4]){1, 2, 0, 0}, 2, 2, 3, 0); /* DupUp3D of a 2-D block, 2 repeats */
    test_channels_to_cells(t, 12, 3, (int[4]){1, 2, 0, 1}, 2, 3, 2, 0); /* the VAE's unpatchify */
    test_copy_box(t);
    test_blend_edge(t, 2, 3);
    test_blend_edge(t, 3, 4);
    test_blend_edge(t, 3, 7); /* the whole width */
    test_blend_edge(t, 3, 0);
    test_clamp_fill(t, 1, 1);
    test_clamp_fill(t, 7, 1000);
    test_vae_refusals(t);
    /* text-encoder ops */
    test_mul_relu(t, 1, 1);
    test_mul_relu(t, 33, 1000);
    test_gather_rows(t, DG_F32, 32, 64, 1023);
    test_gather_rows(t, DG_BF16, 11, 7, 5);
    test_gather_rows(t, DG_F16, 1, 1, 1);
    test_attention_pos_bias(t, 1, 1, 1, 1, 1, 0, 1.0f);
    test_attention_pos_bias(t, 37, 37, 2, 64, 1, 0, 1.0f);
    test_attention_pos_bias(t, 7, 19, 3, 5, 1, 1, 0.3f);
    test_attention_pos_bias(t, 21, 6, 4, 17, 1, 1, 1.0f);
    test_attention_pos_bias(t, 9, 33, 1, 16, 0, 0, 0.25f);
    test_attention_pos_bias(t, 300, 300, 8, 64, 1, 1, 1.0f);
    test_text_refusals(t);
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
#ifdef DG_HAVE_CUDA
    /* The table is checked even without a device: a missing op shows in every CUDA build. */
    check_table(dg_backend_cuda_ops());
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) count = 0;
    /* A device that does not exist is refused, by name where the runtime can count the devices. */
    dg_backend bad;
    const int rc = dg_backend_cuda_init(&bad, count);
    CHECK(rc != DG_OK && (count == 0 || strstr(dg_last_error(), "does not exist")), "cuda device %d accepted: %s",
          count, rc ? dg_last_error() : "no error");
    printf("cuda:%d refused: %s\n", count, dg_last_error());
#endif
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
