/* umT5 / T5 encoder parity against transformers (fixtures from
 * tests/reference/make_t5.py), the Wan zero-fill helper, relative position
 * buckets, and the refusal of bad inputs and mismatched checkpoints. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/backend.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "tests/fixture.h"
#include "tests/test.h"
#include "text/t5_encoder.h"

#define FIX DG_TEST_DIR "/fixtures/"
#define TOL 1e-4
#define TOL_BF16 2e-2 /* bf16 activations in the linears */

static const char *const CASES[] = {"a", "b", "c"};

/* ids / mask of one case (stored as F32 in the fixture) into int arrays. */
static int load_case(const dg_safetensors *io, const char *cs, int32_t *ids, int32_t *mask, int cap) {
    char name[64];
    int64_t n = 0, nm = -1;
    snprintf(name, sizeof name, "%s.ids", cs);
    const float *fi = fixture_f32(io, name, &n);
    snprintf(name, sizeof name, "%s.mask", cs);
    const float *fm = fixture_f32(io, name, &nm);
    if (!fi || !fm || n != nm || n > cap) return 0;
    for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)fi[i], mask[i] = (int32_t)fm[i];
    return (int)n;
}

static void check_model(dg_backend *be, const dg_safetensors *io, const char *dir, const char *prefix, double tol) {
    dg_t5_encoder e;
    CHECK_OK(dg_t5_load(&e, be, dir));
    if (!e.layers) return;
    int32_t ids[64], mask[64];
    for (int ci = 0; ci < 3; ci++) {
        int L = load_case(io, CASES[ci], ids, mask, 64);
        char name[96];
        snprintf(name, sizeof name, "%s.%s.out", prefix, CASES[ci]);
        int64_t n;
        const float *ref = fixture_f32(io, name, &n);
        if (!L || !ref || n != (int64_t)L * e.cfg.d_model) continue;
        float *out = calloc((size_t)n, sizeof(float));
        CHECK_OK(dg_t5_encode(&e, ids, mask, L, out));
        check_close(name, out, ref, (size_t)n, tol);
        /* Wan: the first seq_len rows as encoded, zeros from there on. */
        int seq_len = 0;
        for (int i = 0; i < L; i++) seq_len += mask[i];
        memset(out, 0x7f, (size_t)n * sizeof(float));
        CHECK_OK(dg_t5_encode_wan(&e, ids, mask, L, out));
        snprintf(name, sizeof name, "%s.%s.wan", prefix, CASES[ci]);
        check_close(name, out, ref, (size_t)seq_len * e.cfg.d_model, tol);
        int zeros = 1;
        for (int64_t i = (int64_t)seq_len * e.cfg.d_model; i < n; i++) zeros &= out[i] == 0.0f;
        CHECK(zeros, "%s: rows past seq_len %d are not zero", name, seq_len);
        free(out);
    }
    dg_t5_free(&e);
}

static void check_buckets(const dg_safetensors *io, const char *name, int nb, int md) {
    int64_t n;
    const float *ref = fixture_f32(io, name, &n);
    if (!ref) return;
    int span = (int)(n / 2), bad = 0;
    for (int r = -span; r <= span; r++) {
        int got = dg_t5_bucket(r, nb, md), want = (int)ref[r + span];
        if (got != want && bad++ < 5) fprintf(stderr, "bucket(%d; %d, %d) = %d, transformers %d\n", r, nb, md, got, want);
    }
    printf("%-28s %d of %lld differ\n", name, bad, (long long)n);
    CHECK(bad == 0, "%s: %d buckets differ from transformers", name, bad);
}

/* Does loading `dir` fail with an error mentioning `needle`? */
static void expect_load_error(dg_backend *be, const char *dir, const char *needle) {
    dg_t5_encoder e;
    int rc = dg_t5_load(&e, be, dir);
    CHECK(rc == DG_ERR, "%s loaded, expected an error about '%s'", dir, needle);
    if (rc == DG_OK) {
        dg_t5_free(&e);
        return;
    }
    printf("refused %s\n", dg_last_error());
    CHECK(strstr(dg_last_error(), needle) != NULL, "error '%s' does not mention '%s'", dg_last_error(), needle);
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1 << 16, 1);
    if (buf) fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    return buf;
}

