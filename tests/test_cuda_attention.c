/* CUDA attention against the CPU kernels, and the Wan transformer on the CUDA
 * backend against the diffusers fixtures.
 * - Dense flash (head dims 64, 128 and padded 12, 80; 1 token, odd lengths, lengths just past a
 *   64-tile, cross-attention nq != nk, padded strides, q/k scaled by 4) vs
 *   dg_attention_dense_cpu. NMSE <= 5e-4: the kernel rounds q, k, v and the
 *   probabilities to bf16; a numpy model of exactly that rounding gives
 *   NMSE 5e-6 (unit inputs) to 3e-5 (x4) on these shapes.
 * - Block-sparse vs dg_attention_sparse_cpu on layouts from
 *   dg_block_layout_from_predicate (random and banded predicates, rows with no
 *   key, a permutation, block_q 64/128/256, block_k 128/64/37): same bound;
 *   rows with no allowed key must be exactly 0 on both.
 * - Per-head perturbation vs dg_attn_perturb_heads: NMSE <= 1e-12, heads with
 *   u = 0 bit-identical.
 * - Refusals: head_dim 130 and 6, a stride not a multiple of 4.
 * - wan_tiny (f32 and bf16 checkpoints) forward on the CUDA backend vs the
 *   fixture outputs and taps: NMSE <= 1e-4 (bf16 attention and, for the bf16
 *   checkpoint, bf16 activations in the GEMMs; the CPU test's 1e-4 max-abs
 *   bound is for f32 arithmetic). Needs dit/wan.c to dispatch attention to
 *   dg_attention_dense_cuda on CUDA tensors.
 * Without a CUDA build or device: "skipped: no CUDA device", exit 77. */
#include <string.h>

#include "core/backend.h"
#include "core/error.h"
#include "tests/test.h"

#ifdef DG_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "attention/cuda/attention_cuda.h"
#include "attention/method.h"
#include "core/arena.h"
#include "attention/plan.h"
#include "dit/wan.h"
#include "tests/fixture.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

/* Uniform in [-1, 1). */
static float rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1 << 23) - 1.0);
}

static float *random_buf(int64_t n, float mag) {
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = mag * rnd();
    return p;
}

