#include "dit/wan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/ops.h"
#include "io/model_folder.h"
#include "io/weight_binder.h"

/* ---- weight binding ---------------------------------------------------- */

/* Names are diffusers names (the binder renames them for original Wan
 * checkpoints). Matrices (linear weights) keep their checkpoint dtype and, on
 * the CPU, point into the mmap; everything else is converted to f32 once so
 * the ops see f32 vectors. */
static int bind_attn(dg_weight_binder *b, dg_wan_attn *a, const char *prefix, int64_t D) {
    DG_TRY(dg_weight_bind_linear(b, &a->q_w, &a->q_b, D, D, "%s.to_q", prefix));
    DG_TRY(dg_weight_bind_linear(b, &a->k_w, &a->k_b, D, D, "%s.to_k", prefix));
    DG_TRY(dg_weight_bind_linear(b, &a->v_w, &a->v_b, D, D, "%s.to_v", prefix));
    DG_TRY(dg_weight_bind_linear(b, &a->o_w, &a->o_b, D, D, "%s.to_out.0", prefix));
    DG_TRY(dg_weight_bind_vec(b, &a->norm_q, D, "%s.norm_q.weight", prefix));
    return dg_weight_bind_vec(b, &a->norm_k, D, "%s.norm_k.weight", prefix);
}

static int bind_block(dg_weight_binder *b, const dg_wan_config *c, dg_wan_block *blk, int i) {
    int64_t D = c->dim, mod6[3] = {1, 6, D};
    char p[128];
    DG_TRY(dg_weight_bind(b, &blk->modulation, 3, mod6, DG_WEIGHT_F32, "blocks.%d.scale_shift_table", i));
    snprintf(p, sizeof p, "blocks.%d.attn1", i);
    DG_TRY(bind_attn(b, &blk->self_attn, p, D));
    snprintf(p, sizeof p, "blocks.%d.attn2", i);
    DG_TRY(bind_attn(b, &blk->cross_attn, p, D));
    if (c->cross_attn_norm) {
        DG_TRY(dg_weight_bind_vec(b, &blk->norm2_w, D, "blocks.%d.norm2.weight", i));
        DG_TRY(dg_weight_bind_vec(b, &blk->norm2_b, D, "blocks.%d.norm2.bias", i));
    }
    DG_TRY(dg_weight_bind_linear(b, &blk->ffn1_w, &blk->ffn1_b, c->ffn_dim, D, "blocks.%d.ffn.net.0.proj", i));
    return dg_weight_bind_linear(b, &blk->ffn2_w, &blk->ffn2_b, D, c->ffn_dim, "blocks.%d.ffn.net.2", i);
}

static int bind_all(dg_weight_binder *b, void *model) {
    dg_wan_model *m = model;
    const dg_wan_config *c = &m->cfg;
    int64_t D = c->dim;
    int64_t pk = (int64_t)c->in_channels * c->patch[0] * c->patch[1] * c->patch[2];
    int64_t pshape[5] = {D, c->in_channels, c->patch[0], c->patch[1], c->patch[2]};
    int64_t mod2[3] = {1, 2, D}, D2[2] = {D, pk};
    DG_TRY(dg_weight_bind(b, &m->patch_w, 5, pshape, DG_WEIGHT_STORED, "patch_embedding.weight"));
    DG_TRY(dg_tensor_reshape(&m->patch_w, 2, D2));
    DG_TRY(dg_weight_bind_vec(b, &m->patch_b, D, "patch_embedding.bias"));
    DG_TRY(dg_weight_bind_linear(b, &m->time1_w, &m->time1_b, D, c->freq_dim,
                                 "condition_embedder.time_embedder.linear_1"));
    DG_TRY(dg_weight_bind_linear(b, &m->time2_w, &m->time2_b, D, D, "condition_embedder.time_embedder.linear_2"));
    DG_TRY(dg_weight_bind_linear(b, &m->tproj_w, &m->tproj_b, 6 * D, D, "condition_embedder.time_proj"));
    DG_TRY(dg_weight_bind_linear(b, &m->text1_w, &m->text1_b, D, c->text_dim,
                                 "condition_embedder.text_embedder.linear_1"));
    DG_TRY(dg_weight_bind_linear(b, &m->text2_w, &m->text2_b, D, D, "condition_embedder.text_embedder.linear_2"));
    DG_TRY(dg_weight_bind(b, &m->head_modulation, 3, mod2, DG_WEIGHT_F32, "scale_shift_table"));
    DG_TRY(dg_weight_bind_linear(b, &m->proj_out_w, &m->proj_out_b,
                                 (int64_t)c->out_channels * c->patch[0] * c->patch[1] * c->patch[2], D, "proj_out"));
    for (int i = 0; i < c->num_layers; i++) DG_TRY(bind_block(b, c, &m->blocks[i], i));
    return DG_OK;
}

/* 'norm_added_q' tensors, which some diffusers exports carry, are never read by the forward pass. */
static int ignorable(const char *name) { return strstr(name, "norm_added_q") != NULL; }

