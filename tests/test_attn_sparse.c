/* Block-sparse engine and the tile / neighborhood methods.
 * - Engine with every block listed == dense kernel (bit for bit with 128-key
 *   blocks and no permutation; 1e-6 relative otherwise).
 * - Every method on several geometries (sizes not dividing tiles, T = 1
 *   images, text first / after / none) == a masked double-precision reference
 *   built from the method's allow(), tolerance 1e-5 * max|ref|; the layout's
 *   allowed-pair count == the predicate's.
 * - The spec's worked examples (§3.2(g), §4(g)) and tile-fraction formula
 *   (§3.1) on allow(); refusals of bad parameters and geometries. */
#include <stdint.h>
#include <string.h>

#include "attention/method.h"
#include "attention/separable.h"
#include "core/cpu/ops_cpu.h"
#include "core/error.h"
#include "tests/test.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static float rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1 << 23) - 1.0);
}

static float *random_buf(int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    if (p)
        for (int64_t i = 0; i < n; i++) p[i] = rnd();
    return p;
}

typedef int (*pred_fn)(const void *ctx, int64_t i, int64_t j);

/* softmax over allowed keys in double; rows with none -> 0. */
static void masked_reference(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                             pred_fn allow, const void *ctx) {
    const int64_t n = s->nq, D = s->head_dim;
    double *row = malloc((size_t)n * sizeof(double)), *acc = malloc((size_t)D * sizeof(double));
    for (int h = 0; h < s->heads; h++)
        for (int64_t i = 0; i < n; i++) {
            double mx = -INFINITY;
            for (int64_t j = 0; j < n; j++) {
                row[j] = -INFINITY;
                if (!allow(ctx, i, j)) continue;
                double dot = 0;
                for (int64_t c = 0; c < D; c++) dot += (double)q[i * s->q_stride + h * D + c] * k[j * s->kv_stride + h * D + c];
                row[j] = dot * s->scale;
                if (row[j] > mx) mx = row[j];
            }
            double sum = 0;
            for (int64_t c = 0; c < D; c++) acc[c] = 0;
            for (int64_t j = 0; j < n; j++) {
                if (row[j] == -INFINITY) continue;
                double p = exp(row[j] - mx);
                sum += p;
                for (int64_t c = 0; c < D; c++) acc[c] += p * v[j * s->kv_stride + h * D + c];
            }
            for (int64_t c = 0; c < D; c++) o[i * s->q_stride + h * D + c] = sum > 0 ? (float)(acc[c] / sum) : 0.0f;
        }
    free(row), free(acc);
}

static int allow_all(const void *ctx, int64_t i, int64_t j) { return 1; }

/* Pseudo-random mask with some rows fully masked (i % 7 == 3). */
static int allow_random(const void *ctx, int64_t i, int64_t j) {
    if (i % 7 == 3) return 0;
    uint64_t x = (uint64_t)(i * 1000003 + j) * 0x9E3779B97F4A7C15ull;
    return (x >> 60) < 5 || j == i;
}

/* Band |i - j| < 40 with rows i % 97 == 5 empty: in raster order a listed
 * block is seen by some 64-query sub-blocks through part of its keys only,
 * by others not at all. */
static int allow_band(const void *ctx, int64_t i, int64_t j) {
    return i % 97 != 5 && (i - j < 40 && j - i < 40);
}

static int32_t *random_perm(int64_t n) {
    int32_t *p = malloc((size_t)n * sizeof(int32_t));
    for (int64_t i = 0; i < n; i++) p[i] = (int32_t)i;
    for (int64_t i = n - 1; i > 0; i--) {
        rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
        int64_t j = (int64_t)((rng_state >> 33) % (uint64_t)(i + 1));
        int32_t t = p[i];
        p[i] = p[j], p[j] = t;
    }
    return p;
}

static double rel_err(const float *a, const float *b, int64_t n) {
    double e, r;
    test_max_err(a, b, (size_t)n, &e, &r);
    return r > 0 ? e / r : e;
}

