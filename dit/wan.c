#include "dit/wan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "core/error.h"
#include "core/ops.h"
#include "io/model_folder.h"

/* ---- weight binding ---------------------------------------------------- */

typedef struct bind_ctx {
    dg_wan_model *m;
    const char *path;   /* for messages */
    unsigned char *used; /* per checkpoint tensor: bound? */
    int original;        /* original Wan tensor names */
} bind_ctx;

/* Bind checkpoint tensor `dname` (diffusers name) to t, checking its shape.
 * Matrices (linear weights) keep their checkpoint dtype and, on the CPU, point
 * into the mmap; everything else is converted to f32 once so the ops see f32
 * vectors. Errors name the tensor as the file does. */
static int bind(bind_ctx *b, dg_tensor *t, const char *dname, int ndim, const int64_t *shape, int keep_dtype) {
    dg_wan_model *m = b->m;
    char buf[160];
    const char *name = b->original ? dg_wan_original_name(dname, buf, sizeof buf) : dname;
    DG_CHECK(name != NULL, "%s: no original Wan name for '%s'", b->path, dname);
    const dg_st_tensor *s = dg_safetensors_find(&m->st, name);
    DG_CHECK(s != NULL, "%s: missing tensor '%s'", b->path, name);
    b->used[s - m->st.tensors] = 1;
    dg_tensor src;
    DG_TRY(dg_tensor_view(&src, m->be, s->dtype, s->ndim, s->shape, (void *)s->data));
    src.name = s->name;
    char msg[256];
    snprintf(msg, sizeof msg, "%s: tensor '%s'", b->path, name);
    DG_TRY(dg_tensor_expect_shape(&src, msg, ndim, shape));
    if (dg_weight_store_bind(&m->weights, t, s, ndim, shape, keep_dtype) != DG_OK)
        return dg_error_wrap("%s: ", b->path);
    return DG_OK;
}

static int bind_linear(bind_ctx *b, dg_tensor *w, dg_tensor *bias, const char *prefix, int64_t out, int64_t in) {
    char name[160];
    int64_t ws[2] = {out, in}, bs[1] = {out};
    snprintf(name, sizeof name, "%s.weight", prefix);
    DG_TRY(bind(b, w, name, 2, ws, 1));
    snprintf(name, sizeof name, "%s.bias", prefix);
    return bind(b, bias, name, 1, bs, 0);
}

static int bind_vec(bind_ctx *b, dg_tensor *t, const char *prefix, const char *suffix, int64_t n) {
    char name[160];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    return bind(b, t, name, 1, &n, 0);
}

static int bind_attn(bind_ctx *b, dg_wan_attn *a, const char *prefix, int64_t D) {
    char p[128];
    snprintf(p, sizeof p, "%s.to_q", prefix);
    DG_TRY(bind_linear(b, &a->q_w, &a->q_b, p, D, D));
    snprintf(p, sizeof p, "%s.to_k", prefix);
    DG_TRY(bind_linear(b, &a->k_w, &a->k_b, p, D, D));
    snprintf(p, sizeof p, "%s.to_v", prefix);
    DG_TRY(bind_linear(b, &a->v_w, &a->v_b, p, D, D));
    snprintf(p, sizeof p, "%s.to_out.0", prefix);
    DG_TRY(bind_linear(b, &a->o_w, &a->o_b, p, D, D));
    DG_TRY(bind_vec(b, &a->norm_q, prefix, "norm_q.weight", D));
    return bind_vec(b, &a->norm_k, prefix, "norm_k.weight", D);
}

/* Upper bound of the f32 storage for converted small tensors (and for all
 * weights when they must be copied to a device). */
static size_t owned_bytes(const dg_wan_model *m) {
    size_t total = 0;
    for (int i = 0; i < m->st.n_tensors; i++) total += dg_weight_store_need(&m->st.tensors[i]);
    return total;
}

