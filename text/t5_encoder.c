#include "text/t5_encoder.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/ops.h"
#include "io/weight_binder.h"

/* ---- weight binding ---------------------------------------------------- */

/* Matrices keep their checkpoint dtype and, on the CPU, point into the mmap
 * (dg_linear converts per call); vectors and bias tables are converted to f32
 * once. */
static int bind_layer(dg_weight_binder *b, dg_t5_encoder *e, int l) {
    const dg_t5_config *c = &e->cfg;
    dg_t5_layer *ly = &e->layers[l];
    int64_t D = c->d_model, I = (int64_t)c->num_heads * c->d_kv, F = c->d_ff;
    char p[128];
    snprintf(p, sizeof p, "encoder.block.%d.layer.0", l);
    DG_TRY(dg_weight_bind_vec(b, &ly->ln_attn, D, "%s.layer_norm.weight", p));
    DG_TRY(dg_weight_bind_linear(b, &ly->q, NULL, I, D, "%s.SelfAttention.q", p));
    DG_TRY(dg_weight_bind_linear(b, &ly->k, NULL, I, D, "%s.SelfAttention.k", p));
    DG_TRY(dg_weight_bind_linear(b, &ly->v, NULL, I, D, "%s.SelfAttention.v", p));
    DG_TRY(dg_weight_bind_linear(b, &ly->o, NULL, D, I, "%s.SelfAttention.o", p));
    if (l == 0 || c->per_layer_bias) {
        int64_t shape[2] = {c->num_buckets, c->num_heads};
        DG_TRY(dg_weight_bind(b, &ly->rel_bias, 2, shape, DG_WEIGHT_F32,
                              "%s.SelfAttention.relative_attention_bias.weight", p));
    }
    snprintf(p, sizeof p, "encoder.block.%d.layer.1", l);
    DG_TRY(dg_weight_bind_vec(b, &ly->ln_ff, D, "%s.layer_norm.weight", p));
    if (c->gated) {
        DG_TRY(dg_weight_bind_linear(b, &ly->wi0, NULL, F, D, "%s.DenseReluDense.wi_0", p));
        DG_TRY(dg_weight_bind_linear(b, &ly->wi1, NULL, F, D, "%s.DenseReluDense.wi_1", p));
    } else {
        DG_TRY(dg_weight_bind_linear(b, &ly->wi0, NULL, F, D, "%s.DenseReluDense.wi", p));
    }
    return dg_weight_bind_linear(b, &ly->wo, NULL, D, F, "%s.DenseReluDense.wo", p);
}

/* Tensors of a full encoder-decoder checkpoint that the encoder ignores. */
static int ignorable(const char *name) {
    return !strncmp(name, "decoder.", 8) || !strncmp(name, "lm_head.", 8);
}

static int bind_all(dg_weight_binder *b, void *model) {
    dg_t5_encoder *e = model;
    const dg_t5_config *c = &e->cfg;
    int64_t emb[2] = {c->vocab_size, c->d_model};
    /* The table is tied: saved as shared.weight, encoder.embed_tokens.weight or both. */
    const char *names[2] = {"encoder.embed_tokens.weight", "shared.weight"};
    e->embed = NULL;
    for (int i = 0; i < 2; i++)
        if (dg_safetensors_find(&e->st, names[i])) DG_TRY(dg_weight_find(b, &e->embed, 2, emb, "%s", names[i]));
    DG_CHECK(e->embed != NULL, "%s: missing tensor 'shared.weight' (or 'encoder.embed_tokens.weight')", b->path);
    for (int l = 0; l < c->num_layers; l++) DG_TRY(bind_layer(b, e, l));
    return dg_weight_bind_vec(b, &e->final_ln, c->d_model, "encoder.final_layer_norm.weight");
}