static void check_engine_dense(int64_t n, int heads, int D, int bq, int bk, int use_perm) {
    const int64_t width = (int64_t)heads * D;
    dg_attn_shape s = {.nq = n, .nk = n, .heads = heads, .head_dim = D, .q_stride = width, .kv_stride = width,
                       .scale = 1.0f / sqrtf((float)D)};
    float *q = random_buf(n * width), *k = random_buf(n * width), *v = random_buf(n * width);
    float *o = malloc((size_t)(n * width) * sizeof(float)), *d = malloc((size_t)(n * width) * sizeof(float));
    int32_t *perm = use_perm ? random_perm(n) : NULL;
    dg_block_layout l;
    CHECK_OK(dg_block_layout_from_predicate(&l, n, bq, bk, perm, allow_all, NULL));
    CHECK(l.allowed_pairs == n * n, "allowed pairs %lld", (long long)l.allowed_pairs);
    CHECK_OK(dg_attention_sparse_cpu(o, q, k, v, &s, &l, NULL, 0));
    CHECK_OK(dg_attention_dense_cpu(d, q, k, v, &s, NULL, NULL, 0));
    if (bk == 128 && !use_perm)
        CHECK(!memcmp(o, d, (size_t)(n * width) * sizeof(float)), "n=%lld bq=%d: not bit-identical to dense",
              (long long)n, bq);
    double e = rel_err(o, d, n * width);
    CHECK(e <= 1e-6, "n=%lld bq=%d bk=%d perm=%d: rel err vs dense %.3g", (long long)n, bq, bk, use_perm, e);
    printf("engine all-blocks n=%-4lld D=%-3d bq=%d bk=%-3d perm=%d: rel err vs dense %.2e\n", (long long)n, D, bq, bk,
           use_perm, e);
    dg_block_layout_free(&l);
    free(q), free(k), free(v), free(o), free(d), free(perm);
}

static void check_engine_masked(int64_t n, int D, int bq, int bk, int (*allow)(const void *, int64_t, int64_t),
                                int use_perm, int64_t empty_row) {
    const int heads = 2;
    const int64_t width = (int64_t)heads * D;
    dg_attn_shape s = {.nq = n, .nk = n, .heads = heads, .head_dim = D, .q_stride = width, .kv_stride = width,
                       .scale = 1.0f / sqrtf((float)D)};
    float *q = random_buf(n * width), *k = random_buf(n * width), *v = random_buf(n * width);
    float *o = malloc((size_t)(n * width) * sizeof(float)), *r = malloc((size_t)(n * width) * sizeof(float));
    int32_t *perm = use_perm ? random_perm(n) : NULL;
    dg_block_layout l;
    CHECK_OK(dg_block_layout_from_predicate(&l, n, bq, bk, perm, allow, NULL));
    CHECK_OK(dg_attention_sparse_cpu(o, q, k, v, &s, &l, NULL, 0));
    masked_reference(r, q, k, v, &s, allow, NULL);
    double e = rel_err(o, r, n * width);
    CHECK(e <= 1e-5, "random mask n=%lld: rel err %.3g", (long long)n, e);
    int zero_ok = 1;
    for (int64_t c = 0; c < width; c++) zero_ok &= o[empty_row * width + c] == 0.0f;
    CHECK(zero_ok, "a row without keys must be 0");
    printf("engine %s mask n=%-4lld bq=%d bk=%-3d density %.3f: rel err %.2e\n", allow == allow_band ? "band" : "random",
           (long long)n, bq, bk, dg_block_layout_density(&l), e);
    dg_block_layout_free(&l);
    free(q), free(k), free(v), free(o), free(r), free(perm);
}

/* Method allow() as an engine predicate. */
static int method_pred(const void *ctx, int64_t i, int64_t j) {
    const dg_attn_method *m = ctx;
    return m->ops->allow(m, i, j);
}

static dg_attn_method *make(const char *name, const char *json) {
    dg_attn_params p = {0};
    dg_attn_method *m = NULL;
    if (json) CHECK_OK(dg_attn_params_parse(&p, json, "test"));
    CHECK_OK(dg_attn_method_create(&m, name, json ? &p : NULL, "test"));
    dg_attn_params_free(&p);
    return m;
}

static dg_backend cpu;

