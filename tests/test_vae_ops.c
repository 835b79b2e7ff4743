/* The video VAE ops other than the convolution (test_vae_conv) on the CPU
 * backend against slow, obvious references: the channel RMS norm with and
 * without SiLU (in place too), the per-frame spatial attention (one and
 * several query blocks), the feature-cache push (T >= and < the cache
 * length), the channel->frame shuffle, box copies, edge blending along H and
 * W, clamp and fill; and the wrappers refusing bad shapes with a message
 * naming the tensor. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/error.h"
#include "core/ops.h"
#include "tests/test.h"

static dg_backend be;

static float hashf(uint64_t i, uint64_t seed) {
    uint64_t z = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 31)) * 0x94D049BB133111EBull;
    return (float)((z >> 40) & 0xFFFF) / 65536.0f - 0.5f;
}

/* A CPU tensor of random values in [-mag/2, mag/2) (freed by dg_tensor_free). */
static dg_tensor rnd(const char *name, int ndim, const int64_t *shape, uint64_t seed, float mag) {
    dg_tensor t;
    CHECK_OK(dg_tensor_alloc(&t, &be, DG_F32, ndim, shape));
    float *p = t.data;
    for (int64_t i = 0; i < dg_tensor_numel(&t); i++) p[i] = mag * hashf((uint64_t)i, seed);
    t.name = name;
    return t;
}

static void expect_close(const char *what, const float *got, const float *ref, size_t n, double tol) {
    double err, mag;
    test_max_err(got, ref, n, &err, &mag);
    CHECK(err <= tol * (mag > 1 ? mag : 1), "%s: max err %.3g (max |ref| %.3g)", what, err, mag);
    printf("%-40s max err %.2e\n", what, err);
}

static void test_norm(int64_t C, int64_t T, int64_t H, int64_t W, int silu) {
    int64_t s[4] = {C, T, H, W};
    dg_tensor x = rnd("x", 4, s, 1, 4.0f), y = rnd("y", 4, s, 2, 1.0f), g = rnd("gamma", 1, &C, 3, 2.0f);
    const int64_t P = T * H * W;
    float *ref = malloc((size_t)(C * P) * sizeof(float));
    const float *xd = x.data, *gd = g.data;
    for (int64_t p = 0; p < P; p++) {
        double ss = 0;
        for (int64_t c = 0; c < C; c++) ss += (double)xd[c * P + p] * xd[c * P + p];
        const double norm = fmax(sqrt(ss), 1e-12);
        for (int64_t c = 0; c < C; c++) {
            double v = xd[c * P + p] / norm * sqrt((double)C) * gd[c];
            ref[c * P + p] = (float)(silu ? v / (1.0 + exp(-v)) : v);
        }
    }
    char what[80];
    snprintf(what, sizeof what, "channel_rmsnorm C%lld P%lld%s", (long long)C, (long long)P, silu ? " silu" : "");
    CHECK_OK(dg_channel_rmsnorm(&y, &x, &g, silu));
    expect_close(what, y.data, ref, (size_t)(C * P), 1e-5);
    CHECK_OK(dg_channel_rmsnorm(&x, &x, &g, silu));
    strcat(what, " in place");
    expect_close(what, x.data, ref, (size_t)(C * P), 1e-5);
    free(ref);
    dg_tensor_free(&x), dg_tensor_free(&y), dg_tensor_free(&g);
}

static void test_attention(int64_t C, int64_t T, int64_t H, int64_t W) {
    int64_t qs[4] = {3 * C, T, H, W}, os[4] = {C, T, H, W};
    dg_tensor qkv = rnd("qkv", 4, qs, 4, 4.0f), out = rnd("out", 4, os, 5, 1.0f);
    const int64_t N = H * W, ld = T * N;
    const float *q = qkv.data, *k = q + C * ld, *v = k + C * ld;
    float *ref = malloc((size_t)(C * ld) * sizeof(float));
    double *s = malloc((size_t)N * sizeof(double));
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < N; i++) {
            double m = -INFINITY, sum = 0;
            for (int64_t j = 0; j < N; j++) {
                double d = 0;
                for (int64_t c = 0; c < C; c++) d += (double)q[c * ld + t * N + i] * k[c * ld + t * N + j];
                s[j] = d / sqrt((double)C);
                m = fmax(m, s[j]);
            }
            for (int64_t j = 0; j < N; j++) sum += (s[j] = exp(s[j] - m));
            for (int64_t c = 0; c < C; c++) {
                double o = 0;
                for (int64_t j = 0; j < N; j++) o += s[j] / sum * v[c * ld + t * N + j];
                ref[c * ld + t * N + i] = (float)o;
            }
        }
    char what[80];
    snprintf(what, sizeof what, "spatial_attention C%lld T%lld %lldx%lld", (long long)C, (long long)T, (long long)H,
             (long long)W);
    CHECK_OK(dg_spatial_attention(&out, &qkv));
    expect_close(what, out.data, ref, (size_t)(C * ld), 1e-5);
    free(ref), free(s);
    dg_tensor_free(&qkv), dg_tensor_free(&out);
}