/* Which tensor naming the checkpoint uses: original Wan (1) or diffusers (0). */
static int detect_layout(const dg_safetensors *st, const char *path, int *original) {
    *original = dg_safetensors_find(st, "patch_embedding.weight") && dg_safetensors_find(st, "time_embedding.0.weight");
    DG_CHECK(*original || dg_safetensors_find(st, "condition_embedder.time_embedder.linear_1.weight"),
             "%s: not a Wan2.1 transformer checkpoint (neither 'condition_embedder.time_embedder.linear_1.weight' "
             "(diffusers) nor 'patch_embedding.weight' + 'time_embedding.0.weight' (original Wan))", path);
    return DG_OK;
}

int dg_wan_load(dg_wan_model *m, dg_backend *be, const char *path) {
    memset(m, 0, sizeof *m);
    m->be = be;
    dg_model_folder f; /* a folder needs its config.json; a lone file may have one beside it */
    DG_TRY(dg_model_folder_resolve(&f, path));
    DG_CHECK(f.transformer_config[0] || f.layout == DG_MODEL_TRANSFORMER_FILE, "%s/config.json: no such file",
             f.transformer);
    if (f.transformer_config[0]) DG_TRY(dg_wan_config_load(&m->cfg, f.transformer_config));
    const char *weights = f.transformer_weights;
    int original;
    if (dg_safetensors_open(&m->st, weights) != DG_OK) return DG_ERR;
    if (detect_layout(&m->st, weights, &original) != DG_OK ||
        dg_wan_config_infer(&m->cfg, &m->st, original, weights) != DG_OK) {
        dg_wan_free(m);
        return DG_ERR;
    }
    m->blocks = calloc((size_t)m->cfg.num_layers, sizeof *m->blocks);
    if (!m->blocks) {
        dg_wan_free(m);
        return dg_error("out of memory loading the transformer from '%s'", path);
    }
    char config[32];
    snprintf(config, sizeof config, "num_layers %d", m->cfg.num_layers);
    dg_weight_binding spec = {.what = "the transformer", .path = path, .config = config,
                              .rename = original ? dg_wan_original_name : NULL, .ignorable = ignorable,
                              .bind_all = bind_all, .model = m};
    if (dg_weight_bind_model(&m->weights, be, &m->st, &spec) != DG_OK) {
        dg_wan_free(m);
        return DG_ERR;
    }
    return DG_OK;
}

/* The blocks' matrices, in a fixed order. */
enum { MATRICES_PER_BLOCK = 10 };
static dg_tensor *block_matrix(dg_wan_block *blk, int i) {
    dg_tensor *const all[MATRICES_PER_BLOCK] = {&blk->self_attn.q_w,  &blk->self_attn.k_w,  &blk->self_attn.v_w,
                                                &blk->self_attn.o_w,  &blk->cross_attn.q_w, &blk->cross_attn.k_w,
                                                &blk->cross_attn.v_w, &blk->cross_attn.o_w, &blk->ffn1_w,
                                                &blk->ffn2_w};
    return all[i];
}

int dg_wan_round_blocks_bf16(dg_wan_model *m) {
    DG_CHECK(m->be->kind == DG_BACKEND_CPU, "bf16 rounding of the transformer's weights: CPU models only");
    if (m->rounded.base) return DG_OK;
    size_t bytes = 0;
    for (int l = 0; l < m->cfg.num_layers; l++)
        for (int i = 0; i < MATRICES_PER_BLOCK; i++) {
            const dg_tensor *t = block_matrix(&m->blocks[l], i);
            if (t->dtype != DG_BF16) bytes += ((size_t)dg_tensor_numel(t) * sizeof(uint16_t) + 63) & ~(size_t)63;
        }
    if (!bytes) return DG_OK; /* bf16 already */
    DG_TRY(dg_weight_store_init(&m->rounded, m->be, bytes));
    for (int l = 0; l < m->cfg.num_layers; l++)
        for (int i = 0; i < MATRICES_PER_BLOCK; i++) {
            dg_tensor *t = block_matrix(&m->blocks[l], i);
            if (t->dtype == DG_BF16) continue;
            const size_t n = (size_t)dg_tensor_numel(t), esize = dg_dtype_size(t->dtype);
            uint16_t *d = (uint16_t *)(m->rounded.base + m->rounded.used);
            m->rounded.used += (n * sizeof(uint16_t) + 63) & ~(size_t)63;
            /* f32 or f16 source, through f32 in chunks; ~1 G values/s per thread */
            #pragma omp parallel for schedule(static)
            for (size_t c = 0; c < n; c += 4096) {
                float chunk[4096];
                const size_t k = n - c < 4096 ? n - c : 4096;
                dg_convert_to_f32(chunk, (const char *)t->data + c * esize, t->dtype, k);
                dg_convert_from_f32(d + c, DG_BF16, chunk, k);
            }
            t->data = d, t->dtype = DG_BF16;
        }
    return DG_OK;
}

dg_dtype dg_wan_compute_dtype(const dg_wan_model *m) {
    const int bf16_weights = m->cfg.num_layers > 0 && m->blocks[0].self_attn.q_w.dtype == DG_BF16;
    return bf16_weights && dg_backend_cpu_dtype(m->be) == DG_BF16 ? DG_BF16 : DG_F32;
}

void dg_wan_free(dg_wan_model *m) {
    dg_weight_store_free(&m->rounded);
    dg_weight_store_free(&m->weights);
    free(m->blocks);
    dg_safetensors_close(&m->st);
    memset(m, 0, sizeof *m);
}