static void check_method(const char *name, const char *json, dg_attn_geometry g) {
    dg_attn_method *m = make(name, json);
    if (!m) return;
    g.heads = 2, g.head_dim = 12;
    CHECK_OK(dg_attn_method_prepare(m, &g, &cpu));
    const int64_t n = dg_attn_geometry_tokens(&g), width = (int64_t)g.heads * g.head_dim, shape[2] = {n, width};
    dg_attn_shape s = {.nq = n, .nk = n, .heads = g.heads, .head_dim = g.head_dim, .q_stride = width,
                       .kv_stride = width, .scale = 1.0f / sqrtf((float)g.head_dim)};
    float *q = random_buf(n * width), *k = random_buf(n * width), *v = random_buf(n * width);
    float *o = malloc((size_t)(n * width) * sizeof(float)), *r = malloc((size_t)(n * width) * sizeof(float));
    /* through the method interface and the CPU backend's attention op, as a model runs it */
    dg_tensor tq, tk, tv, to;
    CHECK_OK(dg_tensor_view(&tq, &cpu, DG_F32, 2, shape, q) || dg_tensor_view(&tk, &cpu, DG_F32, 2, shape, k) ||
             dg_tensor_view(&tv, &cpu, DG_F32, 2, shape, v) || dg_tensor_view(&to, &cpu, DG_F32, 2, shape, o));
    CHECK_OK(dg_attn_method_run(m, &to, &tq, &tk, &tv, g.heads, NULL));
    masked_reference(r, q, k, v, &s, method_pred, m);
    int64_t pairs = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) pairs += m->ops->allow(m, i, j);
    const double e = rel_err(o, r, n * width), dens = m->ops->density(m);
    CHECK(e <= 1e-5, "%s %s %dx%dx%d text %d%s: rel err %.3g", name, json, g.T, g.H, g.W, g.text_tokens,
          g.text_first ? " first" : "", e);
    CHECK(fabs(dens - (double)pairs / ((double)n * n)) < 1e-12, "%s %s: density %.6f, predicate %.6f", name, json,
          dens, (double)pairs / ((double)n * n));
    printf("%-9s %-58s %2dx%2dx%2d text %2d%-6s density %.3f rel err %.2e\n", name, json ? json : "{}", g.T, g.H, g.W,
           g.text_tokens, g.text_first ? " first" : "", dens, e);
    dg_attn_method_free(m);
    free(q), free(k), free(v), free(o), free(r);
}

/* Keys (raster indices of a T x H x W video, no text) allowed for query
 * (t, h, w), as a sorted list compared with want[]. */
static void check_keys(const char *name, const char *json, int T, int H, int W, int t, int h, int w, const int *want,
                       int nwant) {
    dg_attn_method *m = make(name, json);
    if (!m) return;
    dg_attn_geometry g = {.T = T, .H = H, .W = W, .heads = 1, .head_dim = 4};
    CHECK_OK(m->ops->prepare(m, &g));
    int got[1024], ng = 0;
    const int64_t i = ((int64_t)t * H + h) * W + w;
    for (int64_t j = 0; j < (int64_t)T * H * W && ng < 1024; j++)
        if (m->ops->allow(m, i, j)) got[ng++] = (int)j;
    int same = ng == nwant;
    for (int x = 0; x < ng && same; x++) same = got[x] == want[x];
    CHECK(same, "%s %s query (%d,%d,%d): %d keys, expected %d", name, json, t, h, w, ng, nwant);
    dg_attn_method_free(m);
}

/* Expand a box of (t, h, w) ranges into sorted raster indices. */
static int box(int H, int W, int t0, int t1, int h0, int h1, int w0, int w1, int step, int *out) {
    int c = 0;
    for (int t = t0; t <= t1; t++)
        for (int h = h0; h <= h1; h += step)
            for (int w = w0; w <= w1; w += step) out[c++] = (t * H + h) * W + w;
    return c;
}

