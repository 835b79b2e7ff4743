/* Every CUDA backend op against its CPU twin (ggml test-backend-ops style):
 * the same random inputs through dg_* on both backends, compared by
 * normalised mean squared error NMSE = sum (gpu-cpu)^2 / sum cpu^2, over
 * several shapes including odd and 1-sized ones. Thresholds per op:
 *   - copies (patchify, unpatchify, cache_push, channels_to_frames,
 *     copy_box, clamp, fill): exact (NMSE 0);
 *   - elementwise, norms, rope, f32 linear, conv3d, spatial attention:
 *     1e-10 (float rounding and summation order only: ~1e-7 relative, NMSE
 *     ~1e-14); blend_edge 1e-12 (nvcc may fuse its multiply-add);
 *   - bf16-weight linear: 1e-4 (x rounded to bf16: 2^-9 relative per term,
 *     NMSE ~1e-6); f16-weight linear: 1e-5 (2^-12, NMSE ~1e-7).
 *   - text-encoder ops: mul, relu, gather_rows exact; attention_pos_bias
 *     1e-9 (GEMM summation order moves scores by ~1e-7 relative, which exp
 *     carries into the weights).
 * Plus: an unknown device index is refused.
 * Without a CUDA build or device: "skipped: no CUDA device", exit 77. */
#include <float.h>
#include <string.h>

#include "core/backend.h"
#include "core/error.h"
#include "core/ops.h"
#include "tests/test.h"

#ifdef DG_HAVE_CUDA
#include <cuda_runtime_api.h>

static dg_backend cpu, gpu;
static uint64_t rng_state = 0x853C49E6748FEA9Bull;

/* Uniform in [-1, 1). */
static float rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1 << 23) - 1.0);
}

/* A pair of tensors with the same random contents (scaled by mag), one per backend. */
typedef struct {
    dg_tensor c, g;
} pair;

static pair pair_new(dg_dtype dt, int ndim, const int64_t *shape, float mag) {
    pair p;
    memset(&p, 0, sizeof p);
    CHECK_OK(dg_tensor_alloc(&p.c, &cpu, dt, ndim, shape));
    CHECK_OK(dg_tensor_alloc(&p.g, &gpu, dt, ndim, shape));
    size_t n = (size_t)dg_tensor_numel(&p.c);
    float *h = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = mag * rnd();
    if (dt == DG_F32) {
        CHECK_OK(dg_tensor_upload(&p.c, h));
        CHECK_OK(dg_tensor_upload(&p.g, h));
    } else {
        void *c = malloc((n ? n : 1) * 2);
        dg_convert_from_f32(c, dt, h, n);
        CHECK_OK(dg_tensor_upload(&p.c, c));
        CHECK_OK(dg_tensor_upload(&p.g, c));
        free(c);
    }
    free(h);
    return p;
}

static void pair_free(pair *p) {
    dg_tensor_free(&p->c);
    dg_tensor_free(&p->g);
}

/* Download the GPU side and compare with the CPU side. */
static void check_pair(const char *op, const pair *p, double max_nmse) {
    size_t n = (size_t)dg_tensor_numel(&p->c);
    float *got = malloc((n ? n : 1) * sizeof(float));
    CHECK_OK(dg_tensor_download(&p->g, got));
    const float *ref = p->c.data;
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    double nmse = den > 0 ? num / den : num;
    char shape[96];
    dg_shape_str(&p->c, shape, sizeof shape);
    int ok = nmse <= max_nmse; /* NaN fails */
    printf("  %-22s %-18s NMSE = %.3e (max %.0e) %s\n", op, shape, nmse, max_nmse, ok ? "OK" : "FAIL");
    CHECK(ok, "%s %s: NMSE %g > %g", op, shape, nmse, max_nmse);
    free(got);
}

