/* The block-sparse engine in bf16 (AVX512-BF16):
 * - every block listed, block_k 128, no permutation: bit for bit the dense bf16 kernel;
 * - every block listed with permutations and other block sizes (odd ones: a key pair straddles
 *   the pad column), and element masks with empty rows and key ranges that start at odd keys:
 *   against a double-precision masked reference on the same bf16-rounded inputs (q * scale *
 *   log2(e), k, v); the kernel also rounds the probabilities (2^-9 relative each, row sums f32),
 *   so |o - ref| <= 2^-9 max|v| + f32 noise, checked at 2^-8 max|v|; rows without keys are 0.
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

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t next(void) { return rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull; }

static float *random_buf(int64_t n) { /* uniform in [-1, 1) */
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; p && i < n; i++) p[i] = (float)((double)(next() >> 40) / (double)(1 << 23) - 1.0);
    return p;
}

static int32_t *random_perm(int64_t n) {
    int32_t *p = malloc((size_t)n * sizeof(int32_t));
    for (int64_t i = 0; p && i < n; i++) p[i] = (int32_t)i;
    for (int64_t i = n - 1; p && i > 0; i--) {
        const int64_t j = (int64_t)((next() >> 33) % (uint64_t)(i + 1));
        const int32_t t = p[i];
        p[i] = p[j], p[j] = t;
    }
    return p;
}

typedef int (*pred_fn)(const void *ctx, int64_t i, int64_t j);

static int allow_all(const void *ctx, int64_t i, int64_t j) { return (void)ctx, (void)i, (void)j, 1; }

/* pseudo-random, rows i % 7 == 3 empty */
static int allow_random(const void *ctx, int64_t i, int64_t j) {
    (void)ctx;
    if (i % 7 == 3) return 0;
    const uint64_t x = (uint64_t)(i * 1000003 + j) * 0x9E3779B97F4A7C15ull;
    return (x >> 60) < 5 || j == i;
}

/* band i - 39 <= j <= i + 40, rows i % 97 == 5 empty: a 64-query sub-block's live keys start at
 * 64 b - 39, an odd key */
static int allow_band(const void *ctx, int64_t i, int64_t j) {
    (void)ctx;
    return i % 97 != 5 && i - j < 40 && j - i < 41;
}

static double bf(float x) { return dg_bf16_to_f32(dg_f32_to_bf16(x)); }

static void masked_reference(double *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                             pred_fn allow) {
    const int64_t n = s->nq, D = s->head_dim;
    const float qscale = (float)((double)s->scale * LOG2E);
    double *p = malloc((size_t)n * sizeof(double));
    if (!p) return;
    for (int h = 0; h < s->heads; h++)
        for (int64_t i = 0; i < n; i++) {
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < n; j++) {
                p[j] = -INFINITY;
                if (!allow(NULL, i, j)) continue;
                double dot = 0;
                for (int64_t c = 0; c < D; c++)
                    dot += bf(q[i * s->q_stride + h * D + c] * qscale) * bf(k[j * s->kv_stride + h * D + c]);
                p[j] = dot, mx = fmax(mx, dot);
            }
            for (int64_t j = 0; j < n; j++) sum += p[j] = p[j] == -INFINITY ? 0 : exp2(p[j] - mx);
            for (int64_t c = 0; c < D; c++) {
                double acc = 0;
                for (int64_t j = 0; j < n; j++) acc += p[j] * bf(v[j * s->kv_stride + h * D + c]);
                o[(i * s->heads + h) * D + c] = sum > 0 ? acc / sum : 0;
            }
        }
    free(p);
}