static void check_sta_examples(void) {
    int k[256], c;
    /* §3.2(g): 2x4x4, tile (1,2,2), query (0,1,1) in tile (0,0,0). */
    c = box(4, 4, 0, 0, 0, 1, 0, 1, 1, k);
    check_keys("sta", "{\"tile\":[1,2,2],\"window\":[1,1,1]}", 2, 4, 4, 0, 1, 1, k, c);
    c = box(4, 4, 0, 0, 0, 3, 0, 3, 1, k); /* window wider than the axis: clamp bounds cross */
    check_keys("sta", "{\"tile\":[1,2,2],\"window\":[1,3,3]}", 2, 4, 4, 0, 1, 1, k, c);
    /* 2x8x8, tile (1,2,2) -> grid (2,4,4), window (1,3,3). */
    c = box(8, 8, 0, 0, 0, 5, 0, 5, 1, k);
    CHECK(c == 36, "box");
    check_keys("sta", "{\"tile\":[1,2,2],\"window\":[1,3,3]}", 2, 8, 8, 0, 1, 1, k, c);
    c = box(8, 8, 0, 0, 2, 7, 2, 7, 1, k);
    check_keys("sta", "{\"tile\":[1,2,2],\"window\":[1,3,3]}", 2, 8, 8, 0, 7, 7, k, c);
    check_keys("sta", "{\"tile\":[1,2,2],\"window\":[1,3,3]}", 2, 8, 8, 0, 5, 5, k, c);
}

static void check_natten_examples(void) {
    int k[256], c;
    const char *na233 = "{\"kernel_size\":[2,3,3]}";
    /* §4(g), 2x4x4. */
    c = box(4, 4, 0, 1, 0, 2, 0, 2, 1, k);
    check_keys("natten", na233, 2, 4, 4, 0, 1, 1, k, c);
    check_keys("natten", na233, 2, 4, 4, 0, 0, 0, k, c);
    c = box(4, 4, 0, 1, 1, 3, 1, 3, 1, k);
    check_keys("natten", na233, 2, 4, 4, 1, 3, 3, k, c);
    c = box(4, 4, 0, 1, 0, 1, 0, 1, 1, k);
    check_keys("natten", "{\"kernel_size\":[2,2,2]}", 2, 4, 4, 0, 1, 1, k, c);
    c = box(4, 4, 0, 1, 1, 2, 1, 2, 1, k);
    check_keys("natten", "{\"kernel_size\":[2,2,2]}", 2, 4, 4, 0, 2, 2, k, c);
    const char *gna = "{\"kernel_size\":[2,3,3],\"stride\":[1,2,2]}";
    c = box(4, 4, 0, 1, 0, 2, 0, 2, 1, k);
    check_keys("natten", gna, 2, 4, 4, 0, 1, 1, k, c);
    c = box(4, 4, 0, 1, 1, 3, 1, 3, 1, k);
    check_keys("natten", gna, 2, 4, 4, 0, 2, 2, k, c);
    check_keys("natten", gna, 2, 4, 4, 0, 3, 3, k, c);
    const char *blk = "{\"kernel_size\":[2,2,2],\"stride\":[2,2,2]}";
    c = box(4, 4, 0, 1, 0, 1, 0, 1, 1, k);
    check_keys("natten", blk, 2, 4, 4, 0, 1, 1, k, c);
    c = box(4, 4, 0, 1, 2, 3, 2, 3, 1, k);
    check_keys("natten", blk, 2, 4, 4, 0, 2, 3, k, c);
    c = box(4, 4, 0, 1, 1, 3, 1, 3, 2, k);
    check_keys("natten", "{\"kernel_size\":[2,2,2],\"dilation\":[1,2,2]}", 2, 4, 4, 0, 1, 1, k, c);
    const char *causal = "{\"kernel_size\":[2,3,3],\"causal\":[true,false,false]}";
    c = box(4, 4, 0, 0, 0, 2, 0, 2, 1, k);
    CHECK(c == 9, "box");
    check_keys("natten", causal, 2, 4, 4, 0, 1, 1, k, c);
    c = box(4, 4, 0, 1, 0, 2, 0, 2, 1, k);
    check_keys("natten", causal, 2, 4, 4, 1, 1, 1, k, c);

    /* 1-D reference table (§4(g)): a 1x1xn "video". */
    static const struct {
        const char *json;
        int n, q, keys[3];
    } one_d[] = {
        {"{\"kernel_size\":[3]}", 8, 0, {0, 1, 2}},
        {"{\"kernel_size\":[3]}", 8, 2, {1, 2, 3}},
        {"{\"kernel_size\":[3]}", 8, 7, {5, 6, 7}},
        {"{\"kernel_size\":[3],\"stride\":[2]}", 8, 1, {0, 1, 2}},
        {"{\"kernel_size\":[3],\"stride\":[2]}", 8, 3, {2, 3, 4}},
        {"{\"kernel_size\":[3],\"stride\":[2]}", 8, 5, {4, 5, 6}},
        {"{\"kernel_size\":[3],\"stride\":[2]}", 8, 6, {5, 6, 7}},
        {"{\"kernel_size\":[3],\"stride\":[3]}", 8, 2, {0, 1, 2}},
        {"{\"kernel_size\":[3],\"stride\":[3]}", 8, 5, {3, 4, 5}},
        {"{\"kernel_size\":[3],\"stride\":[3]}", 8, 6, {5, 6, 7}},
        {"{\"kernel_size\":[3],\"causal\":[true]}", 8, 3, {1, 2, 3}},
        {"{\"kernel_size\":[3],\"dilation\":[3]}", 10, 0, {0, 3, 6}},
        {"{\"kernel_size\":[3],\"dilation\":[3]}", 10, 7, {1, 4, 7}},
        {"{\"kernel_size\":[3],\"dilation\":[3]}", 10, 9, {3, 6, 9}},
    };
    for (size_t x = 0; x < sizeof one_d / sizeof one_d[0]; x++)
        check_keys("natten", one_d[x].json, 1, 1, one_d[x].n, 0, 0, one_d[x].q, one_d[x].keys, 3);
    int c0[] = {0}, c1[] = {0, 1}, w4a[] = {0, 1, 2, 3}, w4b[] = {1, 2, 3, 4}, w4c[] = {4, 5, 6, 7};
    check_keys("natten", "{\"kernel_size\":[3],\"causal\":[true]}", 1, 1, 8, 0, 0, 0, c0, 1);
    check_keys("natten", "{\"kernel_size\":[3],\"causal\":[true]}", 1, 1, 8, 0, 0, 1, c1, 2);
    check_keys("natten", "{\"kernel_size\":[4]}", 1, 1, 8, 0, 0, 2, w4a, 4);
    check_keys("natten", "{\"kernel_size\":[4]}", 1, 1, 8, 0, 0, 3, w4b, 4);
    check_keys("natten", "{\"kernel_size\":[4]}", 1, 1, 8, 0, 0, 7, w4c, 4);
}

