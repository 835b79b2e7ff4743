/* Wan VAE decode, one latent frame (chunk) at a time as diffusers' _decode:
 * every causal conv keeps the last kt-1 frames of its input in a cache
 * (zeros at the start), which makes chunked decoding equal to a causal conv
 * over the whole video. The temporal upsamplers are the exception (diffusers'
 * "Rep" marker): chunk 0 skips time_conv and leaves its cache at zeros, so
 * output frame 0 comes from latent frame 0 alone and time_conv sees zeros in
 * place of latent frame 0's features afterwards. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "vae/wan_vae.h"

#define NBUF 4

typedef struct run {
    dg_wan_vae *v;
    float *buf[NBUF]; /* activation buffers of one chunk, each the largest activation */
    float *caches; /* all conv caches of one region */
} run;

/* An activation [c, t, h, w] living in buffer `slot`. */
typedef struct act {
    int slot;
    int64_t c, t, h, w;
} act;

static dg_tensor view(run *r, float *p, int64_t c, int64_t t, int64_t h, int64_t w) {
    dg_tensor x;
    int64_t s[4] = {c, t, h, w};
    dg_tensor_view(&x, r->v->be, DG_F32, 4, s, p);
    return x;
}

static dg_tensor aview(run *r, const act *a) { return view(r, r->buf[a->slot], a->c, a->t, a->h, a->w); }

/* A buffer other than those in use (up to three). */
static int free_slot(int u0, int u1, int u2) {
    for (int s = 0; s < NBUF; s++)
        if (s != u0 && s != u1 && s != u2) return s;
    return -1;
}

/* New cache = the last kt-1 frames of [cache, x]. */
static void cache_push(dg_wan_vae_conv *c, const dg_tensor *x) {
    const int64_t nc = c->kt - 1, T = x->shape[1], HW = x->shape[2] * x->shape[3];
    const float *xd = x->data;
    #pragma omp parallel for if (c->cin * T * HW > DG_VAE_PAR_MIN)
    for (int64_t ch = 0; ch < c->cin; ch++) {
        float *cc = c->cache + ch * nc * HW;
        const float *xc = xd + ch * T * HW;
        if (T >= nc) {
            memcpy(cc, xc + (T - nc) * HW, (size_t)(nc * HW) * sizeof(float));
        } else {
            memmove(cc, cc + T * HW, (size_t)((nc - T) * HW) * sizeof(float));
            memcpy(cc + (nc - T) * HW, xc, (size_t)(T * HW) * sizeof(float));
        }
    }
}

/* y (+)= conv(x) using and then advancing the conv's cache. */
static int conv(run *r, dg_wan_vae_conv *c, dg_tensor *y, const dg_tensor *x, int up, int acc) {
    dg_tensor cache;
    if (c->kt > 1) cache = view(r, c->cache, c->cin, c->kt - 1, x->shape[2], x->shape[3]);
    DG_TRY(dg_vae_conv3d_cpu(y, x, c->kt > 1 ? &cache : NULL, &c->w, &c->b, up, acc, &r->v->ws));
    if (c->kt > 1) cache_push(c, x);
    return DG_OK;
}

/* WanResidualBlock: x + conv2(silu(norm2(conv1(silu(norm1(x)))))), shortcut
 * conv when the width changes. */
static int resblock(run *r, dg_wan_vae_res *res, act *x) {
    const int a = free_slot(x->slot, -1, -1), b = free_slot(x->slot, a, -1);
    const int64_t cout = res->conv1.cout;
    dg_tensor X = aview(r, x), A = view(r, r->buf[a], x->c, x->t, x->h, x->w);
    dg_tensor B = view(r, r->buf[b], cout, x->t, x->h, x->w);
    DG_TRY(dg_vae_rmsnorm_cpu(&A, &X, &res->norm1, 1));
    DG_TRY(conv(r, &res->conv1, &B, &A, 0, 0));
    DG_TRY(dg_vae_rmsnorm_cpu(&B, &B, &res->norm2, 1));
    if (res->shortcut.cin) {
        const int s = free_slot(x->slot, a, b);
        dg_tensor S = view(r, r->buf[s], cout, x->t, x->h, x->w);
        DG_TRY(conv(r, &res->shortcut, &S, &X, 0, 0));
        DG_TRY(conv(r, &res->conv2, &S, &B, 0, 1));
        x->slot = s;
        x->c = cout;
        return DG_OK;
    }
    return conv(r, &res->conv2, &X, &B, 0, 1);
}

