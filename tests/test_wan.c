/* Wan2.1 transformer parity against diffusers (fixtures: tests/reference/make_wan.py,
 * make_wan_no_cross_norm.py).
 * Tolerance: max abs error <= 1e-4 x max|reference| for every tapped activation. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attention/plan.h"
#include "core/arena.h"
#include "core/ops.h"
#include "dit/wan.h"
#include "tests/fixture.h"

#define TOL 1e-4
#define TOL_BF16 2e-2 /* bf16 activations in the linears */

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

/* One forward on io's "video" inputs (3x6x10 latent, t 937) against ref_io's "video.out" within tol. */
static void video_forward(dg_wan_model *m, const dg_safetensors *io, const dg_safetensors *ref_io, const char *label,
                          double tol) {
    const dg_st_tensor *ref = dg_safetensors_find(ref_io, "video.out");
    CHECK(ref != NULL, "%s: no video.out", label);
    const float *x = fixture_f32(io, "video.x", NULL), *ctx = fixture_f32(io, "video.context", NULL);
    const dg_st_tensor *xt = dg_safetensors_find(io, "video.x"), *ct = dg_safetensors_find(io, "video.context");
    if (!ref || !x || !ctx) return;
    dg_tensor xin, cin, out;
    dg_wan_sized sized;
    CHECK_OK(dg_tensor_view(&xin, m->be, DG_F32, 4, xt->shape, (void *)x));
    CHECK_OK(dg_tensor_view(&cin, m->be, DG_F32, 2, ct->shape, (void *)ctx));
    CHECK_OK(dg_tensor_alloc(&out, m->be, DG_F32, 4, xt->shape));
    CHECK_OK(dg_wan_sized_init(&sized, m, 3, 6, 10, 7, NULL, 0, NULL));
    CHECK_OK(dg_wan_forward(m, &sized, &xin, 937.0f, &cin, &out, NULL, NULL));
    check_close(label, out.data, ref->data, ref->nbytes / 4, tol);
    dg_wan_sized_free(&sized);
    dg_tensor_free(&out);
}

/* Run one fixture case; `taps` also compares every intermediate; the output is copied to `keep` (if given). */
static void run_case(dg_wan_model *m, const dg_safetensors *io, const char *prefix, int taps, float *keep) {
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
    dg_wan_sized sized;
    CHECK_OK(dg_tensor_view(&xin, m->be, DG_F32, 4, xt->shape, (void *)x));
    CHECK_OK(dg_tensor_view(&cin, m->be, DG_F32, 2, ct->shape, (void *)ctx));
    int64_t oshape[4] = {m->cfg.out_channels, xt->shape[1], xt->shape[2], xt->shape[3]};
    CHECK_OK(dg_tensor_alloc(&out, m->be, DG_F32, 4, oshape));
    CHECK_OK(dg_wan_sized_init(&sized, m, (int)xt->shape[1], (int)xt->shape[2], (int)xt->shape[3], (int)ct->shape[0], NULL, 0, NULL));
    tap_ctx tc = {io, prefix, 0};
    dg_wan_call tap = {.tap = on_tap, .user = &tc};
    CHECK_OK(dg_wan_forward(m, &sized, &xin, t[0], &cin, &out, taps ? &tap : NULL, NULL));
    if (taps) CHECK(tc.seen == 4 + m->cfg.num_layers, "%s: only %d taps seen", prefix, tc.seen);
    snprintf(key, sizeof key, "%s.out", prefix);
    CHECK(nout == dg_tensor_numel(&out), "output size");
    check_close(key, out.data, ref, (size_t)nout, TOL);
    if (keep && nout == dg_tensor_numel(&out)) memcpy(keep, out.data, (size_t)nout * sizeof(float));
    dg_wan_sized_free(&sized);
    dg_tensor_free(&out);
}

/* A plan whose methods allow every pair (a full-window NATTEN for head 0, a
 * dense override for head 1, so each head runs on its own) gives the dense
 * output of the same forward. */
