/* AutoencoderKLWan decoder: weight binding by diffusers tensor name, with
 * every shape derived from the config and checked. */
#include "vae/wan_vae.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/weight_binder.h"

/* Every VAE weight is f32 for the ops: f32 checkpoint tensors point into the
 * mmap (on the CPU), others are converted once into the weight store. */
static int bind(dg_weight_binder *b, dg_tensor *t, const char *name, int ndim, const int64_t *shape) {
    return dg_weight_bind(b, t, ndim, shape, DG_WEIGHT_F32_MAPPED, "%s", name);
}

/* A conv `prefix`.{weight,bias}: 3D weight [cout, cin, kt, k, k] when kt > 0,
 * 2D [cout, cin, k, k] when kt == 0. */
static int bind_conv(dg_weight_binder *b, dg_wan_vae_conv *c, const char *prefix, int cin, int cout, int kt, int k) {
    char name[192];
    c->cin = cin, c->cout = cout, c->kt = kt > 0 ? kt : 1;
    int64_t w5[5] = {cout, cin, kt, k, k}, w4[4] = {cout, cin, k, k}, bs[1] = {cout};
    snprintf(name, sizeof name, "%s.weight", prefix);
    DG_TRY(kt > 0 ? bind(b, &c->w, name, 5, w5) : bind(b, &c->w, name, 4, w4));
    snprintf(name, sizeof name, "%s.bias", prefix);
    return bind(b, &c->b, name, 1, bs);
}

/* A norm gamma: [C, 1, 1, 1] in residual/head norms, [C, 1, 1] in attention. */
static int bind_gamma(dg_weight_binder *b, dg_tensor *t, const char *prefix, int C, int ndim) {
    char name[192];
    int64_t s[4] = {C, 1, 1, 1};
    snprintf(name, sizeof name, "%s.gamma", prefix);
    return bind(b, t, name, ndim, s);
}

static int bind_res(dg_weight_binder *b, dg_wan_vae_res *r, const char *prefix, int cin, int cout) {
    char p[160];
    snprintf(p, sizeof p, "%s.norm1", prefix);
    DG_TRY(bind_gamma(b, &r->norm1, p, cin, 4));
    snprintf(p, sizeof p, "%s.conv1", prefix);
    DG_TRY(bind_conv(b, &r->conv1, p, cin, cout, 3, 3));
    snprintf(p, sizeof p, "%s.norm2", prefix);
    DG_TRY(bind_gamma(b, &r->norm2, p, cout, 4));
    snprintf(p, sizeof p, "%s.conv2", prefix);
    DG_TRY(bind_conv(b, &r->conv2, p, cout, cout, 3, 3));
    if (cin == cout) return DG_OK;
    snprintf(p, sizeof p, "%s.conv_shortcut", prefix);
    return bind_conv(b, &r->shortcut, p, cin, cout, 1, 1);
}

/* Tensors only the encoder uses (decoding ignores them). */
static int is_encoder_side(const char *name) {
    return !strncmp(name, "encoder.", 8) || !strncmp(name, "quant_conv.", 11);
}