/* WanAttentionBlock: per-frame single-head attention, residual. */
static int attention(run *r, act *x) {
    dg_wan_vae *v = r->v;
    const int a = free_slot(x->slot, -1, -1), b = free_slot(x->slot, a, -1);
    dg_tensor X = aview(r, x), A = view(r, r->buf[a], x->c, x->t, x->h, x->w);
    dg_tensor QKV = view(r, r->buf[b], 3 * x->c, x->t, x->h, x->w);
    DG_TRY(dg_vae_rmsnorm_cpu(&A, &X, &v->attn_norm, 0));
    DG_TRY(conv(r, &v->attn_qkv, &QKV, &A, 0, 0));
    DG_TRY(dg_vae_attention_cpu(&A, &QKV, &v->ws));
    return conv(r, &v->attn_proj, &X, &A, 0, 1);
}

/* WanResample upsample2d / upsample3d. */
static int upsample(run *r, dg_wan_vae_up *u, act *x) {
    if (u->mode == DG_WAN_UP_3D) {
        if (!u->time_started) {
            u->time_started = 1; /* diffusers' "Rep": frame 0 passes through */
        } else {
            const int b = free_slot(x->slot, -1, -1), a = free_slot(x->slot, b, -1);
            const int64_t C = x->c, T = x->t, HW = x->h * x->w;
            dg_tensor X = aview(r, x), B = view(r, r->buf[b], 2 * C, T, x->h, x->w);
            DG_TRY(conv(r, &u->time_conv, &B, &X, 0, 0));
            /* channels [0,C) -> frame 2t, [C,2C) -> frame 2t+1 */
            const float *bd = r->buf[b];
            float *ad = r->buf[a];
            #pragma omp parallel for collapse(2) if (C * T * HW > DG_VAE_PAR_MIN)
            for (int64_t c = 0; c < C; c++)
                for (int64_t t = 0; t < 2 * T; t++)
                    memcpy(ad + (c * 2 * T + t) * HW, bd + (((t & 1) * C + c) * T + t / 2) * HW,
                           (size_t)HW * sizeof(float));
            x->slot = a;
            x->t = 2 * T;
        }
    }
    const int o = free_slot(x->slot, -1, -1);
    dg_tensor X = aview(r, x), Y = view(r, r->buf[o], u->resample.cout, x->t, 2 * x->h, 2 * x->w);
    DG_TRY(conv(r, &u->resample, &Y, &X, 1, 0));
    x->slot = o;
    x->c = u->resample.cout;
    x->h *= 2;
    x->w *= 2;
    return DG_OK;
}

/* Decode chunk k: z [z_dim, 1, th, tw] in buf[0] -> out frames [f0, f0+T). */
static int chunk(run *r, act *x, float *out, int64_t To, int64_t f0) {
    dg_wan_vae *v = r->v;
    const int n = v->cfg.n_levels;
    dg_tensor Z = aview(r, x), P = view(r, r->buf[1], x->c, 1, x->h, x->w);
    DG_TRY(conv(r, &v->post_quant, &P, &Z, 0, 0));
    x->slot = 2;
    x->c = v->conv_in.cout;
    dg_tensor Y = aview(r, x);
    DG_TRY(conv(r, &v->conv_in, &Y, &P, 0, 0));
    DG_TRY(resblock(r, &v->mid[0], x));
    DG_TRY(attention(r, x));
    DG_TRY(resblock(r, &v->mid[1], x));
    for (int i = 0; i < n; i++) {
        for (int j = 0; j <= v->cfg.num_res_blocks; j++) DG_TRY(resblock(r, &v->up[i].res[j], x));
        if (v->up[i].mode != DG_WAN_UP_NONE) DG_TRY(upsample(r, &v->up[i], x));
    }
    const int a = free_slot(x->slot, -1, -1), b = free_slot(x->slot, a, -1);
    dg_tensor X = aview(r, x), A = view(r, r->buf[a], x->c, x->t, x->h, x->w);
    dg_tensor O = view(r, r->buf[b], v->conv_out.cout, x->t, x->h, x->w);
    DG_TRY(dg_vae_rmsnorm_cpu(&A, &X, &v->norm_out, 1));
    DG_TRY(conv(r, &v->conv_out, &O, &A, 0, 0));
    const int64_t HW = x->h * x->w, T = x->t;
    for (int64_t c = 0; c < v->conv_out.cout; c++)
        memcpy(out + (c * To + f0) * HW, r->buf[b] + c * T * HW, (size_t)(T * HW) * sizeof(float));
    return DG_OK;
}

/* Walk the convs in decoder order with their level's spatial size, giving
 * each causal conv its slice of `base` (NULL: only count). Also returns the
 * largest activation of a chunk (in floats) in *act_max. */