/* Write dir/config.json (the umT5 fixture's, with `from` replaced by `to`)
 * and dir/model.safetensors: the fixture's tensors minus `drop`, with `rename`
 * renamed to `rename_to` or reshaped when `reshape` is set, plus `extra`
 * (a copy of the final norm under that name). */
typedef struct variant {
    const char *from, *to, *drop, *rename, *rename_to, *reshape, *extra;
} variant;

static int write_variant(const dg_safetensors *st, const char *dir, const variant *v) {
    mkdir(DG_BINARY_DIR "/t5_variants", 0755);
    if (mkdir(dir, 0755) != 0) {
        struct stat sb;
        if (stat(dir, &sb) != 0) return DG_ERR;
    }
    char *cfg = read_text(FIX "umt5_tiny/config.json"), path[1024];
    if (!cfg) return DG_ERR;
    char *at = v->from ? strstr(cfg, v->from) : NULL;
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "wb");
    if (f) {
        if (at) {
            fwrite(cfg, 1, (size_t)(at - cfg), f);
            fputs(v->to, f);
            fputs(at + strlen(v->from), f);
        } else {
            fputs(cfg, f);
        }
        fclose(f);
    }
    free(cfg);
    dg_st_entry ent[64];
    int64_t shapes[64][5];
    int n = 0;
    for (int i = 0; i < st->n_tensors && n < 63; i++) {
        const dg_st_tensor *t = &st->tensors[i];
        if (v->drop && !strcmp(t->name, v->drop)) continue;
        memcpy(shapes[n], t->shape, sizeof shapes[n]);
        ent[n] = (dg_st_entry){t->name, t->dtype, t->ndim, shapes[n], t->data};
        if (v->rename && !strcmp(t->name, v->rename)) {
            if (v->rename_to) ent[n].name = v->rename_to;
            if (v->reshape) { /* [a, b] -> [b, a] */
                shapes[n][0] = t->shape[1];
                shapes[n][1] = t->shape[0];
            }
        }
        n++;
    }
    if (v->extra) {
        const dg_st_tensor *t = dg_safetensors_find(st, "encoder.final_layer_norm.weight");
        ent[n++] = (dg_st_entry){v->extra, t->dtype, t->ndim, t->shape, t->data};
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    return dg_safetensors_save(path, ent, n, NULL, 0);
}