/* §3.1: kept tile fraction [kT + (T-k)(k+1)] / T^2 (frames whole tiles). */
static void check_vdit_density(void) {
    static const int cases[][2] = {{8, 4}, {8, 3}, {8, 2}, {8, 1}, {24, 6}};
    for (size_t x = 0; x < sizeof cases / sizeof cases[0]; x++) {
        const int T = cases[x][0], kf = cases[x][1];
        char json[64];
        snprintf(json, sizeof json, "{\"global_frames\":%d}", kf);
        dg_attn_method *m = make("vdit_tile", json);
        if (!m) continue;
        dg_attn_geometry g = {.T = T, .H = 3, .W = 5, .heads = 1, .head_dim = 8};
        CHECK_OK(m->ops->prepare(m, &g));
        const double want = (double)(kf * T + (T - kf) * (kf + 1)) / ((double)T * T);
        CHECK(fabs(m->ops->density(m) - want) < 1e-12, "vdit T=%d k=%d: density %.6f want %.6f", T, kf,
              m->ops->density(m), want);
        dg_attn_method_free(m);
    }
}

/* §3.2(b) Wan full window (3,6,10) tiles on 18x48x80 covers everything;
 * window (3,3,3) at tile (6,8,8): 27 of 180 tiles per query tile = 15 %. */