static size_t layout(dg_wan_vae *v, int64_t th, int64_t tw, float *base, size_t *act_max) {
    size_t used = 0, m = 0;
    int64_t T = 1, HW = th * tw;
#define CACHE(cv)                                                                                                      \
    do {                                                                                                               \
        if ((cv)->kt > 1) {                                                                                            \
            if (base) (cv)->cache = base + used;                                                                       \
            used += (size_t)((cv)->cin * ((cv)->kt - 1) * HW);                                                         \
        }                                                                                                              \
    } while (0)
#define MAXA(n)                                                                                                        \
    do {                                                                                                               \
        size_t n_ = (size_t)(n);                                                                                       \
        if (n_ > m) m = n_;                                                                                            \
    } while (0)
    MAXA(v->cfg.z_dim * HW);
    CACHE(&v->conv_in);
    MAXA(3 * v->conv_in.cout * HW); /* qkv */
    for (int i = 0; i < 2; i++) {
        CACHE(&v->mid[i].conv1);
        CACHE(&v->mid[i].conv2);
    }
    for (int i = 0; i < v->cfg.n_levels; i++) {
        dg_wan_vae_up *u = &v->up[i];
        for (int j = 0; j <= v->cfg.num_res_blocks; j++) {
            CACHE(&u->res[j].conv1);
            CACHE(&u->res[j].conv2);
            MAXA((u->res[j].conv1.cin > u->res[j].conv1.cout ? u->res[j].conv1.cin : u->res[j].conv1.cout) * T * HW);
        }
        if (u->mode == DG_WAN_UP_3D) {
            CACHE(&u->time_conv);
            MAXA(u->time_conv.cout * T * HW);
            T *= 2;
        }
        if (u->mode != DG_WAN_UP_NONE) {
            HW *= 4;
            MAXA(u->resample.cin * T * HW / 4);
            MAXA(u->resample.cout * T * HW);
        }
    }
    CACHE(&v->conv_out);
    MAXA(v->conv_out.cin * T * HW);
    MAXA(v->conv_out.cout * T * HW);
#undef CACHE
#undef MAXA
    *act_max = m;
    return used;
}

static void run_free(run *r) {
    for (int i = 0; i < NBUF; i++) free(r->buf[i]);
    free(r->caches);
}

/* Decode latent cells [y0, y0+th) x [x0, x0+tw) of every frame into out
 * [oc, To, th*s, tw*s], unclamped. */
static int decode_region(dg_wan_vae *v, const float *lat, int F, int h, int w, int y0, int x0, int th, int tw,
                         float *out) {
    const dg_wan_vae_config *c = &v->cfg;
    run r = {.v = v};
    size_t amax, nc = layout(v, th, tw, NULL, &amax);
    r.caches = calloc(nc ? nc : 1, sizeof(float));
    int ok = r.caches != NULL;
    for (int i = 0; ok && i < NBUF; i++) ok = (r.buf[i] = malloc(amax * sizeof(float))) != NULL;
    if (!ok) {
        run_free(&r);
        return dg_error("out of memory for the VAE decode of a %dx%d latent region (%zu MiB per buffer)", th, tw,
                        amax * sizeof(float) >> 20);
    }
    layout(v, th, tw, r.caches, &amax);
    for (int i = 0; i < c->n_levels; i++) v->up[i].time_started = 0;
    const int64_t To = 1 + (int64_t)c->scale_t * (F - 1);
    int rc = DG_OK;
    for (int k = 0; k < F && rc == DG_OK; k++) {
        /* the latent window of frame k -> buf[0] as [z, 1, th, tw] */
        for (int64_t ch = 0; ch < c->z_dim; ch++)
            for (int y = 0; y < th; y++)
                memcpy(r.buf[0] + (ch * th + y) * tw, lat + ((ch * F + k) * h + y0 + y) * w + x0,
                       (size_t)tw * sizeof(float));
        act x = {0, c->z_dim, 1, th, tw};
        rc = chunk(&r, &x, out, To, k == 0 ? 0 : 1 + (int64_t)c->scale_t * (k - 1));
    }
    run_free(&r);
    return rc;
}

static void clamp(float *p, size_t n) {
    #pragma omp parallel for simd if (n > DG_VAE_PAR_MIN)
    for (size_t i = 0; i < n; i++) p[i] = p[i] < -1.0f ? -1.0f : p[i] > 1.0f ? 1.0f : p[i];
}

/* Tiles in raster order, each blended (in place, as diffusers does) with the
 * already-blended tile above and to the left over `blend` pixels, then its
 * top-left stride x stride part written out. Only the overlap strips of the
 * previous tiles are kept. */