static void check(int64_t n, int heads, int D, int bq, int bk, int use_perm, pred_fn allow, const char *what) {
    const int64_t width = (int64_t)heads * D;
    const dg_attn_shape s = {.nq = n, .nk = n, .heads = heads, .head_dim = D, .q_stride = width,
                             .kv_stride = width, .scale = 1.0f / sqrtf((float)D)};
    float *q = random_buf(n * width), *k = random_buf(n * width), *v = random_buf(n * width);
    float *o = malloc((size_t)(n * width) * sizeof(float)), *d = malloc((size_t)(n * width) * sizeof(float));
    double *ref = malloc((size_t)(n * width) * sizeof(double));
    int32_t *perm = use_perm ? random_perm(n) : NULL;
    dg_block_layout l;
    if (!q || !k || !v || !o || !d || !ref || (use_perm && !perm) ||
        dg_block_layout_from_predicate(&l, n, bq, bk, perm, allow, NULL) != DG_OK) {
        CHECK(0, "%s: setup failed: %s", what, dg_last_error());
        goto done;
    }
    CHECK_OK(dg_attention_sparse_bf16_cpu(o, q, k, v, &s, &l, NULL, 0));
    if (allow == allow_all && bk == 128 && !use_perm) {
        CHECK_OK(dg_attention_dense_bf16_cpu(d, q, k, v, &s, NULL, 0));
        CHECK(!memcmp(o, d, (size_t)(n * width) * sizeof(float)), "%s n=%lld bq=%d: not bit-identical to dense bf16",
              what, (long long)n, bq);
    }
    masked_reference(ref, q, k, v, &s, allow);
    double e = 0, vmax = 0;
    for (int64_t i = 0; i < n * width; i++) e = fmax(e, fabs(o[i] - ref[i])), vmax = fmax(vmax, fabs(v[i]));
    const double bound = ldexp(vmax, -8);
    int empty_ok = 1;
    for (int64_t i = 0; i < n; i++) {
        int any = 0;
        for (int64_t j = 0; j < n && !any; j++) any = allow(NULL, i, j);
        for (int64_t c = 0; !any && c < width; c++) empty_ok &= o[i * width + c] == 0.0f;
    }
    printf("  %-6s n %4lld heads %d D %3d bq %3d bk %3d perm %d density %.3f: max err %.2e (bound %.2e)\n", what,
           (long long)n, heads, D, bq, bk, use_perm, dg_block_layout_density(&l), e, bound);
    CHECK(e <= bound, "%s n=%lld D=%d bq=%d bk=%d: max err %g > %g", what, (long long)n, D, bq, bk, e, bound);
    CHECK(empty_ok, "%s n=%lld: a row without keys is not 0", what, (long long)n);
    dg_block_layout_free(&l);
done:
    free(q), free(k), free(v), free(o), free(d), free(ref), free(perm);
}

int main(void) {
    if (!dg_attention_bf16_cpu_supported()) {
        float x = 0;
        dg_block_layout l;
        const dg_attn_shape s = {.nq = 1, .nk = 1, .heads = 1, .head_dim = 1, .q_stride = 1, .kv_stride = 1,
                                 .scale = 1.0f};
        CHECK_OK(dg_block_layout_from_predicate(&l, 1, 64, 128, NULL, allow_all, NULL));
        CHECK(dg_attention_sparse_bf16_cpu(&x, &x, &x, &x, &s, &l, NULL, 0) == DG_ERR &&
                  strstr(dg_last_error(), "AVX512-BF16"),
              "a build without the kernel did not refuse: %s", dg_last_error());
        dg_block_layout_free(&l);
        if (test_failures) return TEST_END();
        TEST_SKIP("this build has no AVX512-BF16 attention kernel");
    }
    check(300, 2, 64, 64, 128, 0, allow_all, "all");
    check(513, 1, 128, 128, 128, 0, allow_all, "all");
    check(200, 3, 21, 256, 128, 0, allow_all, "all"); /* odd head dim */
    check(2100, 2, 16, 64, 128, 0, allow_all, "all"); /* several query blocks per work item */
    check(257, 2, 33, 64, 64, 0, allow_all, "all");
    check(190, 2, 16, 192, 128, 1, allow_all, "all");
    check(130, 1, 8, 64, 37, 1, allow_all, "all"); /* odd block_k */
    check(333, 2, 16, 64, 128, 1, allow_random, "random");
    check(200, 2, 8, 128, 51, 1, allow_random, "random");
    check(2100, 2, 16, 64, 128, 0, allow_band, "band");
    check(2100, 2, 16, 128, 100, 0, allow_band, "band");
    return TEST_END();
}