static void test_rowwise(int64_t rows, int64_t C) {
    int64_t s[2] = {rows, C};
    pair x = pair_new(DG_F32, 2, s, 3.0f), y = pair_new(DG_F32, 2, s, 1.0f), b = pair_new(DG_F32, 2, s, 1.0f);
    pair gamma = pair_new(DG_F32, 1, &C, 1.0f), beta = pair_new(DG_F32, 1, &C, 1.0f);
    pair g16 = pair_new(DG_BF16, 1, &C, 1.0f);
    pair shift = pair_new(DG_F32, 1, &C, 1.0f), scale = pair_new(DG_F32, 1, &C, 1.0f);
    /* each op on both backends, output compared */
#define BOTH(call_c, call_g) \
    do {                     \
        CHECK_OK(call_c);    \
        CHECK_OK(call_g);    \
    } while (0)
    BOTH(dg_layernorm(&y.c, &x.c, NULL, NULL, 1e-6f), dg_layernorm(&y.g, &x.g, NULL, NULL, 1e-6f));
    check_pair("layernorm", &y, 1e-10);
    BOTH(dg_layernorm(&y.c, &x.c, &gamma.c, &beta.c, 1e-6f), dg_layernorm(&y.g, &x.g, &gamma.g, &beta.g, 1e-6f));
    check_pair("layernorm affine", &y, 1e-10);
    BOTH(dg_rmsnorm(&y.c, &x.c, NULL, 1e-6f), dg_rmsnorm(&y.g, &x.g, NULL, 1e-6f));
    check_pair("rmsnorm", &y, 1e-10);
    BOTH(dg_rmsnorm(&y.c, &x.c, &gamma.c, 1e-6f), dg_rmsnorm(&y.g, &x.g, &gamma.g, 1e-6f));
    check_pair("rmsnorm affine", &y, 1e-10);
    BOTH(dg_rmsnorm(&y.c, &x.c, &g16.c, 1e-6f), dg_rmsnorm(&y.g, &x.g, &g16.g, 1e-6f));
    check_pair("rmsnorm bf16 gamma", &y, 1e-10);
    BOTH(dg_gelu_tanh(&y.c, &x.c), dg_gelu_tanh(&y.g, &x.g));
    check_pair("gelu_tanh", &y, 1e-10);
    BOTH(dg_silu(&y.c, &x.c), dg_silu(&y.g, &x.g));
    check_pair("silu", &y, 1e-10);
    BOTH(dg_add(&y.c, &x.c, &b.c), dg_add(&y.g, &x.g, &b.g));
    check_pair("add", &y, 1e-10);
    BOTH(dg_modulate(&y.c, &x.c, shift.c.data, scale.c.data), dg_modulate(&y.g, &x.g, shift.g.data, scale.g.data));
    check_pair("modulate", &y, 1e-10);
    BOTH(dg_gated_add(&y.c, &x.c, scale.c.data), dg_gated_add(&y.g, &x.g, scale.g.data));
    check_pair("gated_add", &y, 1e-10);
    BOTH(dg_gated_add(&y.c, &x.c, NULL), dg_gated_add(&y.g, &x.g, NULL));
    check_pair("gated_add no gate", &y, 1e-10);
    /* in place, as the models use them */
    BOTH(dg_silu(&x.c, &x.c), dg_silu(&x.g, &x.g));
    check_pair("silu in place", &x, 1e-10);
    BOTH(dg_modulate(&x.c, &x.c, shift.c.data, scale.c.data), dg_modulate(&x.g, &x.g, shift.g.data, scale.g.data));
    check_pair("modulate in place", &x, 1e-10);
#undef BOTH
    pair *all[] = {&x, &y, &b, &gamma, &beta, &g16, &shift, &scale};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) pair_free(all[i]);
}

static void test_linear(int64_t M, int64_t K, int64_t N, dg_dtype wt, int bias, double max_nmse) {
    int64_t xs[2] = {M, K}, ws[2] = {N, K}, ys[2] = {M, N};
    pair x = pair_new(DG_F32, 2, xs, 1.0f), w = pair_new(wt, 2, ws, 0.1f), y = pair_new(DG_F32, 2, ys, 1.0f);
    pair b = pair_new(DG_F32, 1, &N, 1.0f);
    CHECK_OK(dg_linear(&y.c, &x.c, &w.c, bias ? &b.c : NULL));
    CHECK_OK(dg_linear(&y.g, &x.g, &w.g, bias ? &b.g : NULL));
    char what[48];
    snprintf(what, sizeof what, "linear %s%s", dg_dtype_name(wt), bias ? "+bias" : "");
    check_pair(what, &y, max_nmse);
    pair_free(&x), pair_free(&w), pair_free(&y), pair_free(&b);
}

static void test_rope(int64_t N, int64_t H, int64_t d) {
    int64_t xs[3] = {N, H, d}, ts[2] = {N, d};
    pair x = pair_new(DG_F32, 3, xs, 1.0f), c = pair_new(DG_F32, 2, ts, 1.0f), s = pair_new(DG_F32, 2, ts, 1.0f);
    CHECK_OK(dg_rope(&x.c, &c.c, &s.c));
    CHECK_OK(dg_rope(&x.g, &c.g, &s.g));
    check_pair("rope", &x, 1e-10);
    pair_free(&x), pair_free(&c), pair_free(&s);
}