static void test_cache_push(int64_t C, int64_t nc, int64_t T, int64_t HW) {
    int64_t cs[4] = {C, nc, 1, HW}, xs[4] = {C, T, 1, HW};
    dg_tensor cache = rnd("cache", 4, cs, 6, 1.0f), x = rnd("x", 4, xs, 7, 1.0f);
    float *ref = malloc((size_t)(C * nc * HW) * sizeof(float));
    const float *cd = cache.data, *xd = x.data;
    /* the last nc frames of [cache, x] */
    for (int64_t c = 0; c < C; c++)
        for (int64_t j = 0; j < nc; j++)
            for (int64_t p = 0; p < HW; p++) {
                const int64_t f = T + j;
                ref[(c * nc + j) * HW + p] = f < nc ? cd[(c * nc + f) * HW + p] : xd[(c * T + f - nc) * HW + p];
            }
    char what[80];
    snprintf(what, sizeof what, "cache_push %lld frames + %lld", (long long)nc, (long long)T);
    CHECK_OK(dg_cache_push(&cache, &x));
    expect_close(what, cache.data, ref, (size_t)(C * nc * HW), 0);
    free(ref);
    dg_tensor_free(&cache), dg_tensor_free(&x);
}

static void test_channels_to_frames(int64_t C, int64_t g, int64_t T, int64_t H, int64_t W) {
    int64_t xs[4] = {g * C, T, H, W}, ys[4] = {C, g * T, H, W};
    dg_tensor x = rnd("x", 4, xs, 8, 1.0f), y = rnd("y", 4, ys, 9, 1.0f);
    const int64_t HW = H * W;
    float *ref = malloc((size_t)(C * g * T * HW) * sizeof(float));
    const float *xd = x.data;
    for (int64_t c = 0; c < C; c++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < g; i++)
                for (int64_t p = 0; p < HW; p++)
                    ref[(c * g * T + g * t + i) * HW + p] = xd[((i * C + c) * T + t) * HW + p];
    CHECK_OK(dg_channels_to_frames(&y, &x));
    expect_close("channels_to_frames", y.data, ref, (size_t)(C * g * T * HW), 0);
    free(ref);
    dg_tensor_free(&x), dg_tensor_free(&y);
}

static void test_copy_box(void) {
    int64_t ds[4] = {3, 5, 7, 9}, ss[4] = {4, 2, 6, 11};
    const int64_t dat[4] = {1, 2, 3, 1}, sat[4] = {0, 1, 2, 4}, size[4] = {2, 1, 4, 6};
    dg_tensor d = rnd("dst", 4, ds, 10, 1.0f), s = rnd("src", 4, ss, 11, 1.0f);
    const size_t n = (size_t)dg_tensor_numel(&d);
    float *ref = malloc(n * sizeof(float));
    memcpy(ref, d.data, n * sizeof(float));
    const float *sd = s.data;
    for (int64_t a = 0; a < size[0]; a++)
        for (int64_t b = 0; b < size[1]; b++)
            for (int64_t c = 0; c < size[2]; c++)
                for (int64_t e = 0; e < size[3]; e++)
                    ref[(((dat[0] + a) * ds[1] + dat[1] + b) * ds[2] + dat[2] + c) * ds[3] + dat[3] + e] =
                        sd[(((sat[0] + a) * ss[1] + sat[1] + b) * ss[2] + sat[2] + c) * ss[3] + sat[3] + e];
    CHECK_OK(dg_copy_box(&d, dat, &s, sat, size));
    expect_close("copy_box", d.data, ref, n, 0);
    const int64_t big[4] = {2, 1, 5, 6};
    CHECK(dg_copy_box(&d, dat, &s, sat, big) != 0 && strstr(dg_last_error(), "src"),
          "box leaving src accepted: %s", dg_last_error());
    free(ref);
    dg_tensor_free(&d), dg_tensor_free(&s);
}