static void plan_case(dg_wan_model *m, const dg_safetensors *io, const float *dense_out) {
    static const char plan_json[] = "{\"method\": \"natten\", \"params\": {\"kernel_size\": [3, 3, 5]},"
                                    " \"overrides\": [{\"heads\": [1], \"method\": \"dense\"}]}";
    const float *x = fixture_f32(io, "video.x", NULL), *ctx = fixture_f32(io, "video.context", NULL);
    const dg_st_tensor *xt = dg_safetensors_find(io, "video.x"), *ct = dg_safetensors_find(io, "video.context");
    dg_attn_plan plan;
    if (!x || !ctx) return;
    CHECK_OK(dg_attn_plan_parse(&plan, plan_json, "plan_case"));
    if (test_failures) return;
    dg_tensor xin, cin, out;
    dg_wan_sized sized;
    CHECK_OK(dg_tensor_view(&xin, m->be, DG_F32, 4, xt->shape, (void *)x));
    CHECK_OK(dg_tensor_view(&cin, m->be, DG_F32, 2, ct->shape, (void *)ctx));
    CHECK_OK(dg_tensor_alloc(&out, m->be, DG_F32, 4, xt->shape));
    CHECK_OK(dg_wan_sized_init(&sized, m, (int)xt->shape[1], (int)xt->shape[2], (int)xt->shape[3], (int)ct->shape[0], &plan, 0, NULL));
    dg_wan_call call = {.step = 0, .steps = 1};
    CHECK_OK(dg_wan_forward(m, &sized, &xin, 937.0f, &cin, &out, &call, NULL));
    if (!test_failures) check_close("per-head plan video.out", out.data, dense_out, (size_t)dg_tensor_numel(&out), 1e-5);
    dg_wan_sized_free(&sized);
    dg_tensor_free(&out);
    dg_attn_plan_free(&plan);
}

/* The PAG prefix fork: a pass that saves the hidden state entering block 1 still gives the dense
 * output, and a pass resumed from it gives the same bits without looking at its input. */
static void fork_case(dg_wan_model *m, const dg_safetensors *io, const float *dense_out) {
    const float *x = fixture_f32(io, "video.x", NULL), *ctx = fixture_f32(io, "video.context", NULL);
    const dg_st_tensor *xt = dg_safetensors_find(io, "video.x"), *ct = dg_safetensors_find(io, "video.context");
    if (!x || !ctx) return;
    dg_tensor xin, zeros, cin, out;
    dg_wan_sized sized;
    size_t n = (size_t)(xt->nbytes / 4);
    float *zx = calloc(n, sizeof(float));
    CHECK_OK(dg_tensor_view(&xin, m->be, DG_F32, 4, xt->shape, (void *)x));
    CHECK_OK(dg_tensor_view(&zeros, m->be, DG_F32, 4, xt->shape, zx));
    CHECK_OK(dg_tensor_view(&cin, m->be, DG_F32, 2, ct->shape, (void *)ctx));
    CHECK_OK(dg_tensor_alloc(&out, m->be, DG_F32, 4, xt->shape));
    CHECK_OK(dg_wan_sized_init(&sized, m, (int)xt->shape[1], (int)xt->shape[2], (int)xt->shape[3], (int)ct->shape[0], NULL, 1, NULL));
    dg_wan_call run = {.fork = DG_WAN_FORK_SAVE, .fork_layer = 1, .steps = 1};
    CHECK_OK(dg_wan_forward(m, &sized, &xin, 937.0f, &cin, &out, &run, NULL));
    CHECK(!test_failures && !memcmp(out.data, dense_out, n * sizeof(float)), "saving the fork changed the output");
    memset(out.data, 0, n * sizeof(float));
    run.fork = DG_WAN_FORK_RESUME;
    CHECK_OK(dg_wan_forward(m, &sized, &zeros, 937.0f, &cin, &out, &run, NULL));
    CHECK(!test_failures && !memcmp(out.data, dense_out, n * sizeof(float)), "the resumed pass differs");
    run.fork_layer = 2;
    CHECK(dg_wan_forward(m, &sized, &zeros, 937.0f, &cin, &out, &run, NULL) != DG_OK,
          "fork layer 2 of 2 blocks accepted");
    printf("fork at block 1: save and resume give the dense output bit for bit\n");
    dg_wan_sized_free(&sized);
    dg_tensor_free(&out);
    free(zx);
}

