#include "dit/wan.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "attention/attention.h"
#ifdef DG_HAVE_CUDA
#include "attention/cuda/attention_cuda.h"
#endif
#include "core/error.h"
#include "core/ops.h"
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

static int is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The weights of a transformer folder: its only .safetensors file whatever its
 * name, else the folder itself (standard names, sharded sets). */
static void weights_in(const char *dir, char *out, size_t len) {
    snprintf(out, len, "%s", dir);
    DIR *d = opendir(dir);
    if (!d) return;
    int n = 0;
    char only[1024] = "";
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l > 12 && !strcmp(e->d_name + l - 12, ".safetensors") && n++ == 0)
            snprintf(only, sizeof only, "%s", e->d_name);
    }
    closedir(d);
    if (n == 1) snprintf(out, len, "%s/%s", dir, only);
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
    char cfg[4096], weights[4096];
    int file = is_file(path);
    if (file) {
        const char *slash = strrchr(path, '/');
        snprintf(cfg, sizeof cfg, "%.*sconfig.json", slash ? (int)(slash + 1 - path) : 0, path);
        snprintf(weights, sizeof weights, "%s", path);
    } else {
        snprintf(cfg, sizeof cfg, "%s/config.json", path);
        weights_in(path, weights, sizeof weights);
    }
    if (!file || is_file(cfg)) DG_TRY(dg_wan_config_load(&m->cfg, cfg));
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
    dg_weight_binding spec = {"the transformer", path, config, original ? dg_wan_original_name : NULL, ignorable,
                              bind_all, m};
    if (dg_weight_bind_model(&m->weights, be, &m->st, &spec) != DG_OK) {
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

/* ---- forward ----------------------------------------------------------- */

size_t dg_wan_tokens(const dg_wan_config *c, int64_t F, int64_t H, int64_t W) {
    return (size_t)(F / c->patch[0]) * (size_t)(H / c->patch[1]) * (size_t)(W / c->patch[2]);
}

size_t dg_wan_arena_bytes(const dg_wan_config *c, int F, int H, int W, int L) {
    size_t N = dg_wan_tokens(c, F, H, W);
    size_t D = (size_t)c->dim, pk = (size_t)c->patch[0] * c->patch[1] * c->patch[2];
    size_t wide = D > (size_t)c->ffn_dim ? D : (size_t)c->ffn_dim;
    if (wide < pk * c->in_channels) wide = pk * c->in_channels;
    size_t floats = N * pk * (size_t)(c->in_channels + c->out_channels) /* patches in/out */
                    + 6 * N * D                                            /* h, a, q, k, v, o */
                    + N * wide                                             /* ffn hidden */
                    + 2 * N * (size_t)c->head_dim                          /* rope tables */
                    + (size_t)L * 4 * D                                    /* text path: 2 embeds, cross k, v */
                    + 16 * D + (size_t)c->freq_dim;                        /* conditioning */
    return floats * sizeof(float) + 64 * 32; /* + alignment of each of the 21 tensors */
}

static void tap(const dg_wan_run *r, const char *name, const dg_tensor *x) {
    if (r && r->tap) r->tap(r->user, name, x);
}

dg_attn_geometry dg_wan_attn_geometry(const dg_wan_config *c, int F, int H, int W) {
    return (dg_attn_geometry){.T = F / c->patch[0], .H = H / c->patch[1], .W = W / c->patch[2],
                              .heads = c->heads, .head_dim = c->head_dim};
}

/* q [nq, heads x hd] against k [nk, heads x hd], rows packed. */
static dg_attn_shape attn_shape(const dg_tensor *q, const dg_tensor *k, int heads) {
    int hd = (int)(q->shape[1] / heads);
    return (dg_attn_shape){q->shape[0], k->shape[0], heads, hd, q->shape[1], k->shape[1], 1.0f / sqrtf((float)hd)};
}

static int attention(dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v, int heads) {
    dg_attn_shape s = attn_shape(q, k, heads);
#ifdef DG_HAVE_CUDA
    if (o->backend->kind == DG_BACKEND_CUDA) return dg_attention_dense_cuda(o->data, q->data, k->data, v->data, &s);
#endif
    DG_CHECK(o->backend->kind == DG_BACKEND_CPU, "attention: only the CPU and CUDA backends are implemented");
    return dg_attention_dense_cpu(o->data, q->data, k->data, v->data, &s);
}

/* One method on some heads, on the CPU or (device pointers) the GPU. */
static int run_method(dg_attn_method *m, const dg_backend *be, float *o, const float *q, const float *k,
                      const float *v, const dg_attn_shape *s) {
    if (be->kind == DG_BACKEND_CUDA) return dg_attn_method_run_cuda(m, o, q, k, v, s);
    return m->ops->run(m, o, q, k, v, s);
}

/* Self-attention through the plan's method for each head; heads sharing a
 * method run in one call, the others one head at a time. */
static int self_attention_dispatch(const dg_wan_run *r, int layer, dg_tensor *o, const dg_tensor *q,
                                   const dg_tensor *k, const dg_tensor *v, int heads) {
    if (!r || !r->plan) return attention(o, q, k, v, heads);
    dg_attn_shape s = attn_shape(q, k, heads);
    dg_attn_method *first = dg_attn_plan_method(r->plan, r->step, r->steps, layer, 0);
    int shared = 1;
    for (int h = 1; h < heads && shared; h++)
        shared = dg_attn_plan_method(r->plan, r->step, r->steps, layer, h) == first;
    if (shared) return run_method(first, o->backend, o->data, q->data, k->data, v->data, &s);
    s.heads = 1;
    for (int h = 0; h < heads; h++) {
        dg_attn_method *mh = dg_attn_plan_method(r->plan, r->step, r->steps, layer, h);
        size_t off = (size_t)h * s.head_dim;
        DG_TRY(run_method(mh, o->backend, (float *)o->data + off, (const float *)q->data + off,
                          (const float *)k->data + off, (const float *)v->data + off, &s));
    }
    return DG_OK;
}

/* The layer's heads blended toward identity (SoftPAG), after whatever method computed o. */
static int perturb_heads(const dg_wan_run *r, int layer, dg_tensor *o, const dg_tensor *q, const dg_tensor *k,
                         const dg_tensor *v, int heads) {
    const float *u = r->perturb + (size_t)layer * heads;
    int any = 0;
    for (int h = 0; h < heads; h++) any |= u[h] != 0.0f;
    if (!any) return DG_OK;
    dg_attn_shape s = attn_shape(q, k, heads);
#ifdef DG_HAVE_CUDA
    if (o->backend->kind == DG_BACKEND_CUDA) return dg_attn_perturb_heads_cuda(o->data, v->data, &s, u);
#endif
    dg_attn_perturb_heads(o->data, v->data, &s, u);
    return DG_OK;
}

/* Timed: on the GPU the stream is drained around the call so the time is the kernels'. */
static int self_attention(dg_wan_run *r, int layer, dg_tensor *o, const dg_tensor *q, const dg_tensor *k,
                          const dg_tensor *v, int heads) {
    if (r) DG_TRY(dg_backend_sync(o->backend));
    double t0 = omp_get_wtime();
    int rc = self_attention_dispatch(r, layer, o, q, k, v, heads);
    if (r && r->perturb && rc == DG_OK) rc = perturb_heads(r, layer, o, q, k, v, heads);
    if (r && rc == DG_OK) rc = dg_backend_sync(o->backend);
    if (r) r->attn_seconds += omp_get_wtime() - t0;
    return rc;
}

/* Offset into a backend f32 vector (a row of a modulation table). */
static float *row(const dg_tensor *t, int i, int64_t D) { return (float *)t->data + (size_t)i * D; }

/* Row i of a [.., D] f32 table as a [1, D] tensor. */
static dg_tensor row_view(const dg_tensor *t, int i, int64_t D) {
    dg_tensor r = *t;
    r.ndim = 2;
    r.shape[0] = 1;
    r.shape[1] = D;
    r.data = row(t, i, D);
    return r;
}

int dg_wan_forward(dg_wan_model *m, dg_arena *ar, const dg_tensor *x, float t, const dg_tensor *ctx,
                   dg_tensor *out, dg_wan_run *tp) {
    const dg_wan_config *c = &m->cfg;
    DG_CHECK(x->ndim == 4 && x->shape[0] == c->in_channels, "transformer input must be [%d, F, H, W]",
             c->in_channels);
    int64_t F = x->shape[1], H = x->shape[2], W = x->shape[3];
    DG_CHECK(F % c->patch[0] == 0 && H % c->patch[1] == 0 && W % c->patch[2] == 0,
             "latent %lldx%lldx%lld is not divisible by the patch size %dx%dx%d", (long long)F, (long long)H,
             (long long)W, c->patch[0], c->patch[1], c->patch[2]);
    int64_t Fp = F / c->patch[0], Hp = H / c->patch[1], Wp = W / c->patch[2];
    DG_CHECK(Fp <= c->rope_max_seq_len && Hp <= c->rope_max_seq_len && Wp <= c->rope_max_seq_len,
             "latent grid %lldx%lldx%lld exceeds rope_max_seq_len %d", (long long)Fp, (long long)Hp, (long long)Wp,
             c->rope_max_seq_len);
    DG_CHECK(ctx->ndim == 2 && ctx->shape[1] == c->text_dim, "text context must be [L, %d]", c->text_dim);
    int64_t oshape[4] = {c->out_channels, F, H, W};
    DG_TRY(dg_tensor_expect_shape(out, "transformer output", 4, oshape));

    int64_t N = Fp * Hp * Wp, D = c->dim, L = ctx->shape[0], pk = (int64_t)c->patch[0] * c->patch[1] * c->patch[2];
    size_t mark = dg_arena_mark(ar);
    int rc = DG_ERR;
    dg_tensor patches, h, a, q, k, v, o, ff, rc_cos, rc_sin, sinus, temb, temb_act, tproj, mods, hmods, ctx1, ctxe,
        k2, v2, y;
#define A(t, nm, nd, ...)                                                                                  \
    do {                                                                                                   \
        int64_t s_[] = {__VA_ARGS__};                                                                      \
        if (dg_arena_tensor(ar, &t, nm, DG_F32, nd, s_)) goto done;                                        \
    } while (0)
    A(patches, "patches", 2, N, pk * c->in_channels);
    A(h, "hidden", 2, N, D);
    A(a, "normed", 2, N, D);
    A(q, "q", 2, N, D);
    A(k, "k", 2, N, D);
    A(v, "v", 2, N, D);
    A(o, "attn_out", 2, N, D);
    A(ff, "ffn_hidden", 2, N, c->ffn_dim);
    A(rc_cos, "rope_cos", 2, N, c->head_dim);
    A(rc_sin, "rope_sin", 2, N, c->head_dim);
    A(sinus, "t_sinusoid", 2, 1, c->freq_dim);
    A(temb, "temb", 2, 1, D);
    A(temb_act, "temb_silu", 2, 1, D);
    A(tproj, "tproj", 2, 1, 6 * D);
    A(mods, "modulation", 2, 1, 6 * D);
    A(hmods, "head_modulation", 2, 1, 2 * D);
    A(ctx1, "ctx_hidden", 2, L, D);
    A(ctxe, "ctx", 2, L, D);
    A(k2, "cross_k", 2, L, D);
    A(v2, "cross_v", 2, L, D);
    A(y, "proj_out", 2, N, pk * c->out_channels);
#undef A

    /* RoPE tables and the timestep sinusoid are cheap host computations. */
    {
        int hw = 2 * (c->head_dim / 6);
        int dims[3] = {c->head_dim - 2 * hw, hw, hw};
        float *cs = malloc((size_t)N * c->head_dim * 2 * sizeof(float));
        float *sn = malloc((size_t)c->freq_dim * sizeof(float));
        int ok = cs && sn && dg_rope3d_tables(cs, cs + N * c->head_dim, (int)Fp, (int)Hp, (int)Wp, dims, 10000.0) == DG_OK;
        if (ok) {
            dg_timestep_sinusoid(sn, c->freq_dim, t, 1, 0.0f);
            ok = dg_tensor_upload(&rc_cos, cs) == DG_OK && dg_tensor_upload(&rc_sin, cs + N * c->head_dim) == DG_OK &&
                 dg_tensor_upload(&sinus, sn) == DG_OK;
        }
        free(cs);
        free(sn);
        if (!ok) {
            if (!cs || !sn) dg_error("out of memory building RoPE tables");
            goto done;
        }
    }

    /* patch embedding (a conv with kernel = stride is a linear over patches), or a saved prefix */
    int resume = tp && tp->fork == DG_WAN_FORK_RESUME, first_layer = resume ? tp->fork_layer : 0;
    if (resume && (first_layer < 0 || first_layer >= c->num_layers)) {
        dg_error("fork layer %d is not a block of this model", first_layer);
        goto done;
    }
    if (resume ? dg_tensor_upload(&h, tp->fork_hidden)
               : (dg_patchify(&patches, x, c->patch) || dg_linear(&h, &patches, &m->patch_w, &m->patch_b)))
        goto done;
    if (!resume) tap(tp, "patch", &h);

    /* condition embedder */
    if (dg_linear(&temb_act, &sinus, &m->time1_w, &m->time1_b) || dg_silu(&temb_act, &temb_act) ||
        dg_linear(&temb, &temb_act, &m->time2_w, &m->time2_b) || dg_silu(&temb_act, &temb) ||
        dg_linear(&tproj, &temb_act, &m->tproj_w, &m->tproj_b))
        goto done;
    tap(tp, "temb", &temb);
    tap(tp, "tproj", &tproj);
    if (dg_linear(&ctx1, ctx, &m->text1_w, &m->text1_b) || dg_gelu_tanh(&ctx1, &ctx1) ||
        dg_linear(&ctxe, &ctx1, &m->text2_w, &m->text2_b))
        goto done;
    tap(tp, "ctx", &ctxe);

    for (int li = first_layer; li < c->num_layers; li++) {
        dg_wan_block *blk = &m->blocks[li];
        if (tp && tp->fork == DG_WAN_FORK_SAVE && li == tp->fork_layer && dg_tensor_download(&h, tp->fork_hidden))
            goto done;
        /* shift1, scale1, gate1, shift2, scale2, gate2 = table + projected temb */
        if (dg_add(&mods, &blk->modulation, &tproj)) goto done;
        /* 1. self-attention */
        if (dg_layernorm(&a, &h, NULL, NULL, c->eps) || dg_modulate(&a, &a, row(&mods, 0, D), row(&mods, 1, D)))
            goto done;
        dg_wan_attn *sa = &blk->self_attn;
        if (dg_linear(&q, &a, &sa->q_w, &sa->q_b) || dg_rmsnorm(&q, &q, &sa->norm_q, c->eps) ||
            dg_linear(&k, &a, &sa->k_w, &sa->k_b) || dg_rmsnorm(&k, &k, &sa->norm_k, c->eps) ||
            dg_linear(&v, &a, &sa->v_w, &sa->v_b))
            goto done;
        {
            dg_tensor q3 = q, k3 = k;
            int64_t s3[3] = {N, c->heads, c->head_dim};
            if (dg_tensor_reshape(&q3, 3, s3) || dg_tensor_reshape(&k3, 3, s3) || dg_rope(&q3, &rc_cos, &rc_sin) ||
                dg_rope(&k3, &rc_cos, &rc_sin))
                goto done;
        }
        if (self_attention(tp, li, &o, &q, &k, &v, c->heads) || dg_linear(&a, &o, &sa->o_w, &sa->o_b) ||
            dg_gated_add(&h, &a, row(&mods, 2, D)))
            goto done;
        /* 2. cross-attention on the text context: no modulation, no RoPE, no mask */
        dg_wan_attn *ca = &blk->cross_attn;
        if (dg_layernorm(&a, &h, c->cross_attn_norm ? &blk->norm2_w : NULL, c->cross_attn_norm ? &blk->norm2_b : NULL,
                         c->eps) ||
            dg_linear(&q, &a, &ca->q_w, &ca->q_b) || dg_rmsnorm(&q, &q, &ca->norm_q, c->eps) ||
            dg_linear(&k2, &ctxe, &ca->k_w, &ca->k_b) || dg_rmsnorm(&k2, &k2, &ca->norm_k, c->eps) ||
            dg_linear(&v2, &ctxe, &ca->v_w, &ca->v_b) || attention(&o, &q, &k2, &v2, c->heads) ||
            dg_linear(&a, &o, &ca->o_w, &ca->o_b) || dg_gated_add(&h, &a, NULL))
            goto done;
        /* 3. feed-forward */
        if (dg_layernorm(&a, &h, NULL, NULL, c->eps) || dg_modulate(&a, &a, row(&mods, 3, D), row(&mods, 4, D)) ||
            dg_linear(&ff, &a, &blk->ffn1_w, &blk->ffn1_b) || dg_gelu_tanh(&ff, &ff) ||
            dg_linear(&o, &ff, &blk->ffn2_w, &blk->ffn2_b) || dg_gated_add(&h, &o, row(&mods, 5, D)))
            goto done;
        char name[32];
        snprintf(name, sizeof name, "block%d", li);
        tap(tp, name, &h);
    }

    /* head: shift, scale = table[2, D] + temb (pre-SiLU) on both rows */
    for (int r = 0; r < 2; r++) {
        dg_tensor dst = row_view(&hmods, r, D), tab = row_view(&m->head_modulation, r, D);
        if (dg_add(&dst, &tab, &temb)) goto done;
    }
    if (dg_layernorm(&a, &h, NULL, NULL, c->eps) || dg_modulate(&a, &a, row(&hmods, 0, D), row(&hmods, 1, D)) ||
        dg_linear(&y, &a, &m->proj_out_w, &m->proj_out_b) || dg_unpatchify(out, &y, c->patch))
        goto done;
    rc = DG_OK;
done:
    dg_arena_reset(ar, mark);
    return rc;
}