static int bind_all(dg_wan_model *m, const char *path, int original) {
    const dg_wan_config *c = &m->cfg;
    int64_t D = c->dim;
    bind_ctx b = {m, path, calloc((size_t)m->st.n_tensors + 1, 1), original};
    DG_CHECK_ALLOC(b.used);
    int rc = DG_ERR;
    int64_t pk = (int64_t)c->in_channels * c->patch[0] * c->patch[1] * c->patch[2];
    int64_t pshape[5] = {D, c->in_channels, c->patch[0], c->patch[1], c->patch[2]};
    int64_t mod6[3] = {1, 6, D}, mod2[3] = {1, 2, D}, D2[2] = {D, pk};
    char p[128];
    if (bind(&b, &m->patch_w, "patch_embedding.weight", 5, pshape, 1) ||
        dg_tensor_reshape(&m->patch_w, 2, D2) ||
        bind_vec(&b, &m->patch_b, "patch_embedding", "bias", D) ||
        bind_linear(&b, &m->time1_w, &m->time1_b, "condition_embedder.time_embedder.linear_1", D, c->freq_dim) ||
        bind_linear(&b, &m->time2_w, &m->time2_b, "condition_embedder.time_embedder.linear_2", D, D) ||
        bind_linear(&b, &m->tproj_w, &m->tproj_b, "condition_embedder.time_proj", 6 * D, D) ||
        bind_linear(&b, &m->text1_w, &m->text1_b, "condition_embedder.text_embedder.linear_1", D, c->text_dim) ||
        bind_linear(&b, &m->text2_w, &m->text2_b, "condition_embedder.text_embedder.linear_2", D, D) ||
        bind(&b, &m->head_modulation, "scale_shift_table", 3, mod2, 0) ||
        bind_linear(&b, &m->proj_out_w, &m->proj_out_b, "proj_out",
                    (int64_t)c->out_channels * c->patch[0] * c->patch[1] * c->patch[2], D))
        goto done;
    for (int i = 0; i < c->num_layers; i++) {
        dg_wan_block *blk = &m->blocks[i];
        snprintf(p, sizeof p, "blocks.%d.scale_shift_table", i);
        if (bind(&b, &blk->modulation, p, 3, mod6, 0)) goto done;
        snprintf(p, sizeof p, "blocks.%d.attn1", i);
        if (bind_attn(&b, &blk->self_attn, p, D)) goto done;
        snprintf(p, sizeof p, "blocks.%d.attn2", i);
        if (bind_attn(&b, &blk->cross_attn, p, D)) goto done;
        snprintf(p, sizeof p, "blocks.%d.norm2", i);
        if (c->cross_attn_norm &&
            (bind_vec(&b, &blk->norm2_w, p, "weight", D) || bind_vec(&b, &blk->norm2_b, p, "bias", D)))
            goto done;
        snprintf(p, sizeof p, "blocks.%d.ffn.net.0.proj", i);
        if (bind_linear(&b, &blk->ffn1_w, &blk->ffn1_b, p, c->ffn_dim, D)) goto done;
        snprintf(p, sizeof p, "blocks.%d.ffn.net.2", i);
        if (bind_linear(&b, &blk->ffn2_w, &blk->ffn2_b, p, D, c->ffn_dim)) goto done;
    }
    /* A tensor the config does not account for means config and weights disagree. */
    for (int i = 0; i < m->st.n_tensors; i++) {
        const char *name = m->st.tensors[i].name;
        if (!b.used[i] && !strstr(name, "norm_added_q")) {
            dg_error("%s: tensor '%s' is not used by the config (num_layers %d) - config and weights disagree",
                     path, name, c->num_layers);
            goto done;
        }
    }
    rc = DG_OK;
done:
    free(b.used);
    return rc;
}

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
    if (dg_weight_store_init(&m->weights, be, owned_bytes(m)) != DG_OK) {
        dg_wan_free(m);
        return dg_error_wrap("loading the transformer from '%s': ", path);
    }
    if (bind_all(m, path, original) != DG_OK) {
        dg_wan_free(m);
        return DG_ERR;
    }
    return DG_OK;
}

void dg_wan_free(dg_wan_model *m) {
    dg_weight_store_free(&m->weights);
    free(m->blocks);
    dg_safetensors_close(&m->st);
    memset(m, 0, sizeof *m);
}