/* Expect a refusal whose message contains want. */
static void expect_refusal(int rc, dg_wan_model *m, const char *what, const char *want) {
    CHECK(rc != 0, "%s was accepted", what);
    if (rc != 0) {
        printf("refused as expected: %s\n", dg_last_error());
        CHECK(strstr(dg_last_error(), want) != NULL, "error '%s' lacks '%s'", dg_last_error(), want);
    } else {
        dg_wan_free(m);
    }
}

/* A copy of a tiny model folder (fixtures/<fixture>) with an edited config.json must be refused. */
static void check_bad_config(dg_backend *be, const char *fixture, const char *edit_from, const char *edit_to,
                             const char *want) {
    char dir[512], path[600], src[600], weights[600];
    snprintf(dir, sizeof dir, "%s/wan_bad_%d", DG_BINARY_DIR, (int)getpid());
    mkdir(dir, 0755);
    snprintf(src, sizeof src, "%s/fixtures/%s/config.json", DG_TEST_DIR, fixture);
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
    snprintf(src, sizeof src, "%s/fixtures/%s/diffusion_pytorch_model.safetensors", DG_TEST_DIR, fixture);
    unlink(weights);
    CHECK(symlink(src, weights) == 0, "symlink");
    dg_wan_model m;
    expect_refusal(dg_wan_load(&m, be, dir), &m, edit_to, want);
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
    int64_t nvideo = 0;
    fixture_f32(&io, "video.out", &nvideo);
    float *video = calloc((size_t)nvideo, sizeof(float)), *video2 = calloc((size_t)nvideo, sizeof(float));
    run_case(&m, &io, "video", 1, video);
    run_case(&m, &io, "image", 1, NULL);
    plan_case(&m, &io, video);
    fork_case(&m, &io, video);

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
    /* f32 compute matches the reference (rounded weights in f32) to TOL; bf16 compute, where present,
     * also rounds the activations entering each linear and the attentions' q, k, v and probabilities
     * to bf16 (2^-9 relative), which two blocks carry to ~0.6% of the output's scale */
    for (int bf = 0; bf < 2; bf++) {
        if (dg_backend_cpu_set_dtype(&be, bf ? DG_BF16 : DG_F32) != DG_OK) {
            printf("bf16 GEMM: skipped (%s)\n", dg_last_error());
            continue;
        }
        /* inputs are the same as the f32 case */
        video_forward(&m, &io, &io16, bf ? "bf16 video.out (bf16 GEMM)" : "bf16 video.out (f32)", bf ? TOL_BF16 : TOL);
    }
    dg_wan_free(&m);
    dg_safetensors_close(&io16);

    /* an f32 checkpoint asked to run in bf16 (torch_dtype=bf16's counterpart): the blocks' matrices
     * are rounded once, the embedders stay f32, the attentions run in bf16; against the f32 reference
     * (unrounded weights) the weights' rounding adds to the activations' */
    if (dg_backend_cpu_set_dtype(&be, DG_BF16) == DG_OK) {
        snprintf(path, sizeof path, "%s/fixtures/wan_tiny/transformer", DG_TEST_DIR);
        CHECK_OK(dg_wan_load(&m, &be, path));
        CHECK_OK(dg_wan_round_blocks_bf16(&m));
        CHECK(m.blocks[0].self_attn.q_w.dtype == DG_BF16 && m.blocks[1].ffn2_w.dtype == DG_BF16 &&
                  m.text1_w.dtype == DG_F32 && m.proj_out_w.dtype == DG_F32,
              "rounding: blocks' matrices %s/%s, embedder %s, head %s",
              dg_dtype_name(m.blocks[0].self_attn.q_w.dtype), dg_dtype_name(m.blocks[1].ffn2_w.dtype),
              dg_dtype_name(m.text1_w.dtype), dg_dtype_name(m.proj_out_w.dtype));
        const float w0 = dg_bf16_to_f32(((const uint16_t *)m.blocks[0].ffn1_w.data)[0]);
        const dg_st_tensor *f32w = dg_safetensors_find(&m.st, "blocks.0.ffn.net.0.proj.weight");
        CHECK(f32w && w0 == dg_bf16_to_f32(dg_f32_to_bf16(((const float *)f32w->data)[0])),
              "a rounded weight is not the file's value rounded to bf16");
        CHECK_OK(dg_wan_round_blocks_bf16(&m)); /* again: nothing left to round */
        video_forward(&m, &io, &io, "f32 video.out run in bf16", TOL_BF16);
        dg_wan_free(&m);
    } else {
        printf("f32 checkpoint in bf16: skipped (%s)\n", dg_last_error());
    }

    /* an f16 checkpoint far below DG_F16_WIDEN_BYTES (the shipped model): its matrices are widened
     * to f32 at load, out of the mmap, with the same values */
    snprintf(path, sizeof path, "%s/../assets/shapes-tiny/transformer", DG_TEST_DIR);
    CHECK_OK(dg_wan_load(&m, &be, path));
    const dg_st_tensor *f16 = dg_safetensors_find(&m.st, "blocks.0.ffn.net.0.proj.weight");
    CHECK(f16 && f16->dtype == DG_F16, "the shipped model's ffn weight is not F16 in the file");
    CHECK(m.blocks[0].ffn1_w.dtype == DG_F32 && f16 && m.blocks[0].ffn1_w.data != f16->data,
          "an f16 matrix of a small model was not widened at load");
    if (f16 && m.blocks[0].ffn1_w.dtype == DG_F32) {
        const float *w = m.blocks[0].ffn1_w.data;
        int same = 1;
        for (int64_t i = 0; i < dg_tensor_numel(&m.blocks[0].ffn1_w); i++)
            same &= w[i] == dg_f16_to_f32(((const uint16_t *)f16->data)[i]);
        CHECK(same, "the widened f16 matrix differs from the file's values");
    }
    dg_wan_free(&m);

    /* cross_attn_norm false: the hidden state enters cross-attention without any norm */
    dg_safetensors io_nonorm;
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny_no_cross_norm_io.safetensors", DG_TEST_DIR);
    CHECK_OK(dg_safetensors_open(&io_nonorm, path));
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny_no_cross_norm/transformer", DG_TEST_DIR);
    CHECK_OK(dg_wan_load(&m, &be, path));
    CHECK(!m.cfg.cross_attn_norm, "cross_attn_norm false in the config");
    run_case(&m, &io_nonorm, "video", 1, NULL);
    dg_wan_free(&m);
    dg_safetensors_close(&io_nonorm);

    /* configs that contradict the weights */
    check_bad_config(&be, "wan_tiny/transformer", "\"num_layers\": 2", "\"num_layers\": 3", "blocks.2");
    check_bad_config(&be, "wan_tiny/transformer", "\"num_layers\": 2", "\"num_layers\": 1", "blocks.1");
    check_bad_config(&be, "wan_tiny/transformer", "\"ffn_dim\": 32", "\"ffn_dim\": 48", "ffn.net.0.proj.weight");
    check_bad_config(&be, "wan_tiny/transformer", "\"_class_name\": \"WanTransformer3DModel\"", "\"_class_name\": \"FluxTransformer2DModel\"",
                     "_class_name");
    check_bad_config(&be, "wan_tiny/transformer", "\"num_layers\": 2", "\"num_layers\": \"two\"", "num_layers");


    /* the same weights in the original Wan layout (WanModel config, original names): bit-identical output */
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny_original", DG_TEST_DIR);
    CHECK_OK(dg_wan_load(&m, &be, path));
    if (m.blocks) {
        CHECK(m.cfg.heads == 2 && m.cfg.head_dim == 12 && m.cfg.text_dim == 32 && m.cfg.cross_attn_norm,
              "original config: %d heads x %d, text_dim %d", m.cfg.heads, m.cfg.head_dim, m.cfg.text_dim);
        run_case(&m, &io, "video", 0, video2);
        CHECK(!memcmp(video, video2, (size_t)nvideo * sizeof(float)), "original layout output differs from diffusers");
        dg_wan_free(&m);
    }
    /* a .safetensors file: config.json beside it is used */
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny_original/diffusion_pytorch_model.safetensors", DG_TEST_DIR);
    CHECK_OK(dg_wan_load(&m, &be, path));
    if (m.blocks) dg_wan_free(&m);
    check_bad_config(&be, "wan_tiny_original", "\"model_type\": \"t2v\"", "\"model_type\": \"i2v\"", "model_type 'i2v'");
    check_bad_config(&be, "wan_tiny_original", "\"ffn_dim\": 32", "\"ffn_dim\": 48", "'blocks.0.ffn.0.weight'");
    check_bad_config(&be, "wan_tiny_original", "\"num_layers\": 2", "\"num_layers\": 1", "'blocks.1.");
    check_bad_config(&be, "wan_tiny_original", "\"num_heads\": 2", "\"num_heads\": 5", "num_heads 5");
    {
        char dir[512], file[600], cfg[600], src[600];
        snprintf(dir, sizeof dir, "%s/wan_orig_%d", DG_BINARY_DIR, (int)getpid());
        mkdir(dir, 0755);
        snprintf(file, sizeof file, "%s/wan2.1_t2v_tiny.safetensors", dir);
        snprintf(cfg, sizeof cfg, "%s/config.json", dir);
        /* a renamed tensor: the error names the original (file) name, norm3 = diffusers norm2 */
        dg_safetensors st;
        snprintf(src, sizeof src, "%s/fixtures/wan_tiny_original/diffusion_pytorch_model.safetensors", DG_TEST_DIR);
        CHECK_OK(dg_safetensors_open(&st, src));
        dg_st_entry *e = calloc((size_t)st.n_tensors, sizeof *e);
        for (int i = 0; i < st.n_tensors; i++) {
            const dg_st_tensor *t = &st.tensors[i];
            int renamed = !strcmp(t->name, "blocks.1.norm3.weight");
            e[i] = (dg_st_entry){renamed ? "blocks.1.norm3.gamma" : t->name, t->dtype, t->ndim, t->shape, t->data};
        }
        CHECK_OK(dg_safetensors_save(file, e, st.n_tensors, NULL, 0));
        free(e);
        /* a lone file: everything but the heads comes from the shapes; head_dim 12 is not Wan's 128 */
        dg_wan_config c = {0};
        CHECK(dg_wan_config_infer(&c, &st, 1, src) != 0, "tiny dim 24 gave heads");
        CHECK(c.dim == 24 && c.in_channels == 16 && c.out_channels == 16 && c.freq_dim == 256 && c.ffn_dim == 32 &&
                  c.num_layers == 2 && c.text_dim == 32 && c.cross_attn_norm && c.patch[1] == 2,
              "inferred config: dim %d, layers %d, ffn %d, text_dim %d", c.dim, c.num_layers, c.ffn_dim, c.text_dim);
        CHECK(strstr(dg_last_error(), "multiple of 128") != NULL, "head error: %s", dg_last_error());
        dg_safetensors_close(&st);
        expect_refusal(dg_wan_load(&m, &be, file), &m, "a lone file with dim 24", "multiple of 128");
        /* a folder whose only .safetensors has another name */
        snprintf(src, sizeof src, "%s/fixtures/wan_tiny_original/config.json", DG_TEST_DIR);
        CHECK(symlink(src, cfg) == 0, "symlink");
        expect_refusal(dg_wan_load(&m, &be, dir), &m, "a renamed tensor", "missing tensor 'blocks.1.norm3.weight'");
        unlink(cfg);
        unlink(file);
        rmdir(dir);
    }
    free(video);
    free(video2);

    dg_safetensors_close(&io);
    dg_backend_free(&be);
    return TEST_END();
}