static void test_patch(int64_t C, int64_t F, int64_t H, int64_t W, const int p[3]) {
    int64_t vs[4] = {C, F, H, W}, ts[2] = {(F / p[0]) * (H / p[1]) * (W / p[2]), C * p[0] * p[1] * p[2]};
    pair vol = pair_new(DG_F32, 4, vs, 1.0f), tok = pair_new(DG_F32, 2, ts, 1.0f);
    CHECK_OK(dg_patchify(&tok.c, &vol.c, p));
    CHECK_OK(dg_patchify(&tok.g, &vol.g, p));
    check_pair("patchify", &tok, 0.0);
    /* unpatchify reads tokens C-fastest: a different map, so feed fresh tokens */
    pair tok2 = pair_new(DG_F32, 2, ts, 1.0f);
    CHECK_OK(dg_unpatchify(&vol.c, &tok2.c, p));
    CHECK_OK(dg_unpatchify(&vol.g, &tok2.g, p));
    check_pair("unpatchify", &vol, 0.0);
    pair_free(&vol), pair_free(&tok), pair_free(&tok2);
}

/* Video VAE ops: a conv with its cache (kt 3), the 2x upsampling read, residual accumulation, pointwise. */
static void test_conv3d(int64_t cin, int64_t cout, int64_t kt, int64_t k, int64_t T, int64_t H, int64_t W, int up,
                        int acc) {
    const int64_t Ho = up ? 2 * H : H, Wo = up ? 2 * W : W;
    int64_t xs[4] = {cin, T, H, W}, ys[4] = {cout, T, Ho, Wo}, cs[4] = {cin, kt - 1, H, W};
    int64_t ws[5] = {cout, cin, kt, k, k};
    pair x = pair_new(DG_F32, 4, xs, 1.0f), y = pair_new(DG_F32, 4, ys, 1.0f), w = pair_new(DG_F32, 5, ws, 0.1f);
    pair b = pair_new(DG_F32, 1, &cout, 1.0f), c = pair_new(DG_F32, 4, cs, 1.0f);
    CHECK_OK(dg_conv3d(&y.c, &x.c, kt > 1 ? &c.c : NULL, &w.c, &b.c, up, acc));
    CHECK_OK(dg_conv3d(&y.g, &x.g, kt > 1 ? &c.g : NULL, &w.g, &b.g, up, acc));
    char what[48];
    snprintf(what, sizeof what, "conv3d %lldx%lldx%lld%s%s", (long long)kt, (long long)k, (long long)k, up ? " up" : "",
             acc ? " acc" : "");
    check_pair(what, &y, 1e-10);
    if (kt > 1) { /* the cache after this chunk */
        CHECK_OK(dg_cache_push(&c.c, &x.c));
        CHECK_OK(dg_cache_push(&c.g, &x.g));
        check_pair("cache_push", &c, 0.0);
    }
    pair_free(&x), pair_free(&y), pair_free(&w), pair_free(&b), pair_free(&c);
}