int dg_t5_load(dg_t5_encoder *e, dg_backend *be, const char *dir) {
    memset(e, 0, sizeof *e);
    e->be = be;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    DG_TRY(dg_t5_config_load(&e->cfg, path));
    if (dg_safetensors_open(&e->st, dir) != DG_OK) return DG_ERR;
    e->layers = calloc((size_t)e->cfg.num_layers, sizeof *e->layers);
    if (!e->layers) {
        dg_t5_free(e);
        return dg_error("out of memory loading the text encoder from '%s'", dir);
    }
    char config[64];
    snprintf(config, sizeof config, "%s, num_layers %d", e->cfg.per_layer_bias ? "umt5" : "t5", e->cfg.num_layers);
    dg_weight_binding spec = {.what = "the text encoder", .path = dir, .config = config, .ignorable = ignorable,
                              .bind_all = bind_all, .model = e};
    if (dg_weight_bind_model(&e->weights, be, &e->st, &spec) != DG_OK) {
        dg_t5_free(e);
        return DG_ERR;
    }
    return DG_OK;
}

void dg_t5_free(dg_t5_encoder *e) {
    dg_weight_store_free(&e->weights);
    if (e->arena.base) dg_arena_free(&e->arena);
    free(e->layers);
    dg_safetensors_close(&e->st);
    memset(e, 0, sizeof *e);
}

/* ---- forward ----------------------------------------------------------- */

int dg_t5_bucket(int rel, int num_buckets, int max_distance) {
    int half = num_buckets / 2, max_exact = half / 2;
    int bucket = rel > 0 ? half : 0;
    int r = rel < 0 ? -rel : rel;
    if (r < max_exact) return bucket + r;
    /* Same float32 steps as torch: log(r / max_exact) / log(max_distance / max_exact) * (half - max_exact). */
    float ratio = logf((float)r / (float)max_exact) / (float)log((double)max_distance / max_exact);
    int large = max_exact + (int)(ratio * (float)(half - max_exact));
    return bucket + (large < half - 1 ? large : half - 1);
}

static size_t arena_bytes(const dg_t5_config *c, int64_t L) {
    size_t D = (size_t)c->d_model, I = (size_t)c->num_heads * c->d_kv, F = (size_t)c->d_ff;
    size_t floats = (size_t)L * (2 * D + 4 * I + (c->gated ? 2 : 1) * F) /* activations */
                    + (size_t)(2 * L - 1) * c->num_heads + (size_t)L;  /* position bias, key bias */
    return floats * sizeof(float) + 64 * 16;
}

/* Host-side inputs: the embedding rows (converted from the checkpoint dtype,
 * which stays in the mmap), the key bias of the mask (0 or -FLT_MAX as
 * transformers' extended mask, finfo(float32).min) and the bucket of every
 * offset j - i + L - 1. */
static int host_inputs(const dg_t5_encoder *e, const int32_t *ids, const int32_t *mask, int L, float *emb,
                       float *key_bias, int32_t *bucket) {
    const dg_t5_config *c = &e->cfg;
    size_t D = (size_t)c->d_model, row = D * dg_dtype_size(e->embed->dtype);
    for (int i = 0; i < L; i++) {
        DG_CHECK(ids[i] >= 0 && ids[i] < c->vocab_size,
                 "text encoder: token id %d at position %d is outside the vocabulary (vocab_size %d)", (int)ids[i], i,
                 c->vocab_size);
        DG_CHECK(!mask || mask[i] == 0 || mask[i] == 1, "text encoder: attention mask value %d at position %d is not 0 or 1",
                 (int)mask[i], i);
        dg_convert_to_f32(emb + i * D, (const char *)e->embed->data + (size_t)ids[i] * row, e->embed->dtype, D);
        key_bias[i] = !mask || mask[i] ? 0.0f : -FLT_MAX;
    }
    for (int r = 0; r < 2 * L - 1; r++) bucket[r] = dg_t5_bucket(r - (L - 1), c->num_buckets, c->max_distance);
    return DG_OK;
}