static float *to_device(const float *h, int64_t n) {
    float *d = NULL;
    CHECK(cudaMalloc((void **)&d, (size_t)n * sizeof(float)) == cudaSuccess, "cudaMalloc %lld floats", (long long)n);
    if (d) CHECK(cudaMemcpy(d, h, (size_t)n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess, "upload");
    return d;
}

/* Wait for the kernels, then copy n floats back (a fault surfaces here). */
static void from_device(float *h, const float *d, int64_t n) {
    cudaError_t e = cudaDeviceSynchronize();
    CHECK(e == cudaSuccess, "kernel failed: %s", cudaGetErrorString(e));
    e = cudaMemcpy(h, d, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost);
    CHECK(e == cudaSuccess, "download: %s", cudaGetErrorString(e));
}

static double nmse(const float *got, const float *ref, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)got[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? num / den : num;
}

static void report(const char *what, double e, double max) {
    int ok = e <= max; /* NaN fails */
    printf("  %-52s NMSE = %.3e (max %.0e) %s\n", what, e, max, ok ? "OK" : "FAIL");
    CHECK(ok, "%s: NMSE %g > %g", what, e, max);
}

/* Inputs for one shape on the host and the device. */
typedef struct {
    dg_attn_shape s;
    float *q, *k, *v, *dq, *dk, *dv, *dout;
} problem;

static problem problem_new(int64_t nq, int64_t nk, int heads, int hd, int pad, float qk_mag) {
    problem p;
    const int64_t width = (int64_t)heads * hd;
    dg_attn_shape s = {nq, nk, heads, hd, width + pad, width + pad, 1.0f / sqrtf((float)hd)};
    p.s = s;
    p.q = random_buf(nq * s.q_stride, qk_mag);
    p.k = random_buf(nk * s.kv_stride, qk_mag);
    p.v = random_buf(nk * s.kv_stride, 1.0f);
    p.dq = to_device(p.q, nq * s.q_stride);
    p.dk = to_device(p.k, nk * s.kv_stride);
    p.dv = to_device(p.v, nk * s.kv_stride);
    p.dout = to_device(p.q, nq * s.q_stride); /* padding columns must survive: same contents as q */
    return p;
}

static void problem_free(problem *p) {
    free(p->q), free(p->k), free(p->v);
    cudaFree(p->dq), cudaFree(p->dk), cudaFree(p->dv), cudaFree(p->dout);
}

static void test_dense(int64_t nq, int64_t nk, int heads, int hd, int pad, float qk_mag) {
    problem p = problem_new(nq, nk, heads, hd, pad, qk_mag);
    const int64_t n = nq * p.s.q_stride;
    float *ref = malloc((size_t)n * sizeof(float)), *got = malloc((size_t)n * sizeof(float));
    memcpy(ref, p.q, (size_t)n * sizeof(float));
    CHECK_OK(dg_attention_dense_cpu(ref, p.q, p.k, p.v, &p.s));
    CHECK_OK(dg_attention_dense_cuda(p.dout, p.dq, p.dk, p.dv, &p.s));
    from_device(got, p.dout, n);
    char what[96];
    snprintf(what, sizeof what, "dense nq=%lld nk=%lld heads=%d d=%d pad=%d x%g", (long long)nq, (long long)nk, heads,
             hd, pad, qk_mag);
    report(what, nmse(got, ref, n), 5e-4);
    free(ref), free(got);
    problem_free(&p);
}

/* Predicates over original token indices. */
static int allow_random(const void *ctx, int64_t i, int64_t j) {
    (void)ctx;
    uint64_t h = (uint64_t)i * 0x9E3779B97F4A7C15ull ^ (uint64_t)j * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return i % 7 != 3 && (h & 3) == 0; /* every 7th row sees nothing */
}

static int allow_band(const void *ctx, int64_t i, int64_t j) {
    const int64_t w = *(const int64_t *)ctx;
    return i - j <= w && j - i <= w;
}

static void test_sparse(int64_t n, int heads, int hd, int bq, int bk, int permute, int band) {
    problem p = problem_new(n, n, heads, hd, 0, 1.0f);
    int32_t *perm = NULL;
    if (permute) { /* reverse the order inside runs of 5: a permutation with no structure the blocks follow */
        perm = malloc((size_t)n * sizeof(int32_t));
        for (int64_t i = 0; i < n; i++) {
            int64_t r0 = i / 5 * 5, r1 = r0 + 5 < n ? r0 + 5 : n;
            perm[i] = (int32_t)(r1 - 1 - (i - r0));
        }
    }
    const int64_t width = 40;
    dg_block_layout l;
    CHECK_OK(dg_block_layout_from_predicate(&l, n, bq, bk, perm, band ? allow_band : allow_random, &width));
    const int64_t nf = n * p.s.q_stride;
    float *ref = malloc((size_t)nf * sizeof(float)), *got = malloc((size_t)nf * sizeof(float));
    CHECK_OK(dg_attention_sparse_cpu(ref, p.q, p.k, p.v, &p.s, &l));
    CHECK_OK(dg_attention_sparse_cuda(p.dout, p.dq, p.dk, p.dv, &p.s, &l));
    from_device(got, p.dout, nf);
    char what[96];
    snprintf(what, sizeof what, "sparse n=%lld d=%d bq=%d bk=%d%s %s (density %.2f)", (long long)n, hd, bq, bk,
             permute ? " perm" : "", band ? "band" : "random", dg_block_layout_density(&l));
    report(what, nmse(got, ref, nf), 5e-4);
    if (!band) /* rows i % 7 == 3 see no key: zeros */
        for (int64_t i = 3; i < n; i += 7)
            for (int64_t c = 0; c < p.s.q_stride; c++)
                if (got[i * p.s.q_stride + c] != 0.0f || ref[i * p.s.q_stride + c] != 0.0f) {
                    CHECK(0, "row %lld has no key but output %g (cpu %g)", (long long)i, got[i * p.s.q_stride + c],
                          ref[i * p.s.q_stride + c]);
                    i = n;
                    break;
                }
    dg_block_layout_free(&l);
    free(perm), free(ref), free(got);
    problem_free(&p);
}

static void test_perturb(void) {
    problem p = problem_new(77, 77, 4, 64, 4, 1.0f);
    const int64_t nf = 77 * p.s.q_stride;
    const float u[4] = {0.0f, 0.5f, 1.0f, -0.25f};
    float *ref = malloc((size_t)nf * sizeof(float)), *got = malloc((size_t)nf * sizeof(float));
    memcpy(ref, p.q, (size_t)nf * sizeof(float)); /* dout holds q too */
    dg_attn_perturb_heads(ref, p.v, &p.s, u);
    CHECK_OK(dg_attn_perturb_heads_cuda(p.dout, p.dv, &p.s, u));
    from_device(got, p.dout, nf);
    report("perturb heads", nmse(got, ref, nf), 1e-12);
    int same = 1;
    for (int64_t i = 0; i < 77; i++)
        same &= !memcmp(got + i * p.s.q_stride, p.q + i * p.s.q_stride, 64 * sizeof(float));
    CHECK(same, "head 0 (u = 0) changed");
    free(ref), free(got);
    problem_free(&p);
}

static void test_refusals(void) {
    problem p = problem_new(10, 10, 2, 64, 0, 1.0f);
    dg_attn_shape s = p.s;
    s.heads = 1;
    s.head_dim = 130;
    s.q_stride = s.kv_stride = 132;
    CHECK(dg_attention_dense_cuda(p.dout, p.dq, p.dk, p.dv, &s) != 0 && strstr(dg_last_error(), "head_dim"),
          "head_dim 130 accepted: %s", dg_last_error());
    s.head_dim = 6;
    CHECK(dg_attention_dense_cuda(p.dout, p.dq, p.dk, p.dv, &s) != 0 && strstr(dg_last_error(), "head_dim"),
          "head_dim 6 accepted: %s", dg_last_error());
    s = p.s;
    s.q_stride = 130;
    CHECK(dg_attention_dense_cuda(p.dout, p.dq, p.dk, p.dv, &s) != 0 && strstr(dg_last_error(), "multiples of 4"),
          "stride 130 accepted: %s", dg_last_error());
    problem_free(&p);
}

/* ---- Wan transformer on the CUDA backend vs the diffusers fixture ---- */

typedef struct {
    const dg_safetensors *io;
    const char *prefix;
    int seen;
} tap_ctx;

static void on_tap(void *user, const char *name, const dg_tensor *t) {
    tap_ctx *c = user;
    char key[64];
    snprintf(key, sizeof key, "%s.%s", c->prefix, name);
    int64_t n;
    const float *ref = fixture_f32(c->io, key, &n);
    if (!ref) return;
    CHECK(n == dg_tensor_numel(t), "%s: %lld elements vs reference %lld", key, (long long)dg_tensor_numel(t),
          (long long)n);
    if (n == dg_tensor_numel(t)) {
        float *got = malloc((size_t)n * sizeof(float));
        CHECK_OK(dg_tensor_download(t, got));
        report(key, nmse(got, ref, n), 1e-4);
        free(got);
    }
    c->seen++;
}

/* prefix.x / prefix.context / prefix.t from io; the output compared with ref_io's prefix.out. */
static void wan_case(dg_wan_model *m, const dg_safetensors *io, const dg_safetensors *ref_io, const char *prefix,
                     int taps) {
    char key[64];
    snprintf(key, sizeof key, "%s.x", prefix);
    const float *x = fixture_f32(io, key, NULL);
    const dg_st_tensor *xt = dg_safetensors_find(io, key);
    snprintf(key, sizeof key, "%s.context", prefix);
    const float *ctx = fixture_f32(io, key, NULL);
    const dg_st_tensor *ct = dg_safetensors_find(io, key);
    snprintf(key, sizeof key, "%s.t", prefix);
    const float *t = fixture_f32(io, key, NULL);
    snprintf(key, sizeof key, "%s.out", prefix);
    int64_t nout;
    const float *ref = fixture_f32(ref_io, key, &nout);
    if (!x || !ctx || !t || !ref) return;

    dg_tensor xin, cin, out;
    dg_arena ar;
    int64_t oshape[4] = {m->cfg.out_channels, xt->shape[1], xt->shape[2], xt->shape[3]};
    CHECK_OK(dg_tensor_alloc(&xin, m->be, DG_F32, 4, xt->shape));
    CHECK_OK(dg_tensor_alloc(&cin, m->be, DG_F32, 2, ct->shape));
    CHECK_OK(dg_tensor_alloc(&out, m->be, DG_F32, 4, oshape));
    CHECK_OK(dg_tensor_upload(&xin, x));
    CHECK_OK(dg_tensor_upload(&cin, ctx));
    CHECK_OK(dg_arena_init(&ar, m->be,
                           dg_wan_arena_bytes(&m->cfg, (int)xt->shape[1], (int)xt->shape[2], (int)xt->shape[3],
                                              (int)ct->shape[0])));
    tap_ctx tc = {ref_io, prefix, 0};
    dg_wan_run tap = {.tap = on_tap, .user = &tc};
    CHECK_OK(dg_wan_forward(m, &ar, &xin, t[0], &cin, &out, taps ? &tap : NULL));
    if (taps) CHECK(tc.seen == 4 + m->cfg.num_layers, "%s: only %d taps seen", prefix, tc.seen);
    CHECK(nout == dg_tensor_numel(&out), "output size");
    float *got = malloc((size_t)nout * sizeof(float));
    CHECK_OK(dg_tensor_download(&out, got));
    report(key, nmse(got, ref, nout), 1e-4);
    free(got);
    dg_arena_free(&ar);
    dg_tensor_free(&xin), dg_tensor_free(&cin), dg_tensor_free(&out);
}

static void test_wan(dg_backend *gpu) {
    char path[512];
    dg_safetensors io, io16;
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny_io.safetensors", DG_TEST_DIR);
    CHECK_OK(dg_safetensors_open(&io, path));
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny_bf16_io.safetensors", DG_TEST_DIR);
    CHECK_OK(dg_safetensors_open(&io16, path));
    if (test_failures) return;
    dg_wan_model m;
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny/transformer", DG_TEST_DIR);
    CHECK_OK(dg_wan_load(&m, gpu, path));
    if (!test_failures) {
        wan_case(&m, &io, &io, "video", 1);
        wan_case(&m, &io, &io, "image", 1);
        dg_wan_free(&m);
    }
    /* bf16 checkpoint: weights stay bf16 on the device; same inputs as the f32 case */
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny_bf16/transformer", DG_TEST_DIR);
    CHECK_OK(dg_wan_load(&m, gpu, path));
    if (!test_failures) {
        CHECK(m.blocks[0].ffn1_w.dtype == DG_BF16, "bf16 weight was converted at load");
        wan_case(&m, &io, &io16, "video", 0);
        dg_wan_free(&m);
    }
    dg_safetensors_close(&io16);
    dg_safetensors_close(&io);
}

/* The fixture's video case through m with a plan; the output is written to host. */
static void forward_with_plan(dg_wan_model *m, const dg_safetensors *io, dg_attn_plan *plan, float *host) {
    const float *x = fixture_f32(io, "video.x", NULL), *ctx = fixture_f32(io, "video.context", NULL);
    const float *t = fixture_f32(io, "video.t", NULL);
    const dg_st_tensor *xt = dg_safetensors_find(io, "video.x"), *ct = dg_safetensors_find(io, "video.context");
    if (!x || !ctx || !t) return;
    dg_tensor xin, cin, out;
    dg_arena ar;
    CHECK_OK(dg_tensor_alloc(&xin, m->be, DG_F32, 4, xt->shape));
    CHECK_OK(dg_tensor_alloc(&cin, m->be, DG_F32, 2, ct->shape));
    CHECK_OK(dg_tensor_alloc(&out, m->be, DG_F32, 4, xt->shape));
    CHECK_OK(dg_tensor_upload(&xin, x));
    CHECK_OK(dg_tensor_upload(&cin, ctx));
    CHECK_OK(dg_arena_init(&ar, m->be,
                           dg_wan_arena_bytes(&m->cfg, (int)xt->shape[1], (int)xt->shape[2], (int)xt->shape[3],
                                              (int)ct->shape[0])));
    dg_wan_run run = {.plan = plan, .step = 0, .steps = 1};
    CHECK_OK(dg_wan_forward(m, &ar, &xin, t[0], &cin, &out, &run));
    CHECK_OK(dg_tensor_download(&out, host));
    dg_arena_free(&ar);
    dg_tensor_free(&xin), dg_tensor_free(&cin), dg_tensor_free(&out);
}

/* A sparse attention plan (NATTEN 3x3x3 window on the 3x3x5 token grid, a
 * dense override for head 1 so each head runs on its own) on the GPU gives
 * the CPU's output with the same plan. */
static void test_wan_plan(dg_backend *gpu) {
    static const char plan_json[] = "{\"method\": \"natten\", \"params\": {\"kernel_size\": [3, 3, 3]},"
                                    " \"overrides\": [{\"heads\": [1], \"method\": \"dense\"}]}";
    char path[512];
    dg_safetensors io;
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny_io.safetensors", DG_TEST_DIR);
    CHECK_OK(dg_safetensors_open(&io, path));
    dg_backend cpu;
    CHECK_OK(dg_backend_cpu_init(&cpu, 0));
    dg_wan_model mc, mg;
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny/transformer", DG_TEST_DIR);
    CHECK_OK(dg_wan_load(&mc, &cpu, path));
    CHECK_OK(dg_wan_load(&mg, gpu, path));
    cJSON *root = cJSON_Parse(plan_json);
    dg_attn_plan plan;
    CHECK_OK(dg_attn_plan_from_json(&plan, root, "plan"));
    cJSON_Delete(root);
    if (test_failures) return;
    const dg_st_tensor *xt = dg_safetensors_find(&io, "video.x");
    dg_attn_geometry g = dg_wan_attn_geometry(&mc.cfg, (int)xt->shape[1], (int)xt->shape[2], (int)xt->shape[3]);
    CHECK_OK(dg_attn_plan_prepare(&plan, &g));
    CHECK(dg_attn_plan_method(&plan, 0, 1, 0, 0)->ops->density(dg_attn_plan_method(&plan, 0, 1, 0, 0)) < 1.0,
          "the NATTEN window must be sparse on this grid");
    int64_t n = xt->shape[0] * xt->shape[1] * xt->shape[2] * xt->shape[3];
    float *a = calloc((size_t)n, sizeof(float)), *b = calloc((size_t)n, sizeof(float));
    forward_with_plan(&mc, &io, &plan, a);
    forward_with_plan(&mg, &io, &plan, b);
    report("wan plan (natten + dense head) gpu vs cpu", nmse(b, a, n), 1e-4);
    free(a), free(b);
    dg_attn_plan_free(&plan);
    dg_wan_free(&mc), dg_wan_free(&mg);
    dg_backend_free(&cpu);
    dg_safetensors_close(&io);
}

int main(void) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) TEST_SKIP("no CUDA device");

    /* nq, nk, heads, head_dim, stride pad, q/k magnitude */
    test_dense(1, 1, 1, 64, 0, 1.0f);
    test_dense(1, 77, 2, 128, 0, 1.0f);
    test_dense(63, 63, 3, 64, 0, 1.0f);
    test_dense(65, 129, 2, 128, 4, 1.0f);
    test_dense(300, 200, 4, 128, 0, 1.0f);
    test_dense(200, 300, 2, 64, 8, 4.0f);
    test_dense(517, 7, 12, 128, 0, 1.0f); /* cross-attention: few text keys */
    test_dense(1000, 1000, 2, 128, 0, 4.0f);
    test_dense(90, 45, 2, 12, 0, 1.0f); /* wan_tiny's head_dim */
    test_dense(70, 70, 3, 80, 4, 1.0f);

    /* n, heads, head_dim, block_q, block_k, permute, band */
    test_sparse(300, 2, 128, 128, 128, 0, 0);
    test_sparse(300, 2, 64, 64, 37, 1, 0);
    test_sparse(517, 3, 128, 256, 64, 1, 1);
    test_sparse(130, 2, 64, 128, 128, 0, 1);

    test_perturb();
    test_refusals();

    dg_backend gpu;
    CHECK_OK(dg_backend_cuda_init(&gpu, 0));
    if (!test_failures) test_wan(&gpu);
    if (!test_failures) test_wan_plan(&gpu);
    dg_backend_free(&gpu);
    return TEST_END();
}
#else
int main(void) {
    (void)test_failures;
    TEST_SKIP("no CUDA device (built without CUDA)");
}
#endif