static void check_sta_density(void) {
    dg_attn_method *m = make("sta", "{\"window\":[3,3,3]}");
    if (!m) return;
    dg_attn_geometry g = {.T = 18, .H = 48, .W = 80, .heads = 1, .head_dim = 8};
    CHECK_OK(m->ops->prepare(m, &g));
    CHECK(fabs(m->ops->density(m) - 27.0 / 180.0) < 1e-12, "sta (3,3,3) on Wan: density %.6f", m->ops->density(m));
    printf("sta window (3,3,3) on 18x48x80: density %.4f, %lld of %lld blocks listed\n", m->ops->density(m),
           (long long)m->layout.row_start[m->layout.n_qblocks], (long long)(m->layout.n_qblocks * m->layout.n_kblocks));
    dg_attn_method_free(m);
    m = make("sta", "{\"window\":[3,6,10]}");
    if (!m) return;
    CHECK_OK(m->ops->prepare(m, &g));
    CHECK(m->ops->density(m) == 1.0, "full window: density %.6f", m->ops->density(m));
    dg_attn_method_free(m);
}

static void check_perm_roundtrip(void) {
    dg_attn_geometry g = {.T = 3, .H = 5, .W = 7, .text_tokens = 4, .text_first = 1};
    int tile[3] = {2, 2, 3};
    int32_t *perm = NULL;
    CHECK_OK(dg_attn_tile_perm(&g, tile, &perm));
    if (!perm) return;
    const int64_t n = dg_attn_geometry_tokens(&g);
    int32_t *inv = malloc((size_t)n * sizeof(int32_t));
    for (int64_t i = 0; i < n; i++) inv[i] = -1;
    int ok = 1;
    for (int64_t p = 0; p < n; p++) {
        ok &= perm[p] >= 0 && perm[p] < n && inv[perm[p]] < 0;
        if (ok) inv[perm[p]] = (int32_t)p;
    }
    CHECK(ok, "tile perm is not a permutation");
    CHECK(perm[0] == 0 && perm[3] == 3, "text stays first");
    /* first tile: t 0..1, h 0..1, w 0..2 in raster order */
    CHECK(perm[4] == 4 + 0 && perm[5] == 4 + 1 && perm[6] == 4 + 2 && perm[7] == 4 + 7, "tile-major order");
    free(perm), free(inv);
    /* §1(c) example: 2x4x4 with tiles (1,2,2). */
    static const int32_t want[32] = {0,  1,  4,  5,  2,  3,  6,  7,  8,  9,  12, 13, 10, 11, 14, 15,
                                     16, 17, 20, 21, 18, 19, 22, 23, 24, 25, 28, 29, 26, 27, 30, 31};
    dg_attn_geometry g2 = {.T = 2, .H = 4, .W = 4};
    int tile2[3] = {1, 2, 2};
    CHECK_OK(dg_attn_tile_perm(&g2, tile2, &perm));
    if (perm) CHECK(!memcmp(perm, want, sizeof want), "spec 1(c) permutation");
    free(perm);
}

static void check_refused(const char *name, const char *json, const dg_attn_geometry *g, const char *want) {
    dg_attn_params p = {0};
    dg_attn_method *m = NULL;
    int rc = json ? dg_attn_params_parse(&p, json, "plan.json: method: params") : DG_OK;
    if (rc == DG_OK) rc = dg_attn_method_create(&m, name, json ? &p : NULL, "plan.json: method");
    if (rc == DG_OK && g) rc = m->ops->prepare(m, g);
    CHECK(rc == DG_ERR && strstr(dg_last_error(), want), "%s %s: expected error with '%s', got '%s'", name, json,
          want, rc == DG_ERR ? dg_last_error() : "success");
    dg_attn_method_free(m);
    dg_attn_params_free(&p);
}

