/* The Wan transformer on the CUDA backend against the diffusers fixtures, and
 * a sparse attention plan on the GPU against the same plan on the CPU.
 * (Each attention kernel against the CPU is in test_backend_ops.)
 * - wan_tiny (f32 and bf16 checkpoints) forward on the CUDA backend vs the
 *   fixture outputs and taps: NMSE <= 1e-4 (bf16 attention and, for the bf16
 *   checkpoint, bf16 activations in the GEMMs; the CPU test's 1e-4 max-abs
 *   bound is for f32 arithmetic).
 * Without a CUDA build or device: "skipped: no CUDA device", exit 77. */
#include <string.h>

#include "core/backend.h"
#include "core/error.h"
#include "tests/test.h"

#ifdef DG_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "attention/plan.h"
#include "dit/wan.h"
#include "tests/fixture.h"

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
    dg_wan_sized sized;
    int64_t oshape[4] = {m->cfg.out_channels, xt->shape[1], xt->shape[2], xt->shape[3]};
    CHECK_OK(dg_tensor_alloc(&xin, m->be, DG_F32, 4, xt->shape));
    CHECK_OK(dg_tensor_alloc(&cin, m->be, DG_F32, 2, ct->shape));
    CHECK_OK(dg_tensor_alloc(&out, m->be, DG_F32, 4, oshape));
    CHECK_OK(dg_tensor_upload(&xin, x));
    CHECK_OK(dg_tensor_upload(&cin, ctx));
    CHECK_OK(dg_wan_sized_init(&sized, m, (int)xt->shape[1], (int)xt->shape[2], (int)xt->shape[3], (int)ct->shape[0], NULL, 0, NULL));
    tap_ctx tc = {ref_io, prefix, 0};
    dg_wan_call tap = {.tap = on_tap, .user = &tc};
    CHECK_OK(dg_wan_forward(m, &sized, &xin, t[0], &cin, &out, taps ? &tap : NULL, NULL));
    if (taps) CHECK(tc.seen == 4 + m->cfg.num_layers, "%s: only %d taps seen", prefix, tc.seen);
    CHECK(nout == dg_tensor_numel(&out), "output size");
    float *got = malloc((size_t)nout * sizeof(float));
    CHECK_OK(dg_tensor_download(&out, got));
    report(key, nmse(got, ref, nout), 1e-4);
    free(got);
    dg_wan_sized_free(&sized);
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
    dg_wan_sized sized;
    CHECK_OK(dg_tensor_alloc(&xin, m->be, DG_F32, 4, xt->shape));
    CHECK_OK(dg_tensor_alloc(&cin, m->be, DG_F32, 2, ct->shape));
    CHECK_OK(dg_tensor_alloc(&out, m->be, DG_F32, 4, xt->shape));
    CHECK_OK(dg_tensor_upload(&xin, x));
    CHECK_OK(dg_tensor_upload(&cin, ctx));
    /* prepares the plan on m's backend (its layouts uploaded there) */
    CHECK_OK(dg_wan_sized_init(&sized, m, (int)xt->shape[1], (int)xt->shape[2], (int)xt->shape[3], (int)ct->shape[0], plan, 0, NULL));
    dg_wan_call call = {.step = 0, .steps = 1};
    CHECK_OK(dg_wan_forward(m, &sized, &xin, t[0], &cin, &out, &call, NULL));
    CHECK_OK(dg_tensor_download(&out, host));
    dg_wan_sized_free(&sized);
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
    dg_attn_plan plan;
    CHECK_OK(dg_attn_plan_parse(&plan, plan_json, "plan"));
    if (test_failures) return;
    const dg_st_tensor *xt = dg_safetensors_find(&io, "video.x");
    dg_attn_geometry g = dg_wan_attn_geometry(&mc.cfg, (int)xt->shape[1], (int)xt->shape[2], (int)xt->shape[3]);
    CHECK_OK(dg_attn_plan_prepare(&plan, &g, &cpu));
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
