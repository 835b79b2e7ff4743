/* Dense flash attention vs the double-precision reference on shapes that hit
 * every tile edge (1 token, odd sizes, sizes just past a tile, cross-attention),
 * odd and large head dims, padded strides and large logits; plus refusals.
 * Tolerance: max|fast - ref| <= tol * max|ref|, tol = 1e-5 for unit-scale inputs
 * (float accumulation over head_dim and keys); 1e-4 when q and k are scaled
 * by 10 (logits ~ +-100, where a float dot product alone is off by ~1e-5). */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "attention/reference.h"
#include "core/cpu/ops_cpu.h"
#include "core/error.h"
#include "tests/test.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

/* Uniform in [-1, 1). */
static float rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1 << 23) - 1.0);
}

static float *random_buf(int64_t n, float mag) {
    float *p = malloc((size_t)n * sizeof(float));
    if (p)
        for (int64_t i = 0; i < n; i++) p[i] = mag * rnd();
    return p;
}

#define SENTINEL 12345.0f

/* Runs one shape; q_pad/kv_pad add unused floats per token; qk_mag scales q and k. */
static void check_shape(int64_t nq, int64_t nk, int heads, int head_dim, int q_pad, int kv_pad, float qk_mag, double tol) {
    const int64_t width = (int64_t)heads * head_dim;
    dg_attn_shape s = {.nq = nq, .nk = nk, .heads = heads, .head_dim = head_dim,
                       .q_stride = width + q_pad, .kv_stride = width + kv_pad, .scale = 1.0f / sqrtf((float)head_dim)};
    float *q = random_buf(nq * s.q_stride, qk_mag), *k = random_buf(nk * s.kv_stride, qk_mag);
    float *v = random_buf(nk * s.kv_stride, 1.0f);
    float *o = malloc((size_t)(nq * s.q_stride) * sizeof(float));
    float *ref = malloc((size_t)(nq * s.q_stride) * sizeof(float));
    if (!q || !k || !v || !o || !ref) {
        CHECK(0, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < nq * s.q_stride; i++) o[i] = ref[i] = SENTINEL;
    CHECK_OK(dg_attention_reference(ref, q, k, v, &s));
    CHECK_OK(dg_attention_dense_cpu(o, q, k, v, &s, NULL, NULL, 0));

    /* Error over the live columns; the stride padding must still hold the sentinel. */
    double e = 0, r = 0;
    int pad_ok = 1;
    for (int64_t i = 0; i < nq; i++) {
        for (int64_t c = 0; c < s.q_stride; c++) {
            float a = o[i * s.q_stride + c], b = ref[i * s.q_stride + c];
            if (c >= width) {
                pad_ok &= a == SENTINEL;
                continue;
            }
            double d = fabs((double)a - b);
            if (d > e || d != d) e = d;
            if (fabs(b) > r) r = fabs(b);
        }
    }
    CHECK(e <= tol * r, "nq=%lld nk=%lld heads=%d head_dim=%d: max err %.3g > %.1g * max|ref| %.3g", (long long)nq,
          (long long)nk, heads, head_dim, e, tol, r);
    CHECK(pad_ok, "nq=%lld nk=%lld heads=%d head_dim=%d: wrote into stride padding", (long long)nq, (long long)nk,
          heads, head_dim);
    printf("nq=%-4lld nk=%-4lld heads=%d head_dim=%-3d pad=%d/%d mag=%-3g rel err %.2e\n", (long long)nq, (long long)nk,
           heads, head_dim, q_pad, kv_pad, qk_mag, r > 0 ? e / r : e);
done:
    free(q), free(k), free(v), free(o), free(ref);
}

/* Each query's arithmetic does not depend on how queries are grouped into work
 * items, so 1 and N threads must agree bit for bit. */
static void check_thread_invariance(void) {
    dg_attn_shape s = {.nq = 1000, .nk = 300, .heads = 2, .head_dim = 64, .q_stride = 128, .kv_stride = 128,
                       .scale = 0.125f};
    float *q = random_buf(1000 * 128, 1.0f), *k = random_buf(300 * 128, 1.0f), *v = random_buf(300 * 128, 1.0f);
    float *o1 = malloc(1000 * 128 * sizeof(float)), *on = malloc(1000 * 128 * sizeof(float));
    if (q && k && v && o1 && on) {
        int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        CHECK_OK(dg_attention_dense_cpu(o1, q, k, v, &s, NULL, NULL, 0));
        omp_set_num_threads(threads > 1 ? threads : 2);
        CHECK_OK(dg_attention_dense_cpu(on, q, k, v, &s, NULL, NULL, 0));
        omp_set_num_threads(threads);
        CHECK(!memcmp(o1, on, 1000 * 128 * sizeof(float)), "1 and %d threads give different results", threads);
    } else {
        CHECK(0, "out of memory");
    }
    free(q), free(k), free(v), free(o1), free(on);
}

static void check_refused(const char *what, dg_attn_shape s) {
    float buf[64] = {0};
    dg_error_clear();
    CHECK(dg_attention_dense_cpu(buf, buf, buf, buf, &s, NULL, NULL, 0) == DG_ERR, "dense accepted %s", what);
    CHECK(strstr(dg_last_error(), "attention:") != NULL, "dense %s: message '%s'", what, dg_last_error());
    dg_error_clear();
    CHECK(dg_attention_reference(buf, buf, buf, buf, &s) == DG_ERR, "reference accepted %s", what);
    CHECK(strstr(dg_last_error(), "attention:") != NULL, "reference %s: message '%s'", what, dg_last_error());
}

int main(void) {
    /* nq, nk, heads, head_dim, q_pad, kv_pad, qk magnitude, tolerance */
    check_shape(1, 1, 1, 8, 0, 0, 1.0f, 1e-5);
    check_shape(1, 300, 1, 64, 0, 0, 1.0f, 1e-5);
    check_shape(37, 53, 2, 12, 3, 5, 1.0f, 1e-5);
    check_shape(33, 17, 3, 5, 1, 0, 1.0f, 1e-5);
    check_shape(9, 130, 2, 7, 0, 2, 1.0f, 1e-5);
    check_shape(129, 300, 3, 64, 0, 0, 1.0f, 1e-5);
    check_shape(64, 128, 1, 128, 0, 0, 1.0f, 1e-5);
    check_shape(65, 257, 2, 128, 16, 8, 1.0f, 1e-5);
    check_shape(200, 512, 2, 128, 0, 0, 1.0f, 1e-5); /* cross-attention: 512 text keys */
    check_shape(300, 77, 1, 96, 0, 0, 1.0f, 1e-5);
    check_shape(70, 150, 1, 256, 0, 0, 1.0f, 1e-5);
    check_shape(70, 90, 2, 64, 0, 0, 10.0f, 1e-4); /* logits ~ +-100: online max and exp underflow */
    check_shape(130, 260, 1, 128, 0, 0, 10.0f, 1e-4);

    /* With one thread the work items hold 4 query blocks (the last one partial here). */
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    check_shape(700, 200, 3, 64, 0, 0, 1.0f, 1e-5);
    omp_set_num_threads(threads);
    check_thread_invariance();

    dg_attn_shape ok = {.nq = 2, .nk = 2, .heads = 2, .head_dim = 4, .q_stride = 8, .kv_stride = 8, .scale = 0.5f};
    dg_attn_shape bad = ok;
    bad.heads = 0;
    check_refused("heads=0", bad);
    bad = ok, bad.head_dim = -1;
    check_refused("head_dim=-1", bad);
    bad = ok, bad.q_stride = 7;
    check_refused("q_stride < heads*head_dim", bad);
    bad = ok, bad.kv_stride = 4;
    check_refused("kv_stride < heads*head_dim", bad);
    bad = ok, bad.nq = 0;
    check_refused("nq=0", bad);
    bad = ok, bad.nk = -3;
    check_refused("nk=-3", bad);
    bad = ok, bad.scale = NAN;
    check_refused("scale=NaN", bad);
    float buf[16] = {0};
    CHECK(dg_attention_dense_cpu(buf, NULL, buf, buf, &ok, NULL, NULL, 0) == DG_ERR, "dense accepted a NULL q");
    CHECK(dg_attention_dense_cpu(buf, buf, buf, buf, NULL, NULL, NULL, 0) == DG_ERR, "dense accepted a NULL shape");
    return TEST_END();
}