int main(void) {
    if (dg_backend_cpu_init(&cpu, 0) != DG_OK) return 1;
    /* Engine vs dense with every block listed. */
    check_engine_dense(300, 2, 64, 64, 128, 0);
    check_engine_dense(513, 1, 128, 128, 128, 0);
    check_engine_dense(200, 3, 20, 256, 128, 0);
    check_engine_dense(257, 2, 33, 64, 64, 0);
    check_engine_dense(190, 2, 16, 192, 128, 1);
    check_engine_dense(130, 1, 8, 64, 37, 1);
    /* Enough query blocks that a work item groups several (64- and 128-query blocks). */
    check_engine_dense(2100, 2, 16, 64, 128, 0);
    check_engine_dense(2100, 2, 16, 128, 128, 0);
    /* Engine with element masks and empty rows. */
    check_engine_masked(333, 16, 64, 128, allow_random, 1, 3);
    check_engine_masked(200, 8, 128, 50, allow_random, 1, 3);
    check_engine_masked(2100, 16, 64, 128, allow_band, 0, 5);
    check_engine_masked(2100, 16, 128, 128, allow_band, 0, 5);
    check_engine_masked(2100, 16, 64, 100, allow_random, 1, 3);

    /* Methods vs masked reference. */
    const dg_attn_geometry geoms[] = {
        {.T = 3, .H = 5, .W = 7},
        {.T = 3, .H = 5, .W = 7, .text_tokens = 9, .text_first = 1},
        {.T = 3, .H = 5, .W = 7, .text_tokens = 9},
        {.T = 1, .H = 9, .W = 11, .text_tokens = 5, .text_first = 1},
        {.T = 5, .H = 6, .W = 8},
    };
    for (size_t x = 0; x < sizeof geoms / sizeof geoms[0]; x++) {
        dg_attn_geometry g = geoms[x];
        check_method("sta", "{\"tile\":[2,2,3],\"window\":[1,3,1],\"partial_tiles\":true}", g);
        check_method("sta", "{\"tile\":[1,4,4],\"window\":[3,1,3],\"partial_tiles\":true}", g);
        check_method("natten", "{\"kernel_size\":[3,3]}", (dg_attn_geometry){.T = 1, .H = g.H, .W = g.W,
                                                                               .text_tokens = g.text_tokens,
                                                                               .text_first = g.text_first});
        check_method("natten", "{\"kernel_size\":[2,3,4],\"tile\":[1,2,4]}", g);
        check_method("natten", "{\"kernel_size\":[3,3,3],\"stride\":[1,2,3],\"dilation\":[1,1,2]}", g);
        check_method("natten", "{\"kernel_size\":[2,4,3],\"causal\":[true,false,true]}", g);
        check_method("vdit_tile", "{\"global_frames\":1}", g);
        check_method("dense", NULL, g);
    }
    check_method("sta", "{\"tile\":[1,2,2],\"window\":[1,3,3]}", (dg_attn_geometry){.T = 2, .H = 8, .W = 8});
    check_method("sta", NULL, (dg_attn_geometry){.T = 6, .H = 16, .W = 16});

    check_sta_examples();
    check_natten_examples();
    check_vdit_density();
    check_sta_density();
    check_perm_roundtrip();

    const dg_attn_geometry g357 = {.T = 3, .H = 5, .W = 7, .heads = 1, .head_dim = 8};
    check_refused("sta", NULL, &g357, "does not divide");
    check_refused("sta", "{\"window\":[0,3,3]}", NULL, "'window'[0]");
    check_refused("sta", "{\"tile\":[0,8,8]}", NULL, "'tile'[0]");
    check_refused("sta", "{\"tiles\":[1,8,8]}", NULL, "unknown parameter 'tiles'");
    check_refused("sta", "{\"partial_tiles\":1}", NULL, "partial_tiles");
    check_refused("natten", "{}", NULL, "'kernel_size' is required");
    check_refused("natten", "{\"kernel_size\":[1,3,3]}", NULL, "'kernel_size'[0]");
    check_refused("natten", "{\"kernel_size\":[3,3,3],\"stride\":[1,4,1]}", NULL, "must not exceed");
    check_refused("natten", "{\"kernel_size\":[2,3,3],\"dilation\":[1,2,1]}", &g357, "exceeds the axis length");
    check_refused("natten", "{\"kernel_size\":[3,3]}", &g357, "no entry for axis t");
    check_refused("natten", "{\"kernel_size\":[2,3,65536],\"dilation\":[1,1,65536]}", &g357, "= 4294967296 exceeds");
    check_refused("natten", "{\"kernel_size\":[3],\"causal\":[1]}", NULL, "'causal'[0]");
    check_refused("vdit_tile", "{\"global_frames\":4}", &g357, "global_frames");
    check_refused("vdit_tile", "{\"global_frames\":-1}", NULL, "global_frames");
    check_refused("dense", "{\"x\":1}", NULL, "unknown parameter 'x'");
    check_refused("nosuch", NULL, NULL, "unknown attention method 'nosuch'");
    dg_backend_free(&cpu);
    return TEST_END();
}