static void test_video(int64_t C, int64_t T, int64_t H, int64_t W) {
    int64_t s[4] = {C, T, H, W}, qs[4] = {3 * C, T, H, W}, fs[4] = {C / 2, 2 * T, H, W};
    pair x = pair_new(DG_F32, 4, s, 3.0f), y = pair_new(DG_F32, 4, s, 1.0f), g = pair_new(DG_F32, 1, &C, 1.0f);
    pair qkv = pair_new(DG_F32, 4, qs, 2.0f), f = pair_new(DG_F32, 4, fs, 1.0f);
    CHECK_OK(dg_channel_rmsnorm(&y.c, &x.c, &g.c, 1));
    CHECK_OK(dg_channel_rmsnorm(&y.g, &x.g, &g.g, 1));
    check_pair("channel_rmsnorm silu", &y, 1e-10);
    CHECK_OK(dg_channel_rmsnorm(&x.c, &x.c, &g.c, 0));
    CHECK_OK(dg_channel_rmsnorm(&x.g, &x.g, &g.g, 0));
    check_pair("channel_rmsnorm in place", &x, 1e-10);
    CHECK_OK(dg_spatial_attention(&y.c, &qkv.c));
    CHECK_OK(dg_spatial_attention(&y.g, &qkv.g));
    check_pair("spatial_attention", &y, 1e-10);
    if (C % 2 == 0) {
        CHECK_OK(dg_channels_to_frames(&f.c, &x.c));
        CHECK_OK(dg_channels_to_frames(&f.g, &x.g));
        check_pair("channels_to_frames", &f, 0.0);
    }
    /* a box of y into qkv's second third */
    const int64_t dat[4] = {C, 0, H / 2, 1}, sat[4] = {0, T - 1, 0, 0}, size[4] = {C, 1, H - H / 2, W - 1};
    CHECK_OK(dg_copy_box(&qkv.c, dat, &y.c, sat, size));
    CHECK_OK(dg_copy_box(&qkv.g, dat, &y.g, sat, size));
    check_pair("copy_box", &qkv, 0.0);
    CHECK_OK(dg_blend_edge(&x.c, &y.c, 2, H / 2));
    CHECK_OK(dg_blend_edge(&x.g, &y.g, 2, H / 2));
    check_pair("blend_edge H", &x, 1e-12);
    CHECK_OK(dg_blend_edge(&x.c, &y.c, 3, W));
    CHECK_OK(dg_blend_edge(&x.g, &y.g, 3, W));
    check_pair("blend_edge W", &x, 1e-12);
    CHECK_OK(dg_clamp(&x.c, &x.c, -0.5f, 0.5f));
    CHECK_OK(dg_clamp(&x.g, &x.g, -0.5f, 0.5f));
    check_pair("clamp", &x, 0.0);
    CHECK_OK(dg_fill(&x.c, 0.75f));
    CHECK_OK(dg_fill(&x.g, 0.75f));
    check_pair("fill", &x, 0.0);
    pair_free(&x), pair_free(&y), pair_free(&g), pair_free(&qkv), pair_free(&f);
}

/* ---- text-encoder ops ---- */

static void test_text_elementwise(int64_t rows, int64_t C) {
    int64_t s[2] = {rows, C};
    pair a = pair_new(DG_F32, 2, s, 3.0f), b = pair_new(DG_F32, 2, s, 3.0f), y = pair_new(DG_F32, 2, s, 1.0f);
    CHECK_OK(dg_mul(&y.c, &a.c, &b.c));
    CHECK_OK(dg_mul(&y.g, &a.g, &b.g));
    check_pair("mul", &y, 0.0);
    CHECK_OK(dg_relu(&a.c, &a.c));
    CHECK_OK(dg_relu(&a.g, &a.g));
    check_pair("relu in place", &a, 0.0);
    pair_free(&a), pair_free(&b), pair_free(&y);
}

static void test_gather_rows(dg_dtype dt, int64_t n_table, int64_t C, int64_t n_rows) {
    int64_t ts[2] = {n_table, C}, ys[2] = {n_rows, C};
    pair table = pair_new(dt, 2, ts, 2.0f), y = pair_new(DG_F32, 2, ys, 1.0f);
    int32_t *rows = malloc((size_t)n_rows * sizeof *rows);
    for (int64_t r = 0; r < n_rows; r++) rows[r] = (int32_t)((r * 7 + 3) % n_table);
    CHECK_OK(dg_gather_rows(&y.c, &table.c, rows));
    CHECK_OK(dg_gather_rows(&y.g, &table.g, rows));
    check_pair(dt == DG_F32 ? "gather_rows f32" : "gather_rows bf16", &y, 0.0);
    free(rows);
    pair_free(&table), pair_free(&y);
}

/* masked: every third key gets -FLT_MAX, as a padded T5 prompt. */
static void test_attention_pos_bias(int64_t nq, int64_t nk, int heads, int d, int masked, float scale) {
    int64_t qs[2] = {nq, (int64_t)heads * d}, ks[2] = {nk, (int64_t)heads * d}, ps[2] = {nq + nk - 1, heads};
    pair q = pair_new(DG_F32, 2, qs, 1.0f), k = pair_new(DG_F32, 2, ks, 1.0f), v = pair_new(DG_F32, 2, ks, 1.0f);
    pair o = pair_new(DG_F32, 2, qs, 1.0f), pos = pair_new(DG_F32, 2, ps, 2.0f), key = pair_new(DG_F32, 1, &nk, 1.0f);
    float *kb = malloc((size_t)nk * sizeof *kb);
    for (int64_t j = 0; j < nk; j++) kb[j] = masked && j % 3 == 1 ? -FLT_MAX : 0.0f;
    CHECK_OK(dg_tensor_upload(&key.c, kb));
    CHECK_OK(dg_tensor_upload(&key.g, kb));
    CHECK_OK(dg_attention_pos_bias(&o.c, &q.c, &k.c, &v.c, &pos.c, masked ? &key.c : NULL, heads, scale));
    CHECK_OK(dg_attention_pos_bias(&o.g, &q.g, &k.g, &v.g, &pos.g, masked ? &key.g : NULL, heads, scale));
    check_pair(masked ? "attn_pos_bias masked" : "attn_pos_bias", &o, 1e-9);
    CHECK_OK(dg_attention_pos_bias(&o.c, &q.c, &k.c, &v.c, NULL, NULL, heads, scale));
    CHECK_OK(dg_attention_pos_bias(&o.g, &q.g, &k.g, &v.g, NULL, NULL, heads, scale));
    check_pair("attn no bias", &o, 1e-9);
    free(kb);
    pair_free(&q), pair_free(&k), pair_free(&v), pair_free(&o), pair_free(&pos), pair_free(&key);
}