/* y's first n entries along axis (2 or 3) cross-faded from a's last n. */
static void test_blend(int axis, int64_t n) {
    int64_t ys[4] = {3, 2, 6, 7}, as[4] = {3, 2, 6, 7};
    as[axis] = n + 2;
    dg_tensor y = rnd("tile", 4, ys, 12, 1.0f), a = rnd("strip", 4, as, 13, 1.0f);
    const size_t ny = (size_t)dg_tensor_numel(&y);
    float *ref = malloc(ny * sizeof(float));
    const float *yd = y.data, *ad = a.data;
    for (int64_t p = 0; p < 6; p++)
        for (int64_t r = 0; r < 6; r++)
            for (int64_t c = 0; c < 7; c++) {
                const int64_t i = axis == 2 ? r : c, yi = (p * 6 + r) * 7 + c;
                const int64_t ai =
                    axis == 2 ? (p * as[2] + as[2] - n + r) * 7 + c : (p * 6 + r) * as[3] + as[3] - n + c;
                const float w = (float)((double)i / n);
                ref[yi] = i < n ? ad[ai] * (float)(1.0 - (double)i / n) + yd[yi] * w : yd[yi];
            }
    char what[48];
    snprintf(what, sizeof what, "blend_edge axis %d, %lld", axis, (long long)n);
    CHECK_OK(dg_blend_edge(&y, &a, axis, n));
    expect_close(what, y.data, ref, ny, 0);
    CHECK(dg_blend_edge(&y, &a, axis, n + 3) != 0 && strstr(dg_last_error(), "strip"), "blend past the strip accepted");
    free(ref);
    dg_tensor_free(&y), dg_tensor_free(&a);
}

static void test_clamp_fill(void) {
    int64_t s[2] = {7, 1000};
    dg_tensor x = rnd("x", 2, s, 14, 4.0f), y = rnd("y", 2, s, 15, 1.0f);
    const size_t n = 7000;
    float *ref = malloc(n * sizeof(float));
    const float *xd = x.data;
    for (size_t i = 0; i < n; i++) ref[i] = xd[i] < -1 ? -1 : xd[i] > 1 ? 1 : xd[i];
    CHECK_OK(dg_clamp(&y, &x, -1.0f, 1.0f));
    expect_close("clamp", y.data, ref, n, 0);
    for (size_t i = 0; i < n; i++) ref[i] = 0.25f;
    CHECK_OK(dg_fill(&y, 0.25f));
    expect_close("fill", y.data, ref, n, 0);
    free(ref);
    dg_tensor_free(&x), dg_tensor_free(&y);
}

static void refusals(void) {
    int64_t s4[4] = {4, 2, 3, 3}, s3[4] = {3, 2, 3, 3}, c5 = 5;
    dg_tensor x = rnd("x", 4, s4, 16, 1.0f), y = rnd("y3", 4, s3, 17, 1.0f), g = rnd("norm1.gamma", 1, &c5, 18, 1.0f);
    dg_tensor x4 = rnd("x4", 4, s4, 19, 1.0f);
    CHECK(dg_channel_rmsnorm(&x4, &x, &g, 1) != 0 && strstr(dg_last_error(), "norm1.gamma"),
          "gamma of 5 on 4 channels accepted: %s", dg_last_error());
    CHECK(dg_spatial_attention(&y, &x) != 0 && strstr(dg_last_error(), "3C"), "qkv of 4 channels accepted: %s",
          dg_last_error());
    CHECK(dg_cache_push(&y, &x) != 0 && strstr(dg_last_error(), "cache"), "cache of 3 channels for 4 accepted: %s",
          dg_last_error());
    CHECK(dg_channels_to_frames(&y, &x) != 0 && strstr(dg_last_error(), "y3"), "4 channels in groups of 3 accepted: %s",
          dg_last_error());
    CHECK(dg_clamp(&y, &x, -1, 1) != 0 && strstr(dg_last_error(), "y3"), "clamp of another shape accepted: %s",
          dg_last_error());
    dg_tensor_free(&x), dg_tensor_free(&y), dg_tensor_free(&g), dg_tensor_free(&x4);
}

int main(void) {
    CHECK_OK(dg_backend_cpu_init(&be, 2));
    test_norm(7, 2, 5, 9, 1);
    test_norm(48, 1, 3, 100, 0); /* P = 300: a partial norm block */
    test_attention(8, 2, 3, 5);
    test_attention(4, 1, 64, 80); /* N = 5120: S blocks of 819 query rows */
    test_cache_push(3, 2, 1, 10);
    test_cache_push(3, 2, 4, 10);
    test_channels_to_frames(3, 2, 3, 2, 5);
    test_copy_box();
    test_blend(2, 3);
    test_blend(3, 4);
    test_blend(3, 0);
    test_clamp_fill();
    refusals();
    dg_backend_free(&be);
    return TEST_END();
}
