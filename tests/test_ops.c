/* CPU ops against PyTorch (fixtures: tests/reference/make_wan.py, ops.safetensors)
 * and against obvious loops (patchify round trip, dtype conversions).
 * Tolerance: max abs error <= 1e-5 x max|reference| unless stated. */
#include <string.h>

#include "core/cpu/ops_cpu.h"
#include "core/arena.h"
#include "core/ops.h"
#include "tests/fixture.h"

static dg_backend be;

/* A [rows, cols] f32 tensor over fixture memory (ops never write their inputs). */
static dg_tensor in2(const dg_safetensors *st, const char *name) {
    const dg_st_tensor *s = dg_safetensors_find(st, name);
    dg_tensor t = {0};
    CHECK(s && s->dtype == DG_F32, "fixture %s", name);
    if (s) CHECK_OK(dg_tensor_view(&t, &be, DG_F32, s->ndim, s->shape, (void *)s->data));
    t.name = name;
    return t;
}

static void test_fixture_ops(const dg_safetensors *st) {
    dg_tensor x = in2(st, "x"), gamma = in2(st, "gamma"), beta = in2(st, "beta"), w = in2(st, "w"), b = in2(st, "b");
    dg_tensor y, yl;
    CHECK_OK(dg_tensor_alloc(&y, &be, DG_F32, 2, x.shape));
    int64_t lshape[2] = {5, 10};
    CHECK_OK(dg_tensor_alloc(&yl, &be, DG_F32, 2, lshape));
    size_t n = (size_t)dg_tensor_numel(&x);

    CHECK_OK(dg_layernorm(&y, &x, NULL, NULL, 1e-6f));
    check_close("layernorm", y.data, fixture_f32(st, "layernorm", NULL), n, 1e-5);
    CHECK_OK(dg_layernorm(&y, &x, &gamma, &beta, 1e-6f));
    check_close("layernorm_affine", y.data, fixture_f32(st, "layernorm_affine", NULL), n, 1e-5);
    CHECK_OK(dg_rmsnorm(&y, &x, NULL, 1e-6f));
    check_close("rmsnorm", y.data, fixture_f32(st, "rmsnorm", NULL), n, 1e-5);
    CHECK_OK(dg_rmsnorm(&y, &x, &gamma, 1e-6f));
    check_close("rmsnorm_affine", y.data, fixture_f32(st, "rmsnorm_affine", NULL), n, 1e-5);
    CHECK_OK(dg_gelu_tanh(&y, &x));
    check_close("gelu_tanh", y.data, fixture_f32(st, "gelu_tanh", NULL), n, 1e-5);
    CHECK_OK(dg_silu(&y, &x));
    check_close("silu", y.data, fixture_f32(st, "silu", NULL), n, 1e-5);
    CHECK_OK(dg_linear(&yl, &x, &w, &b));
    check_close("linear", yl.data, fixture_f32(st, "linear", NULL), 50, 1e-5);

    /* bf16 weight: on the f32 path converted on the fly, the reference used the rounded weight */
    uint16_t wb[240];
    dg_convert_from_f32(wb, DG_BF16, w.data, 240);
    dg_tensor w16;
    CHECK_OK(dg_tensor_view(&w16, &be, DG_BF16, 2, w.shape, wb));
    CHECK_OK(dg_backend_cpu_set_dtype(&be, DG_F32));
    CHECK_OK(dg_linear(&yl, &x, &w16, &b));
    check_close("linear_bf16w", yl.data, fixture_f32(st, "linear_bf16w", NULL), 50, 1e-5);
    /* the bf16 GEMM, where present, also rounds x to bf16 (2^-9 relative per term) */
    if (dg_backend_cpu_set_dtype(&be, DG_BF16) == DG_OK) {
        CHECK_OK(dg_linear(&yl, &x, &w16, &b));
        check_close("linear_bf16w bf16 GEMM", yl.data, fixture_f32(st, "linear_bf16w", NULL), 50, 1e-2);
    }

    /* shape errors name the tensors */
    CHECK(dg_linear(&y, &x, &w, &b) != 0, "linear accepted a wrong output shape");
    CHECK(dg_layernorm(&yl, &x, NULL, NULL, 1e-6f) != 0 && strstr(dg_last_error(), "does not match"),
          "layernorm shape error: %s", dg_last_error());
    CHECK(dg_rmsnorm(&y, &x, &b, 1e-6f) != 0 && strstr(dg_last_error(), "b"), "gamma size error");

    /* timestep sinusoid */
    int64_t nt;
    const float *ts = fixture_f32(st, "timesteps", &nt), *ref = fixture_f32(st, "sinusoid", NULL);
    float emb[256];
    for (int64_t i = 0; ts && ref && i < nt; i++) {
        dg_timestep_sinusoid(emb, 256, ts[i], 1, 0.0f);
        /* sin(t * f): one float32 ulp of f (exp differs by an ulp between libm and
         * torch) moves the angle by t * 1.2e-7, which bounds the honest tolerance. */
        check_close("sinusoid", emb, ref + i * 256, 256, 1e-6 + 1.2e-7 * ts[i]);
    }

    /* attention vs torch SDPA: q [3 heads, 37, 16] head-major in the fixture */
    const float *q = fixture_f32(st, "sdpa_q", NULL), *k = fixture_f32(st, "sdpa_k", NULL),
                *v = fixture_f32(st, "sdpa_v", NULL), *o = fixture_f32(st, "sdpa", NULL);
    if (q && k && v && o) {
        float *qi = malloc(37 * 48 * 4), *ki = malloc(53 * 48 * 4), *vi = malloc(53 * 48 * 4),
              *oi = malloc(37 * 48 * 4), *oref = malloc(37 * 48 * 4);
        for (int h = 0; h < 3; h++)
            for (int t = 0; t < 53; t++)
                for (int c = 0; c < 16; c++) {
                    if (t < 37) qi[t * 48 + h * 16 + c] = q[(h * 37 + t) * 16 + c];
                    if (t < 37) oref[t * 48 + h * 16 + c] = o[(h * 37 + t) * 16 + c];
                    ki[t * 48 + h * 16 + c] = k[(h * 53 + t) * 16 + c];
                    vi[t * 48 + h * 16 + c] = v[(h * 53 + t) * 16 + c];
                }
        dg_attn_shape s = {37, 53, 3, 16, 48, 48, 0.25f};
        CHECK_OK(dg_attention_dense_cpu(oi, qi, ki, vi, &s, NULL, NULL, 0));
        check_close("sdpa (dense flash)", oi, oref, 37 * 48, 1e-5);
        free(qi), free(ki), free(vi), free(oi), free(oref);
    }
    dg_tensor_free(&y);
    dg_tensor_free(&yl);
}

