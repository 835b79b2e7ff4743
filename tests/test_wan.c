/* Wan2.1 transformer parity against diffusers (fixtures: tests/reference/make_wan.py).
 * Tolerance: max abs error <= 1e-4 x max|reference| for every tapped activation. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/ops.h"
#include "dit/wan.h"
#include "tests/fixture.h"

#define TOL 1e-4

typedef struct tap_ctx {
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
    if (n == dg_tensor_numel(t)) check_close(key, t->data, ref, (size_t)n, TOL);
    c->seen++;
}

/* Run one fixture case; `taps` also compares every intermediate. */
static void run_case(dg_wan_model *m, const dg_safetensors *io, const char *prefix, int taps) {
    char key[64];
    int64_t nx, nctx, nout;
    snprintf(key, sizeof key, "%s.x", prefix);
    const float *x = fixture_f32(io, key, &nx);
    const dg_st_tensor *xt = dg_safetensors_find(io, key);
    snprintf(key, sizeof key, "%s.context", prefix);
    const float *ctx = fixture_f32(io, key, &nctx);
    const dg_st_tensor *ct = dg_safetensors_find(io, key);
    snprintf(key, sizeof key, "%s.t", prefix);
    const float *t = fixture_f32(io, key, NULL);
    snprintf(key, sizeof key, "%s.out", prefix);
    const float *ref = fixture_f32(io, key, &nout);
    if (!x || !ctx || !t || !ref) return;

    dg_tensor xin, cin, out;
    dg_arena ar;
    CHECK_OK(dg_tensor_view(&xin, m->be, DG_F32, 4, xt->shape, (void *)x));
    CHECK_OK(dg_tensor_view(&cin, m->be, DG_F32, 2, ct->shape, (void *)ctx));
    int64_t oshape[4] = {m->cfg.out_channels, xt->shape[1], xt->shape[2], xt->shape[3]};
    CHECK_OK(dg_tensor_alloc(&out, m->be, DG_F32, 4, oshape));
    CHECK_OK(dg_arena_init(&ar, m->be,
                           dg_wan_arena_bytes(&m->cfg, (int)xt->shape[1], (int)xt->shape[2], (int)xt->shape[3],
                                              (int)ct->shape[0])));
    tap_ctx tc = {io, prefix, 0};
    dg_wan_run tap = {.tap = on_tap, .user = &tc};
    CHECK_OK(dg_wan_forward(m, &ar, &xin, t[0], &cin, &out, taps ? &tap : NULL));
    if (taps) CHECK(tc.seen == 4 + m->cfg.num_layers, "%s: only %d taps seen", prefix, tc.seen);
    snprintf(key, sizeof key, "%s.out", prefix);
    CHECK(nout == dg_tensor_numel(&out), "output size");
    check_close(key, out.data, ref, (size_t)nout, TOL);
    dg_arena_free(&ar);
    dg_tensor_free(&out);
}