int main(void) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) TEST_SKIP("no CUDA device");
    CHECK_OK(dg_backend_cpu_init(&cpu, 2));
    CHECK_OK(dg_backend_cuda_init(&gpu, 0));
    if (test_failures) return TEST_END();

    const int64_t rowwise[][2] = {{1, 1}, {1, 7}, {7, 33}, {33, 255}, {5, 1000}, {3, 5120}, {257, 64}};
    for (size_t i = 0; i < sizeof rowwise / sizeof *rowwise; i++) test_rowwise(rowwise[i][0], rowwise[i][1]);

    /* M, K, N */
    const int64_t lin[][3] = {{1, 1, 1}, {1, 16, 6}, {7, 33, 17}, {65, 256, 130}, {300, 1536, 96}};
    for (size_t i = 0; i < sizeof lin / sizeof *lin; i++) {
        test_linear(lin[i][0], lin[i][1], lin[i][2], DG_F32, 1, 1e-10);
        test_linear(lin[i][0], lin[i][1], lin[i][2], DG_F32, 0, 1e-10);
        test_linear(lin[i][0], lin[i][1], lin[i][2], DG_BF16, 1, 1e-4);
        test_linear(lin[i][0], lin[i][1], lin[i][2], DG_F16, 1, 1e-5);
    }

    test_rope(1, 1, 2);
    test_rope(15, 3, 12);
    test_rope(37, 12, 128);

    const int p122[3] = {1, 2, 2}, p213[3] = {2, 1, 3};
    test_patch(16, 3, 6, 10, p122);
    test_patch(3, 4, 5, 9, p213);
    test_patch(1, 1, 2, 2, p122);

    /* cin, cout, kt, k, T, H, W, up, acc */
    test_conv3d(5, 7, 3, 3, 1, 6, 70, 0, 0);
    test_conv3d(4, 6, 3, 3, 3, 5, 9, 0, 1);
    test_conv3d(6, 13, 1, 3, 2, 4, 25, 1, 0);
    test_conv3d(8, 11, 1, 1, 2, 3, 17, 0, 1);
    test_conv3d(6, 12, 3, 1, 2, 3, 9, 0, 0);
    test_conv3d(3, 5, 3, 3, 1, 1, 1, 0, 0);
    test_video(8, 2, 5, 7);
    test_video(3, 1, 1, 1);
    test_video(16, 1, 40, 52); /* N = 2080 positions */
    /* text-encoder ops */
    test_text_elementwise(1, 1);
    test_text_elementwise(33, 1000);
    test_gather_rows(DG_F32, 32, 64, 1023);
    test_gather_rows(DG_BF16, 11, 7, 5);
    test_attention_pos_bias(1, 1, 1, 1, 0, 1.0f);
    test_attention_pos_bias(37, 37, 2, 64, 1, 1.0f);
    test_attention_pos_bias(7, 19, 3, 5, 1, 0.3f);
    test_attention_pos_bias(21, 6, 4, 17, 0, 1.0f);
    test_attention_pos_bias(300, 300, 8, 64, 1, 1.0f);

    /* a device that does not exist */
    dg_backend bad;
    CHECK(dg_backend_cuda_init(&bad, count) != 0 && strstr(dg_last_error(), "does not exist"),
          "device %d accepted: %s", count, dg_last_error());

    dg_backend_free(&gpu);
    dg_backend_free(&cpu);
    return TEST_END();
}
#else
int main(void) {
    (void)test_failures;
    TEST_SKIP("no CUDA device (built without CUDA)");
}
#endif