static void test_patchify(void) {
    int p[3] = {1, 2, 2};
    int64_t vs[4] = {3, 2, 4, 6}, ts[2] = {2 * 2 * 3, 12};
    dg_tensor vol, tok, back;
    CHECK_OK(dg_tensor_alloc(&vol, &be, DG_F32, 4, vs));
    CHECK_OK(dg_tensor_alloc(&back, &be, DG_F32, 4, vs));
    CHECK_OK(dg_tensor_alloc(&tok, &be, DG_F32, 2, ts));
    float *v = vol.data;
    for (int i = 0; i < 144; i++) v[i] = (float)i;
    CHECK_OK(dg_patchify(&tok, &vol, p));
    /* token (f=1,i=0,j=2), channel 2 (c slowest), sub-position (ph=1,pw=0) */
    float *t = tok.data;
    int n = (1 * 2 + 0) * 3 + 2, k = 2 * 4 + (1 * 2 + 0);
    CHECK(t[n * 12 + k] == v[((2 * 2 + 1) * 4 + 1) * 6 + 4], "patchify index");
    /* unpatchify expects C fastest: permute tokens, then check the round trip */
    float *perm = malloc(12 * 12 * 4);
    for (int r = 0; r < 12; r++)
        for (int c = 0; c < 3; c++)
            for (int s = 0; s < 4; s++) perm[r * 12 + s * 3 + c] = t[r * 12 + c * 4 + s];
    memcpy(tok.data, perm, 12 * 12 * 4);
    CHECK_OK(dg_unpatchify(&back, &tok, p));
    CHECK(memcmp(back.data, vol.data, 144 * 4) == 0, "patchify/unpatchify round trip");
    int bad[3] = {1, 4, 4};
    CHECK(dg_patchify(&tok, &vol, bad) != 0 && strstr(dg_last_error(), "not divisible"), "bad patch accepted");
    free(perm);
    dg_tensor_free(&vol), dg_tensor_free(&back), dg_tensor_free(&tok);
}

static void test_dtypes(void) {
    /* every bf16 and f16 bit pattern survives to f32 and back (NaN payloads aside) */
    int bad_bf = 0, bad_h = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        float f = dg_bf16_to_f32((uint16_t)i);
        if (f == f && dg_f32_to_bf16(f) != i) bad_bf++;
        float g = dg_f16_to_f32((uint16_t)i);
        if (g == g && dg_f32_to_f16(g) != i) bad_h++;
    }
    CHECK(bad_bf == 0 && bad_h == 0, "round trips: %d bf16, %d f16", bad_bf, bad_h);
    CHECK(dg_f32_to_bf16(1.00390625f) == 0x3f80, "bf16 ties to even");   /* 1 + 2^-8: halfway, even is 1.0 */
    CHECK(dg_f32_to_f16(65520.0f) == 0x7c00, "f16 overflow to inf");
    CHECK(dg_f16_to_f32(0x0001) == 5.9604644775390625e-08f, "f16 smallest subnormal");
}

static void test_arena(void) {
    dg_arena a;
    CHECK_OK(dg_arena_init(&a, &be, 1024));
    dg_tensor t;
    int64_t s[1] = {100};
    CHECK_OK(dg_arena_tensor(&a, &t, "t", DG_F32, 1, s));
    size_t mark = dg_arena_mark(&a);
    int64_t big[1] = {1000};
    CHECK(dg_arena_tensor(&a, &t, "too_big", DG_F32, 1, big) != 0 && strstr(dg_last_error(), "too_big"),
          "arena overflow must name the tensor");
    dg_arena_reset(&a, mark);
    CHECK(a.peak <= a.size, "peak");
    dg_arena_free(&a);
}

int main(void) {
    CHECK_OK(dg_backend_cpu_init(&be, 0));
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/ops.safetensors", DG_TEST_DIR);
    dg_safetensors st;
    if (dg_safetensors_open(&st, path) != 0) {
        fprintf(stderr, "%s\n", dg_last_error());
        return 1;
    }
    test_fixture_ops(&st);
    test_patchify();
    test_dtypes();
    test_arena();
    dg_safetensors_close(&st);
    dg_backend_free(&be);
    return TEST_END();
}