static int bind_all(dg_weight_binder *b, void *model) {
    dg_wan_vae *v = model;
    const dg_wan_vae_config *c = &v->cfg;
    const int n = c->n_levels;
    /* diffusers WanDecoder3d: dims = base * ([mult[-1]] + reversed(mult)) */
    int dims[DG_WAN_VAE_MAX_LEVELS + 1];
    dims[0] = c->base_dim * c->dim_mult[n - 1];
    for (int i = 0; i < n; i++) dims[i + 1] = c->base_dim * c->dim_mult[n - 1 - i];

    char p[160];
    if (bind_conv(b, &v->post_quant, "post_quant_conv", c->z_dim, c->z_dim, 1, 1) ||
        bind_conv(b, &v->conv_in, "decoder.conv_in", c->z_dim, dims[0], 3, 3) ||
        bind_res(b, &v->mid[0], "decoder.mid_block.resnets.0", dims[0], dims[0]) ||
        bind_gamma(b, &v->attn_norm, "decoder.mid_block.attentions.0.norm", dims[0], 3) ||
        bind_conv(b, &v->attn_qkv, "decoder.mid_block.attentions.0.to_qkv", dims[0], 3 * dims[0], 0, 1) ||
        bind_conv(b, &v->attn_proj, "decoder.mid_block.attentions.0.proj", dims[0], dims[0], 0, 1) ||
        bind_res(b, &v->mid[1], "decoder.mid_block.resnets.1", dims[0], dims[0]))
        return DG_ERR;
    for (int i = 0; i < n; i++) {
        dg_wan_vae_up *u = &v->up[i];
        /* Wan2.1's upsamplers halve the width (the next block starts at half); Wan2.2's keep it */
        int cur = i > 0 && !c->residual ? dims[i] / 2 : dims[i], out = dims[i + 1];
        for (int r = 0; r <= c->num_res_blocks; r++) {
            snprintf(p, sizeof p, "decoder.up_blocks.%d.resnets.%d", i, r);
            if (bind_res(b, &u->res[r], p, cur, out)) return DG_ERR;
            cur = out;
        }
        u->mode = i == n - 1 ? DG_WAN_UP_NONE : c->temporal_up[i] ? DG_WAN_UP_3D : DG_WAN_UP_2D;
        if (u->mode == DG_WAN_UP_NONE) continue;
        /* WanResidualUpBlock names its one upsampler `upsampler`, WanUpBlock a list `upsamplers` */
        const char *up = c->residual ? "upsampler" : "upsamplers.0";
        snprintf(p, sizeof p, "decoder.up_blocks.%d.%s.resample.1", i, up);
        if (bind_conv(b, &u->resample, p, out, c->residual ? out : out / 2, 0, 3)) return DG_ERR;
        snprintf(p, sizeof p, "decoder.up_blocks.%d.%s.time_conv", i, up);
        if (u->mode == DG_WAN_UP_3D && bind_conv(b, &u->time_conv, p, out, 2 * out, 3, 1)) return DG_ERR;
        if (!c->residual) continue;
        /* DupUp3D repeats each input channel over out * cells / in output cells */
        const int cells = (u->mode == DG_WAN_UP_3D ? 2 : 1) * 4;
        DG_CHECK(out * cells % dims[i] == 0, "VAE up block %d: DupUp3D shortcut of %d to %d channels over %d cells "
                 "does not repeat whole channels", i, dims[i], out, cells);
        u->shortcut_in = dims[i];
    }
    const int out_ch = c->out_channels * c->patch * c->patch; /* unpatchified after the decoder */
    if (bind_gamma(b, &v->norm_out, "decoder.norm_out", dims[n], 4) ||
        bind_conv(b, &v->conv_out, "decoder.conv_out", dims[n], out_ch, 3, 3))
        return DG_ERR;
    return DG_OK;
}

int dg_wan_vae_load(dg_wan_vae *v, dg_backend *be, const char *dir) {
    memset(v, 0, sizeof *v);
    v->be = be;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    DG_TRY(dg_wan_vae_config_load(&v->cfg, path));
    if (dg_safetensors_open(&v->st, dir) != DG_OK) return DG_ERR;
    int ok = 1;
    for (int i = 0; ok && i < v->cfg.n_levels; i++)
        ok = (v->up[i].res = calloc((size_t)v->cfg.num_res_blocks + 1, sizeof(dg_wan_vae_res))) != NULL;
    if (!ok) {
        dg_wan_vae_free(v);
        return dg_error("out of memory loading the VAE from '%s'", dir);
    }
    char config[64];
    snprintf(config, sizeof config, "num_res_blocks %d, %d levels%s", v->cfg.num_res_blocks, v->cfg.n_levels,
             v->cfg.residual ? ", is_residual" : "");
    /* the encoder side is not needed to decode */
    dg_weight_binding spec = {.what = "the VAE", .path = dir, .config = config, .ignorable = is_encoder_side,
                              .bind_all = bind_all, .model = v};
    if (dg_weight_bind_model(&v->weights, be, &v->st, &spec) != DG_OK) {
        dg_wan_vae_free(v);
        return DG_ERR;
    }
    return DG_OK;
}

void dg_wan_vae_free(dg_wan_vae *v) {
    for (int i = 0; i < DG_WAN_VAE_MAX_LEVELS; i++) free(v->up[i].res);
    dg_weight_store_free(&v->weights);
    dg_arena_free(&v->state);
    dg_safetensors_close(&v->st);
    memset(v, 0, sizeof *v);
}

void dg_wan_vae_denormalize(const dg_wan_vae_config *cfg, float *z, int F, int h, int w) {
    const size_t plane = (size_t)F * h * w;
    for (int c = 0; c < cfg->z_dim; c++) {
        /* the pipeline divides by a float32 reciprocal: keep its rounding */
        const float inv = 1.0f / cfg->latents_std[c], mean = cfg->latents_mean[c];
        float *zc = z + c * plane;
        for (size_t i = 0; i < plane; i++) zc[i] = zc[i] / inv + mean;
    }
}