/* A copy of the tiny model folder with an edited config.json must be refused. */
static void check_bad_config(dg_backend *be, const char *edit_from, const char *edit_to, const char *want) {
    char dir[512], path[600], src[600], weights[600];
    snprintf(dir, sizeof dir, "%s/wan_bad_%d", DG_BINARY_DIR, (int)getpid());
    mkdir(dir, 0755);
    snprintf(src, sizeof src, "%s/fixtures/wan_tiny/transformer/config.json", DG_TEST_DIR);
    FILE *f = fopen(src, "rb");
    char buf[4096] = {0};
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    char *hit = strstr(buf, edit_from);
    CHECK(n > 0 && hit, "config fixture lacks '%s'", edit_from);
    if (!hit) return;
    char out[4096];
    snprintf(out, sizeof out, "%.*s%s%s", (int)(hit - buf), buf, edit_to, hit + strlen(edit_from));
    snprintf(path, sizeof path, "%s/config.json", dir);
    f = fopen(path, "wb");
    fputs(out, f);
    fclose(f);
    snprintf(weights, sizeof weights, "%s/diffusion_pytorch_model.safetensors", dir);
    snprintf(src, sizeof src, "%s/fixtures/wan_tiny/transformer/diffusion_pytorch_model.safetensors", DG_TEST_DIR);
    unlink(weights);
    CHECK(symlink(src, weights) == 0, "symlink");
    dg_wan_model m;
    int rc = dg_wan_load(&m, be, dir);
    CHECK(rc != 0, "config edit '%s' was accepted", edit_to);
    if (rc != 0) {
        printf("refused as expected: %s\n", dg_last_error());
        CHECK(strstr(dg_last_error(), want) != NULL, "error '%s' lacks '%s'", dg_last_error(), want);
    } else {
        dg_wan_free(&m);
    }
    unlink(weights);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    dg_backend be;
    CHECK_OK(dg_backend_cpu_init(&be, 0));
    char path[512];
    dg_safetensors io;
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny_io.safetensors", DG_TEST_DIR);
    if (dg_safetensors_open(&io, path) != 0) {
        fprintf(stderr, "%s\n", dg_last_error());
        return 1;
    }
    dg_wan_model m;
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny/transformer", DG_TEST_DIR);
    CHECK_OK(dg_wan_load(&m, &be, path));
    if (test_failures) return TEST_END();
    run_case(&m, &io, "video", 1);
    run_case(&m, &io, "image", 1);

    /* RoPE tables straight from the model's rotary module */
    {
        int64_t n;
        const float *rc = fixture_f32(&io, "video.rope_cos", &n), *rs = fixture_f32(&io, "video.rope_sin", NULL);
        float *cs = malloc((size_t)n * 2 * sizeof(float));
        int dims[3] = {4, 4, 4};
        CHECK_OK(dg_rope3d_tables(cs, cs + n, 3, 3, 5, dims, 10000.0));
        if (rc && rs) {
            check_close("video.rope_cos", cs, rc, (size_t)n, 1e-6);
            check_close("video.rope_sin", cs + n, rs, (size_t)n, 1e-6);
        }
        free(cs);
    }
    dg_wan_free(&m);

    /* bf16 checkpoint: weights stay bf16 in memory, reference ran the rounded weights in f32 */
    dg_safetensors io16;
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny_bf16_io.safetensors", DG_TEST_DIR);
    CHECK_OK(dg_safetensors_open(&io16, path));
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny_bf16/transformer", DG_TEST_DIR);
    CHECK_OK(dg_wan_load(&m, &be, path));
    CHECK(m.blocks[0].ffn1_w.dtype == DG_BF16, "bf16 weight was converted at load");
    {
        /* inputs are the same as the f32 case */
        const dg_st_tensor *ref = dg_safetensors_find(&io16, "video.out");
        CHECK(ref != NULL, "video.out in bf16 fixture");
        const float *x = fixture_f32(&io, "video.x", NULL), *ctx = fixture_f32(&io, "video.context", NULL);
        const dg_st_tensor *xt = dg_safetensors_find(&io, "video.x"), *ct = dg_safetensors_find(&io, "video.context");
        dg_tensor xin, cin, out;
        dg_arena ar;
        CHECK_OK(dg_tensor_view(&xin, &be, DG_F32, 4, xt->shape, (void *)x));
        CHECK_OK(dg_tensor_view(&cin, &be, DG_F32, 2, ct->shape, (void *)ctx));
        CHECK_OK(dg_tensor_alloc(&out, &be, DG_F32, 4, xt->shape));
        CHECK_OK(dg_arena_init(&ar, &be, dg_wan_arena_bytes(&m.cfg, 3, 6, 10, 7)));
        CHECK_OK(dg_wan_forward(&m, &ar, &xin, 937.0f, &cin, &out, NULL));
        if (ref) check_close("bf16 video.out", out.data, ref->data, ref->nbytes / 4, TOL);
        dg_arena_free(&ar);
        dg_tensor_free(&out);
    }
    dg_wan_free(&m);
    dg_safetensors_close(&io16);

    /* configs that contradict the weights */
    check_bad_config(&be, "\"num_layers\": 2", "\"num_layers\": 3", "blocks.2");
    check_bad_config(&be, "\"num_layers\": 2", "\"num_layers\": 1", "blocks.1");
    check_bad_config(&be, "\"ffn_dim\": 32", "\"ffn_dim\": 48", "ffn.net.0.proj.weight");
    check_bad_config(&be, "\"_class_name\": \"WanTransformer3DModel\"", "\"_class_name\": \"FluxTransformer2DModel\"",
                     "_class_name");
    check_bad_config(&be, "\"num_layers\": 2", "\"num_layers\": \"two\"", "num_layers");

    dg_safetensors_close(&io);
    dg_backend_free(&be);
    return TEST_END();
}