int dg_t5_encode(dg_t5_encoder *e, const int32_t *ids, const int32_t *mask, int L, float *out) {
    const dg_t5_config *c = &e->cfg;
    DG_CHECK(L >= 1 && L <= (1 << 20), "text encoder: sequence length %d outside 1..%d", L, 1 << 20);
    size_t need = arena_bytes(c, L);
    if (e->arena.size < need) {
        if (e->arena.base) dg_arena_free(&e->arena);
        DG_TRY(dg_arena_init(&e->arena, e->be, need));
    }
    int64_t D = c->d_model, I = (int64_t)c->num_heads * c->d_kv;
    float *emb = malloc((size_t)L * D * sizeof(float) + (size_t)L * sizeof(float) + (size_t)(2 * L) * sizeof(int32_t));
    DG_CHECK_ALLOC(emb);
    float *key_bias_h = emb + (size_t)L * D;
    int32_t *bucket = (int32_t *)(key_bias_h + L);
    dg_arena *ar = &e->arena;
    size_t mark = dg_arena_mark(ar);
    int rc = DG_ERR;
    dg_tensor h, a, q, k, v, att, ff0, ff1, pos_bias, key_bias;
    int64_t ps[2] = {2 * (int64_t)L - 1, c->num_heads}, ks[1] = {L};
#define A(t, nm, w)                                                                                        \
    do {                                                                                                   \
        int64_t s_[2] = {L, w};                                                                            \
        if (dg_arena_tensor(ar, &t, nm, DG_F32, 2, s_)) goto done;                                         \
    } while (0)
    A(h, "t5_hidden", D);
    A(a, "t5_normed", D);
    A(q, "t5_q", I);
    A(k, "t5_k", I);
    A(v, "t5_v", I);
    A(att, "t5_attn", I);
    A(ff0, "t5_ff", c->d_ff);
    if (c->gated) A(ff1, "t5_ff_linear", c->d_ff);
#undef A
    if (dg_arena_tensor(ar, &pos_bias, "t5_position_bias", DG_F32, 2, ps) ||
        dg_arena_tensor(ar, &key_bias, "t5_key_bias", DG_F32, 1, ks))
        goto done;
    if (host_inputs(e, ids, mask, L, emb, key_bias_h, bucket) || dg_tensor_upload(&h, emb) ||
        dg_tensor_upload(&key_bias, key_bias_h))
        goto done;

    for (int l = 0; l < c->num_layers; l++) {
        dg_t5_layer *ly = &e->layers[l];
        /* T5: layer 0's table serves every layer; umT5: each layer has its own */
        if (ly->rel_bias.data && dg_gather_rows(&pos_bias, &ly->rel_bias, bucket)) goto done;
        /* T5 attention has no 1/sqrt(d) scaling */
        if (dg_rmsnorm(&a, &h, &ly->ln_attn, c->eps) || dg_linear(&q, &a, &ly->q, NULL) ||
            dg_linear(&k, &a, &ly->k, NULL) || dg_linear(&v, &a, &ly->v, NULL) ||
            dg_attention_pos_bias(&att, &q, &k, &v, &pos_bias, &key_bias, c->num_heads, 1.0f) ||
            dg_linear(&a, &att, &ly->o, NULL) || dg_gated_add(&h, &a, NULL))
            goto done;
        if (dg_rmsnorm(&a, &h, &ly->ln_ff, c->eps) || dg_linear(&ff0, &a, &ly->wi0, NULL)) goto done;
        if (c->gated) {
            if (dg_gelu_tanh(&ff0, &ff0) || dg_linear(&ff1, &a, &ly->wi1, NULL) || dg_mul(&ff0, &ff0, &ff1)) goto done;
        } else if (dg_relu(&ff0, &ff0)) {
            goto done;
        }
        if (dg_linear(&a, &ff0, &ly->wo, NULL) || dg_gated_add(&h, &a, NULL)) goto done;
    }
    if (dg_rmsnorm(&a, &h, &e->final_ln, c->eps) || dg_tensor_download(&a, out)) goto done;
    rc = DG_OK;
done:
    dg_arena_reset(ar, mark);
    free(emb);
    return rc;
}

int dg_t5_encode_wan(dg_t5_encoder *e, const int32_t *ids, const int32_t *mask, int L, float *out) {
    DG_CHECK(L >= 1, "text encoder: sequence length %d must be positive", L);
    int seq_len = 0, prefix = 1;
    for (int i = 0; i < L; i++) {
        int keep = !mask || mask[i] != 0;
        seq_len += keep;
        prefix &= keep == (seq_len == i + 1); /* a kept token after a padded one breaks the prefix */
    }
    size_t D = (size_t)e->cfg.d_model;
    if (prefix && seq_len > 0) {
        DG_TRY(dg_t5_encode(e, ids, mask, seq_len, out));
    } else if (seq_len > 0) {
        DG_TRY(dg_t5_encode(e, ids, mask, L, out));
    }
    memset(out + (size_t)seq_len * D, 0, (size_t)(L - seq_len) * D * sizeof(float));
    return DG_OK;
}