static int decode_tiled(dg_wan_vae *v, const float *lat, int F, int h, int w, float *frames, int tile) {
    const dg_wan_vae_config *c = &v->cfg;
    const int64_t s = c->scale_s, oc = c->out_channels, To = 1 + (int64_t)c->scale_t * (F - 1);
    const int64_t H = h * s, W = w * s, stride_l = tile - tile / 4, S = stride_l * s, blend = (tile - stride_l) * s;
    const int64_t TS = tile * s, n_cols = (w + stride_l - 1) / stride_l, planes = oc * To;
    float *tb = malloc((size_t)(planes * TS * TS) * sizeof(float));
    /* +1: no overlap (tile < 4) leaves the strips empty */
    float *above = malloc((size_t)(n_cols * planes * blend * TS + 1) * sizeof(float)); /* per column: last rows */
    float *left = malloc((size_t)(planes * TS * blend + 1) * sizeof(float));           /* last columns */
    int64_t *above_h = calloc((size_t)n_cols, sizeof(int64_t)), left_w = 0;
    int rc = DG_ERR;
    if (!tb || !above || !left || !above_h) {
        dg_error("out of memory for VAE tiles of %d latent cells", tile);
        goto done;
    }
    for (int64_t i = 0; i * stride_l < h; i++) {
        for (int64_t j = 0; j * stride_l < w; j++) {
            const int64_t ty = i * stride_l, tx = j * stride_l;
            const int64_t th = tile < h - ty ? tile : h - ty, tw = tile < w - tx ? tile : w - tx;
            const int64_t TH = th * s, TW = tw * s;
            if (decode_region(v, lat, F, h, w, (int)ty, (int)tx, (int)th, (int)tw, tb) != DG_OK) goto done;
            if (i > 0) { /* blend_v with the tile above (same width) */
                const int64_t ah = above_h[j], kept = ah < blend ? ah : blend;
                const int64_t be = kept < TH ? kept : TH;
                const float *a = above + j * planes * blend * TS;
                for (int64_t y = 0; y < be; y++) {
                    const float wb = (float)((double)y / be), wa = (float)(1.0 - (double)y / be);
                    for (int64_t p = 0; p < planes; p++) {
                        float *bp = tb + (p * TH + y) * TW;
                        const float *ap = a + (p * kept + kept - be + y) * TW;
                        for (int64_t xx = 0; xx < TW; xx++) bp[xx] = ap[xx] * wa + bp[xx] * wb;
                    }
                }
            }
            if (j > 0) { /* blend_h with the tile to the left (same height) */
                const int64_t kept = left_w < blend ? left_w : blend, be = kept < TW ? kept : TW;
                for (int64_t p = 0; p < planes; p++)
                    for (int64_t y = 0; y < TH; y++) {
                        float *bp = tb + (p * TH + y) * TW;
                        const float *ap = left + (p * TH + y) * kept + kept - be;
                        for (int64_t xx = 0; xx < be; xx++) {
                            const float wb = (float)((double)xx / be), wa = (float)(1.0 - (double)xx / be);
                            bp[xx] = ap[xx] * wa + bp[xx] * wb;
                        }
                    }
            }
            /* the kept part of this tile */
            const int64_t oh = S < TH ? S : TH, ow = S < TW ? S : TW;
            for (int64_t p = 0; p < planes; p++)
                for (int64_t y = 0; y < oh; y++)
                    memcpy(frames + (p * H + i * S + y) * W + j * S, tb + (p * TH + y) * TW,
                           (size_t)ow * sizeof(float));
            /* overlap strips for the next tiles, after this tile's own blending */
            const int64_t kh = blend < TH ? blend : TH, kw = blend < TW ? blend : TW;
            float *a = above + j * planes * blend * TS;
            for (int64_t p = 0; p < planes; p++)
                memcpy(a + p * kh * TW, tb + (p * TH + TH - kh) * TW, (size_t)(kh * TW) * sizeof(float));
            above_h[j] = TH;
            for (int64_t p = 0; p < planes; p++)
                for (int64_t y = 0; y < TH; y++)
                    memcpy(left + (p * TH + y) * kw, tb + (p * TH + y) * TW + TW - kw, (size_t)kw * sizeof(float));
            left_w = TW;
        }
    }
    rc = DG_OK;
done:
    free(tb);
    free(above);
    free(left);
    free(above_h);
    return rc;
}

int dg_wan_vae_decode(dg_wan_vae *v, const float *latents, int F, int h, int w, float *frames, int tile) {
    const dg_wan_vae_config *c = &v->cfg;
    DG_CHECK(F >= 1 && h >= 1 && w >= 1, "VAE decode: latent %dx%dx%d must have at least one frame and cell", F, h,
             w);
    DG_CHECK(tile >= 0, "VAE decode: tile %d must be >= 0", tile);
    const size_t n = (size_t)c->out_channels * (1 + (size_t)c->scale_t * (F - 1)) * h * c->scale_s * w * c->scale_s;
    if (tile && (h > tile || w > tile))
        DG_TRY(decode_tiled(v, latents, F, h, w, frames, tile));
    else
        DG_TRY(decode_region(v, latents, F, h, w, 0, 0, h, w, frames));
    clamp(frames, n);
    return DG_OK;
}
