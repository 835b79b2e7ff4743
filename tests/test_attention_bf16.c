/* The bf16 dense attention (AVX512-BF16) against a double-precision reference run on the same
 * bf16-rounded inputs (q * scale * log2(e), k, v), on shapes that hit every tile edge: 1 token,
 * odd head dims (a pair half empty), key counts just past a block and odd (a probability pair
 * half empty), padded strides, cross-attention, large logits.
 * Bounds: the kernel also rounds the probabilities (relative error <= 2^-9 each) while the row
 * sums stay f32, so |o - ref| <= 2^-9 max|v| + f32 noise: checked at 2^-8 max|v|. The log-sum-exp
 * sees no rounded probability: within 1e-4 + 1e-5 |lse|.
 * Without an AVX512-BF16 build: the refusal is checked, then "skipped". */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu/exp2_poly.h"
#include "core/cpu/ops_cpu.h"
#include "core/dtype.h"
#include "core/error.h"
#include "tests/test.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static float rnd(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1 << 23) - 1.0);
}

static double bf(float x) { return dg_bf16_to_f32(dg_f32_to_bf16(x)); }

/* o and lse of one shape, in double, on the rounded inputs (the kernel's log2 domain). */
static void reference(double *o, double *lse, const float *q, const float *k, const float *v, const dg_attn_shape *s) {
    const int64_t D = s->head_dim;
    const float qscale = (float)((double)s->scale * LOG2E);
    double *p = malloc((size_t)s->nk * sizeof(double));
    if (!p) return;
    for (int h = 0; h < s->heads; h++)
        for (int64_t i = 0; i < s->nq; i++) {
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < s->nk; j++) {
                double dot = 0;
                for (int64_t c = 0; c < D; c++)
                    dot += bf(q[i * s->q_stride + h * D + c] * qscale) * bf(k[j * s->kv_stride + h * D + c]);
                p[j] = dot;
                mx = fmax(mx, dot);
            }
            for (int64_t j = 0; j < s->nk; j++) sum += p[j] = exp2(p[j] - mx);
            for (int64_t c = 0; c < D; c++) {
                double acc = 0;
                for (int64_t j = 0; j < s->nk; j++) acc += p[j] * bf(v[j * s->kv_stride + h * D + c]);
                o[(i * s->heads + h) * D + c] = acc / sum;
            }
            lse[i * s->heads + h] = (mx + log2(sum)) * M_LN2;
        }
    free(p);
}

static void check_shape(int64_t nq, int64_t nk, int heads, int D, int pad, float qk_mag) {
    const int64_t width = (int64_t)heads * D;
    const dg_attn_shape s = {.nq = nq, .nk = nk, .heads = heads, .head_dim = D, .q_stride = width + pad,
                             .kv_stride = width + 2 * pad, .scale = 1.0f / sqrtf((float)D)};
    const size_t qn = (size_t)(nq * s.q_stride), kn = (size_t)(nk * s.kv_stride);
    float *q = malloc(qn * sizeof(float)), *o = malloc(qn * sizeof(float));
    float *k = malloc(kn * sizeof(float)), *v = malloc(kn * sizeof(float));
    float *lse = malloc((size_t)(nq * heads) * sizeof(float));
    double *ref = malloc((size_t)(nq * width) * sizeof(double)), *rlse = malloc((size_t)(nq * heads) * sizeof(double));
    if (!q || !o || !k || !v || !lse || !ref || !rlse) {
        CHECK(0, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < nq * s.q_stride; i++) q[i] = qk_mag * rnd(), o[i] = 12345.0f;
    double vmax = 0;
    for (int64_t i = 0; i < nk * s.kv_stride; i++) k[i] = qk_mag * rnd(), v[i] = rnd(), vmax = fmax(vmax, fabs(v[i]));
    CHECK_OK(dg_attention_dense_bf16_cpu(o, q, k, v, &s, lse, heads));
    reference(ref, rlse, q, k, v, &s);
    double e = 0, el = 0;
    int pad_ok = 1;
    for (int64_t i = 0; i < nq; i++) {
        for (int64_t c = 0; c < s.q_stride; c++) {
            const float a = o[i * s.q_stride + c];
            if (c >= width) pad_ok &= a == 12345.0f;
            else e = fmax(e, fabs(a - ref[i * width + c]));
        }
        for (int h = 0; h < heads; h++) {
            const double r = rlse[i * heads + h];
            el = fmax(el, fabs(lse[i * heads + h] - r) / (1e-4 + 1e-5 * fabs(r)));
        }
    }
    const double bound = ldexp(vmax, -8);
    printf("  nq %4lld nk %4lld heads %d d %3d pad %d mag %4.1f: max err %.2e (bound %.2e), lse %.2f of bound\n",
           (long long)nq, (long long)nk, heads, D, pad, qk_mag, e, bound, el);
    CHECK(e <= bound, "nq %lld nk %lld d %d: max err %g > %g", (long long)nq, (long long)nk, D, e, bound);
    CHECK(el <= 1.0, "nq %lld nk %lld d %d: lse off by %g of its bound", (long long)nq, (long long)nk, D, el);
    CHECK(pad_ok, "nq %lld nk %lld d %d: stride padding written", (long long)nq, (long long)nk, D);
done:
    free(q), free(o), free(k), free(v), free(lse), free(ref), free(rlse);
}

int main(void) {
    if (!dg_attention_bf16_cpu_supported()) {
        float x = 0;
        const dg_attn_shape s = {.nq = 1, .nk = 1, .heads = 1, .head_dim = 1, .q_stride = 1, .kv_stride = 1,
                                 .scale = 1.0f};
        CHECK(dg_attention_dense_bf16_cpu(&x, &x, &x, &x, &s, NULL, 0) == DG_ERR &&
                  strstr(dg_last_error(), "AVX512-BF16"),
              "a build without the kernel did not refuse: %s", dg_last_error());
        if (test_failures) return TEST_END();
        TEST_SKIP("this build has no AVX512-BF16 attention kernel");
    }
    check_shape(1, 1, 1, 1, 0, 1.0f);
    check_shape(1, 1, 1, 128, 0, 1.0f);
    check_shape(5, 3, 2, 5, 1, 1.0f);       /* odd head dim and key count */
    check_shape(64, 128, 2, 64, 0, 1.0f);   /* exactly one tile each way */
    check_shape(65, 129, 3, 128, 3, 1.0f);  /* one past each */
    check_shape(300, 257, 2, 127, 0, 1.0f); /* odd head dim past the micro-kernel's rows */
    check_shape(257, 512, 2, 128, 0, 1.0f); /* Wan's cross-attention key count */
    check_shape(100, 700, 1, 64, 2, 3.0f);  /* large logits: probabilities far below the row maximum */
    check_shape(600, 300, 4, 16, 0, 1.0f);  /* several work items per head */
    return TEST_END();
}