static void check_variants(dg_backend *be, const dg_safetensors *io) {
    dg_safetensors st;
    CHECK_OK(dg_safetensors_open(&st, FIX "umt5_tiny/model.safetensors"));
    if (!st.tensors) return;
    const char *root = DG_BINARY_DIR "/t5_variants/";
    char dir[1024];
    struct {
        const char *name, *error;
        variant v;
    } bad[] = {
        {"missing", "encoder.final_layer_norm.weight", {.drop = "encoder.final_layer_norm.weight"}},
        {"no_embedding", "shared.weight", {.drop = "shared.weight"}},
        {"extra_layer", "encoder.block.2.layer.0.layer_norm.weight",
         {.extra = "encoder.block.2.layer.0.layer_norm.weight"}},
        {"shape", "encoder.block.1.layer.1.DenseReluDense.wo.weight",
         {.rename = "encoder.block.1.layer.1.DenseReluDense.wo.weight", .reshape = "1"}},
        /* umT5 weights labelled T5: layer 1's own bias table is not expected */
        {"labelled_t5", "block.1.layer.0.SelfAttention.relative_attention_bias",
         {.from = "\"model_type\": \"umt5\"", .to = "\"model_type\": \"t5\""}},
        {"vocab", "shared.weight", {.from = "\"vocab_size\": 256", .to = "\"vocab_size\": 255"}},
        {"ffn", "feed_forward_proj", {.from = "\"gated-gelu\"", .to = "\"gated-silu\""}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(dir, sizeof dir, "%s%s", root, bad[i].name);
        CHECK_OK(write_variant(&st, dir, &bad[i].v));
        expect_load_error(be, dir, bad[i].error);
    }
    /* Accepted: the embedding under its encoder name, and a full checkpoint's decoder/lm_head tensors. */
    variant ok[] = {
        {.rename = "shared.weight", .rename_to = "encoder.embed_tokens.weight"},
        {.extra = "decoder.final_layer_norm.weight"},
    };
    for (size_t i = 0; i < 2; i++) {
        snprintf(dir, sizeof dir, "%sok%zu", root, i);
        CHECK_OK(write_variant(&st, dir, &ok[i]));
        check_model(be, io, dir, "umt5", TOL);
    }
    dg_safetensors_close(&st);
}

static void check_bad_inputs(dg_backend *be) {
    dg_t5_encoder e;
    CHECK_OK(dg_t5_load(&e, be, FIX "umt5_tiny"));
    if (!e.layers) return;
    float out[4 * 32];
    int32_t ids[4] = {3, 256, 5, 6}, mask[4] = {1, 1, 1, 0};
    CHECK(dg_t5_encode(&e, ids, mask, 4, out) == DG_ERR && strstr(dg_last_error(), "vocabulary"),
          "id 256 >= vocab_size accepted (%s)", dg_last_error());
    ids[1] = -1;
    CHECK(dg_t5_encode_wan(&e, ids, mask, 4, out) == DG_ERR && strstr(dg_last_error(), "position 1"),
          "negative id accepted (%s)", dg_last_error());
    ids[1] = 4, mask[2] = 2;
    CHECK(dg_t5_encode(&e, ids, mask, 4, out) == DG_ERR && strstr(dg_last_error(), "mask"),
          "mask value 2 accepted (%s)", dg_last_error());
    CHECK(dg_t5_encode(&e, ids, NULL, 0, out) == DG_ERR, "empty sequence accepted");
    /* bf16 weights stay bf16 in the mmap; the f32 model's matrices are mmap views too */
    dg_t5_free(&e);
    CHECK_OK(dg_t5_load(&e, be, FIX "umt5_tiny_bf16"));
    if (!e.layers) return;
    const dg_st_tensor *q = dg_safetensors_find(&e.st, "encoder.block.0.layer.0.SelfAttention.q.weight");
    CHECK(e.layers[0].q.dtype == DG_BF16 && q && e.layers[0].q.data == q->data && e.embed->dtype == DG_BF16,
          "bf16 weights were converted or copied");
    /* A fully padded prompt gives all-zero Wan embeddings. */
    mask[0] = mask[1] = mask[2] = mask[3] = 0;
    memset(out, 0x7f, sizeof out);
    CHECK_OK(dg_t5_encode_wan(&e, ids, mask, 4, out));
    int zeros = 1;
    for (int i = 0; i < 4 * 32; i++) zeros &= out[i] == 0.0f;
    CHECK(zeros, "fully padded Wan prompt is not all zero");
    dg_t5_free(&e);
}

int main(void) {
    dg_backend be;
    if (dg_backend_cpu_init(&be, 2) != DG_OK) TEST_SKIP("no CPU backend: %s", dg_last_error());
    dg_safetensors io;
    CHECK_OK(dg_safetensors_open(&io, FIX "t5_tiny_io.safetensors"));
    if (!io.tensors) return TEST_END();
    check_buckets(&io, "buckets_8_16", 8, 16);
    check_buckets(&io, "buckets_32_128", 32, 128);
    check_model(&be, &io, FIX "umt5_tiny", "umt5", TOL);
    /* the reference ran the rounded bf16 weights in f32: exact on the f32 path; the bf16 GEMM, where
     * present, also rounds the activations entering each linear to bf16 */
    CHECK_OK(dg_backend_cpu_set_dtype(&be, DG_F32));
    check_model(&be, &io, FIX "umt5_tiny_bf16", "umt5_bf16", TOL);
    if (dg_backend_cpu_set_dtype(&be, DG_BF16) == DG_OK)
        check_model(&be, &io, FIX "umt5_tiny_bf16", "umt5_bf16", TOL_BF16);
    else
        printf("bf16 GEMM: skipped (%s)\n", dg_last_error());
    check_model(&be, &io, FIX "t5_tiny", "t5", TOL);
    check_model(&be, &io, FIX "t5_relu_tiny", "t5_relu", TOL);
    check_variants(&be, &io);
    check_bad_inputs(&be);
    dg_safetensors_close(&io);
    dg_backend_free(&be);
    return TEST_END();
}
