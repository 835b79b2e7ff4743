/* Wan VAE decode, one latent frame (chunk) at a time as diffusers' _decode:
 * every causal conv keeps the last kt-1 frames of its input in a cache
 * (zeros at the start), which makes chunked decoding equal to a causal conv
 * over the whole video. The temporal upsamplers are the exception (diffusers'
 * "Rep" marker): chunk 0 skips time_conv and leaves its cache at zeros, so
 * output frame 0 comes from latent frame 0 alone and time_conv sees zeros in
 * place of latent frame 0's features afterwards.
 *
 * All state lives in one arena on the VAE's backend, allocated once per
 * decode for its geometry: the latents and frames (views of the caller's
 * buffers on the CPU), the tile buffers, then per region the conv caches and
 * NBUF chunk buffers. Every step is a backend op. */
#include <stdlib.h>

#include "core/error.h"
#include "core/ops.h"
#include "vae/wan_vae.h"

/* Chunk buffers: a residual block uses up to three (its convs normalise their input as they read it);
 * the Wan2.2 up blocks keep their input in a fourth for the DupUp3D shortcut. */
#define NBUF 4

/* Tensors taken from the decode state: counted first (a == NULL) to size
 * the arena, then carved from it. */
typedef struct carver {
    dg_arena *a;
    dg_backend *be;
    size_t bytes;
} carver;

static int take(carver *c, dg_tensor *t, const char *name, int ndim, const int64_t *shape) {
    if (c->a) return dg_arena_tensor(c->a, t, name, DG_F32, ndim, shape);
    DG_TRY(dg_tensor_view(t, c->be, DG_F32, ndim, shape, NULL));
    t->name = name;
    c->bytes += (dg_tensor_nbytes(t) + 63) & ~(size_t)63; /* the arena's rounding */
    return DG_OK;
}

static int take4(carver *c, dg_tensor *t, const char *name, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    const int64_t s[4] = {d0, d1, d2, d3};
    return take(c, t, name, 4, s);
}

/* t = [c, f, h, w] at float `offset` of the 1-D tensor `store`. */
static int shaped(dg_tensor *t, const dg_tensor *store, int64_t offset, int64_t c, int64_t f, int64_t h, int64_t w) {
    const int64_t s[4] = {c, f, h, w};
    DG_TRY(dg_tensor_view(t, store->backend, DG_F32, 4, s, (float *)store->data + offset));
    t->name = store->name;
    DG_CHECK(offset + dg_tensor_numel(t) <= dg_tensor_numel(store),
             "VAE decode: %s too small for [%lld, %lld, %lld, %lld]", store->name, (long long)c, (long long)f,
             (long long)h, (long long)w);
    return DG_OK;
}

/* What one decode reads and writes, and the tiled decode's buffers. */
typedef struct decode_io {
    dg_tensor lat;    /* [z_dim, F, h, w] */
    dg_tensor frames; /* [out_channels, To, H, W]: the frames of latent frames [k_out, k_end) */
    int64_t k_begin, k_out, k_end; /* decoded from k_begin; frames of the chunks before k_out are dropped */
    dg_tensor tile, above, left; /* 1-D: one tile's frames; per tile column its last rows; the last columns */
} decode_io;

typedef struct run {
    dg_wan_vae *v;
    dg_tensor buf[NBUF]; /* 1-D activation buffers of one chunk, each holding the largest activation */
    int nbuf;            /* 3, or 4 for a residual VAE */
    int keep;            /* a buffer held across ops (an up block's input), or -1 */
} run;

/* An activation [c, t, h, w] living in buffer `slot`. */
typedef struct act {
    int slot;
    int64_t c, t, h, w;
} act;

static int view(run *r, dg_tensor *t, int slot, int64_t c, int64_t f, int64_t h, int64_t w) {
    return shaped(t, &r->buf[slot], 0, c, f, h, w);
}

static int aview(run *r, dg_tensor *t, const act *a) { return view(r, t, a->slot, a->c, a->t, a->h, a->w); }

/* A buffer other than those in use (up to three) and the kept one. */
static int free_slot(const run *r, int u0, int u1, int u2) {
    for (int s = 0; s < r->nbuf; s++)
        if (s != u0 && s != u1 && s != u2 && s != r->keep) return s;
    return -1;
}

/* y (+)= conv(x) (x normalised first when norm is given; see dg_conv3d's flags) using and then
 * advancing the conv's cache, which holds x's raw frames. */
static int conv(dg_wan_vae_conv *c, dg_tensor *y, const dg_tensor *x, const dg_tensor *norm, unsigned flags) {
    DG_TRY(dg_conv3d(y, x, c->kt > 1 ? &c->cache : NULL, &c->w, &c->b, norm, flags));
    if (c->kt > 1) DG_TRY(dg_cache_push(&c->cache, x));
    return DG_OK;
}

/* WanResidualBlock: x + conv2(silu(norm2(conv1(silu(norm1(x)))))), shortcut
 * conv when the width changes. */
static int resblock(run *r, dg_wan_vae_res *res, act *x) {
    const int b = free_slot(r, x->slot, -1, -1);
    const int64_t cout = res->conv1.cout;
    dg_tensor X, B;
    DG_TRY(aview(r, &X, x));
    DG_TRY(view(r, &B, b, cout, x->t, x->h, x->w));
    DG_TRY(conv(&res->conv1, &B, &X, &res->norm1, DG_CONV_SILU));
    if (res->shortcut.cin) {
        const int s = free_slot(r, x->slot, b, -1);
        dg_tensor S;
        DG_TRY(view(r, &S, s, cout, x->t, x->h, x->w));
        DG_TRY(conv(&res->shortcut, &S, &X, NULL, 0));
        DG_TRY(conv(&res->conv2, &S, &B, &res->norm2, DG_CONV_SILU | DG_CONV_ACCUMULATE));
        x->slot = s;
        x->c = cout;
        return DG_OK;
    }
    return conv(&res->conv2, &X, &B, &res->norm2, DG_CONV_SILU | DG_CONV_ACCUMULATE);
}

/* WanAttentionBlock: per-frame single-head attention, residual. */
static int attention(run *r, act *x) {
    dg_wan_vae *v = r->v;
    const int a = free_slot(r, x->slot, -1, -1), b = free_slot(r, x->slot, a, -1);
    dg_tensor X, A, QKV;
    DG_TRY(aview(r, &X, x));
    DG_TRY(view(r, &A, a, x->c, x->t, x->h, x->w));
    DG_TRY(view(r, &QKV, b, 3 * x->c, x->t, x->h, x->w));
    DG_TRY(conv(&v->attn_qkv, &QKV, &X, &v->attn_norm, 0));
    DG_TRY(dg_spatial_attention(&A, &QKV));
    return conv(&v->attn_proj, &X, &A, NULL, DG_CONV_ACCUMULATE);
}

/* WanResample upsample2d / upsample3d. */
static int upsample(run *r, dg_wan_vae_up *u, act *x) {
    if (u->mode == DG_WAN_UP_3D) {
        if (!u->time_started) {
            u->time_started = 1; /* diffusers' "Rep": frame 0 passes through */
        } else {
            const int b = free_slot(r, x->slot, -1, -1), a = free_slot(r, x->slot, b, -1);
            dg_tensor X, B, A;
            DG_TRY(aview(r, &X, x));
            DG_TRY(view(r, &B, b, 2 * x->c, x->t, x->h, x->w));
            DG_TRY(view(r, &A, a, x->c, 2 * x->t, x->h, x->w));
            DG_TRY(conv(&u->time_conv, &B, &X, NULL, 0));
            /* channels [0,C) -> frame 2t, [C,2C) -> frame 2t+1 */
            DG_TRY(dg_channels_to_frames(&A, &B));
            x->slot = a;
            x->t *= 2;
        }
    }
    const int o = free_slot(r, x->slot, -1, -1);
    dg_tensor X, Y;
    DG_TRY(aview(r, &X, x));
    DG_TRY(view(r, &Y, o, u->resample.cout, x->t, 2 * x->h, 2 * x->w));
    DG_TRY(conv(&u->resample, &Y, &X, NULL, DG_CONV_UPSAMPLE2X));
    x->slot = o;
    x->c = u->resample.cout;
    x->h *= 2;
    x->w *= 2;
    return DG_OK;
}

/* An up block: its residual blocks and upsampler, plus for the Wan2.2 VAE the DupUp3D shortcut of
 * the block's input (kept in its own buffer meanwhile). A chunk whose temporal upsampler skipped
 * time_conv (the first) drops the shortcut's first ft-1 frames as diffusers' first_chunk does. */
static int up_block(run *r, dg_wan_vae_up *u, act *x) {
    act in = *x;
    if (u->shortcut_in) {
        dg_tensor X, K;
        in.slot = r->keep = free_slot(r, x->slot, -1, -1);
        DG_TRY(aview(r, &X, x));
        DG_TRY(aview(r, &K, &in));
        DG_TRY(dg_tensor_copy(&K, &X));
    }
    const int first = u->mode == DG_WAN_UP_3D && !u->time_started;
    for (int j = 0; j <= r->v->cfg.num_res_blocks; j++) DG_TRY(resblock(r, &u->res[j], x));
    if (u->mode != DG_WAN_UP_NONE) DG_TRY(upsample(r, u, x));
    if (!u->shortcut_in) return DG_OK;
    const int ft = u->mode == DG_WAN_UP_3D ? 2 : 1, cells[4] = {ft, 2, first ? ft - 1 : 0, 0};
    dg_tensor X, K;
    DG_TRY(aview(r, &X, x));
    DG_TRY(aview(r, &K, &in));
    r->keep = -1;
    return dg_channels_to_cells(&X, &K, cells, 1);
}

/* The first output frame of latent frame k: frame 0 gives one, the others scale_t each. */
static int64_t first_frame(const dg_wan_vae_config *c, int64_t k) { return k == 0 ? 0 : 1 + (int64_t)c->scale_t * (k - 1); }

/* Decode one chunk: z [z_dim, 1, th, tw] in buf[0] -> out frames [f0, f0+T) (out NULL: a warm-up
 * chunk, only its caches kept). */
static int chunk(run *r, act *x, dg_tensor *out, int64_t f0) {
    dg_wan_vae *v = r->v;
    const int n = v->cfg.n_levels;
    dg_tensor Z, P, Y;
    DG_TRY(aview(r, &Z, x));
    DG_TRY(view(r, &P, 1, x->c, 1, x->h, x->w));
    DG_TRY(conv(&v->post_quant, &P, &Z, NULL, 0));
    x->slot = 2;
    x->c = v->conv_in.cout;
    DG_TRY(aview(r, &Y, x));
    DG_TRY(conv(&v->conv_in, &Y, &P, NULL, 0));
    DG_TRY(resblock(r, &v->mid[0], x));
    DG_TRY(attention(r, x));
    DG_TRY(resblock(r, &v->mid[1], x));
    for (int i = 0; i < n; i++) DG_TRY(up_block(r, &v->up[i], x));
    const int a = free_slot(r, x->slot, -1, -1), b = free_slot(r, x->slot, a, -1);
    dg_tensor X, O;
    DG_TRY(aview(r, &X, x));
    DG_TRY(view(r, &O, b, v->conv_out.cout, x->t, x->h, x->w));
    DG_TRY(conv(&v->conv_out, &O, &X, &v->norm_out, DG_CONV_SILU));
    if (!out) return DG_OK;
    if (v->cfg.patch > 1) { /* diffusers' unpatchify: channel c*p*p + j*p + i -> pixel (i, j) of a p x p cell */
        const int p = v->cfg.patch, cells[4] = {1, p, 0, 1};
        dg_tensor U;
        DG_TRY(view(r, &U, a, v->cfg.out_channels, x->t, p * x->h, p * x->w));
        DG_TRY(dg_channels_to_cells(&U, &O, cells, 0));
        O = U;
    }
    const int64_t at[4] = {0, f0, 0, 0}, zero[4] = {0}, size[4] = {O.shape[0], O.shape[1], O.shape[2], O.shape[3]};
    return dg_copy_box(out, at, &O, zero, size);
}

/* Take (and, when carving, zero) the caches of the convs in decoder order at
 * their level's spatial size, then the chunk buffers, each as large as the
 * largest activation of a chunk of a th x tw region. */
static int carve_region(dg_wan_vae *v, carver *cv, run *r, int64_t th, int64_t tw) {
    size_t m = 0;
    int64_t T = 1, H = th, W = tw;
#define CACHE(conv_)                                                                                                   \
    do {                                                                                                               \
        dg_wan_vae_conv *c_ = (conv_);                                                                                 \
        if (c_->kt > 1) {                                                                                              \
            DG_TRY(take4(cv, &c_->cache, "VAE conv cache", c_->cin, c_->kt - 1, H, W));                                \
            if (cv->a) DG_TRY(dg_fill(&c_->cache, 0.0f));                                                              \
        }                                                                                                              \
    } while (0)
#define MAXA(n)                                                                                                        \
    do {                                                                                                               \
        size_t n_ = (size_t)(n);                                                                                       \
        if (n_ > m) m = n_;                                                                                            \
    } while (0)
    MAXA(v->cfg.z_dim * H * W);
    CACHE(&v->conv_in);
    MAXA(3 * v->conv_in.cout * H * W); /* qkv */
    for (int i = 0; i < 2; i++) {
        CACHE(&v->mid[i].conv1);
        CACHE(&v->mid[i].conv2);
    }
    for (int i = 0; i < v->cfg.n_levels; i++) {
        dg_wan_vae_up *u = &v->up[i];
        for (int j = 0; j <= v->cfg.num_res_blocks; j++) {
            CACHE(&u->res[j].conv1);
            CACHE(&u->res[j].conv2);
            MAXA((u->res[j].conv1.cin > u->res[j].conv1.cout ? u->res[j].conv1.cin : u->res[j].conv1.cout) * T * H *
                 W);
        }
        if (u->mode == DG_WAN_UP_3D) {
            CACHE(&u->time_conv);
            MAXA(u->time_conv.cout * T * H * W);
            T *= 2;
        }
        if (u->mode != DG_WAN_UP_NONE) {
            MAXA(u->resample.cin * T * H * W);
            H *= 2;
            W *= 2;
            MAXA(u->resample.cout * T * H * W);
        }
    }
    CACHE(&v->conv_out);
    MAXA(v->conv_out.cin * T * H * W);
    MAXA(v->conv_out.cout * T * H * W);
#undef CACHE
#undef MAXA
    const int64_t len = (int64_t)m;
    r->nbuf = v->cfg.residual ? NBUF : NBUF - 1;
    r->keep = -1;
    for (int i = 0; i < r->nbuf; i++) DG_TRY(take(cv, &r->buf[i], "VAE chunk buffer", 1, &len));
    return DG_OK;
}

/* Decode latent cells [y0, y0+th) x [x0, x0+tw) of every frame into out
 * [oc, To, th*s, tw*s], unclamped. The region's state is carved after `mark`. */
static int decode_region(dg_wan_vae *v, const decode_io *io, size_t mark, int64_t y0, int64_t x0, int64_t th,
                         int64_t tw, dg_tensor *out) {
    const dg_wan_vae_config *c = &v->cfg;
    dg_arena_reset(&v->state, mark);
    carver cv = {&v->state, v->be, 0};
    run r = {.v = v};
    DG_TRY(carve_region(v, &cv, &r, th, tw));
    /* a decode that starts after chunk 0 runs time_conv from its first chunk, its cache at zeros as
     * a whole decode's is after chunk 0 */
    for (int i = 0; i < c->n_levels; i++) v->up[i].time_started = io->k_begin > 0;
    const int64_t out0 = first_frame(c, io->k_out);
    for (int64_t k = io->k_begin; k < io->k_end; k++) {
        act x = {0, c->z_dim, 1, th, tw};
        dg_tensor Z;
        DG_TRY(aview(&r, &Z, &x));
        const int64_t zero[4] = {0}, at[4] = {0, k, y0, x0}, size[4] = {c->z_dim, 1, th, tw};
        DG_TRY(dg_copy_box(&Z, zero, &io->lat, at, size)); /* the latent window of frame k */
        DG_TRY(chunk(&r, &x, k < io->k_out ? NULL : out, first_frame(c, k) - out0));
    }
    return DG_OK;
}

/* Tiles in raster order, each blended (in place, as diffusers does) with the
 * already-blended tile above and to the left over `blend` pixels, then its
 * top-left stride x stride part written out. Only the overlap strips of the
 * previous tiles are kept. */
static int decode_tiled(dg_wan_vae *v, decode_io *io, size_t mark, int64_t h, int64_t w, int64_t tile) {
    const dg_wan_vae_config *c = &v->cfg;
    const int64_t s = c->scale_s, oc = c->out_channels, To = io->frames.shape[1];
    const int64_t stride_l = tile - tile / 4, S = stride_l * s, blend = (tile - stride_l) * s;
    const int64_t strip = oc * To * blend * tile * s, n_cols = (w + stride_l - 1) / stride_l;
    int64_t *above_h = calloc((size_t)n_cols, sizeof(int64_t)), left_w = 0;
    DG_CHECK(above_h != NULL, "out of memory for VAE tile bookkeeping");
    int rc = DG_ERR;
    for (int64_t i = 0; i * stride_l < h; i++) {
        for (int64_t j = 0; j * stride_l < w; j++) {
            const int64_t ty = i * stride_l, tx = j * stride_l;
            const int64_t th = tile < h - ty ? tile : h - ty, tw = tile < w - tx ? tile : w - tx;
            const int64_t TH = th * s, TW = tw * s;
            dg_tensor tb, a;
            if (shaped(&tb, &io->tile, 0, oc, To, TH, TW) || decode_region(v, io, mark, ty, tx, th, tw, &tb))
                goto done;
            if (i > 0) { /* blend_v with the tile above (same width) */
                const int64_t kept = above_h[j] < blend ? above_h[j] : blend;
                if (shaped(&a, &io->above, j * strip, oc, To, kept, TW) ||
                    dg_blend_edge(&tb, &a, 2, kept < TH ? kept : TH))
                    goto done;
            }
            if (j > 0) { /* blend_h with the tile to the left (same height) */
                const int64_t kept = left_w < blend ? left_w : blend;
                if (shaped(&a, &io->left, 0, oc, To, TH, kept) || dg_blend_edge(&tb, &a, 3, kept < TW ? kept : TW))
                    goto done;
            }
            /* the kept part of this tile */
            const int64_t zero[4] = {0}, at[4] = {0, 0, i * S, j * S};
            const int64_t part[4] = {oc, To, S < TH ? S : TH, S < TW ? S : TW};
            if (dg_copy_box(&io->frames, at, &tb, zero, part)) goto done;
            /* overlap strips for the next tiles, after this tile's own blending */
            const int64_t kh = blend < TH ? blend : TH, kw = blend < TW ? blend : TW;
            const int64_t rows_at[4] = {0, 0, TH - kh, 0}, rows[4] = {oc, To, kh, TW};
            const int64_t cols_at[4] = {0, 0, 0, TW - kw}, cols[4] = {oc, To, TH, kw};
            if (shaped(&a, &io->above, j * strip, oc, To, kh, TW) || dg_copy_box(&a, zero, &tb, rows_at, rows) ||
                shaped(&a, &io->left, 0, oc, To, TH, kw) || dg_copy_box(&a, zero, &tb, cols_at, cols))
                goto done;
            above_h[j] = TH;
            left_w = TW;
        }
    }
    rc = DG_OK;
done:
    free(above_h);
    return rc;
}

/* The latents, the frames and the tile buffers. On a host-memory backend the latents and
 * frames are the caller's buffers (host memory is backend memory there). */
static int carve_io(dg_wan_vae *v, carver *cv, decode_io *io, const float *latents, float *frames, int64_t F,
                    int64_t h, int64_t w, int64_t tile, const int64_t k[3]) {
    const dg_wan_vae_config *c = &v->cfg;
    const int64_t s = c->scale_s, oc = c->out_channels, To = first_frame(c, k[2]) - first_frame(c, k[1]);
    io->k_begin = k[0], io->k_out = k[1], io->k_end = k[2];
    const int64_t ls[4] = {c->z_dim, F, h, w}, fs[4] = {oc, To, h * s, w * s};
    if (v->be->ops->host_memory) {
        DG_TRY(dg_tensor_view(&io->lat, v->be, DG_F32, 4, ls, (void *)latents)); /* only read */
        DG_TRY(dg_tensor_view(&io->frames, v->be, DG_F32, 4, fs, frames));
        io->lat.name = "VAE latents";
        io->frames.name = "VAE frames";
    } else {
        DG_TRY(take(cv, &io->lat, "VAE latents", 4, ls));
        DG_TRY(take(cv, &io->frames, "VAE frames", 4, fs));
    }
    if (!tile) return DG_OK;
    const int64_t stride_l = tile - tile / 4, blend = (tile - stride_l) * s, TS = tile * s;
    const int64_t n_cols = (w + stride_l - 1) / stride_l;
    const int64_t tl = oc * To * TS * TS, al = n_cols * oc * To * blend * TS, ll = oc * To * TS * blend;
    DG_TRY(take(cv, &io->tile, "VAE tile", 1, &tl));
    DG_TRY(take(cv, &io->above, "VAE tile rows above", 1, &al));
    return take(cv, &io->left, "VAE tile columns left", 1, &ll);
}

/* Allocate the decode state this geometry needs, in one piece. */
static int state_init(dg_wan_vae *v, const float *latents, float *frames, int64_t F, int64_t h, int64_t w,
                      int64_t tile, const int64_t k[3]) {
    carver cv = {NULL, v->be, 0};
    decode_io io;
    run r;
    DG_TRY(carve_io(v, &cv, &io, latents, frames, F, h, w, tile, k));
    DG_TRY(carve_region(v, &cv, &r, tile && tile < h ? tile : h, tile && tile < w ? tile : w));
    if (dg_arena_init(&v->state, v->be, cv.bytes) != DG_OK)
        return dg_error_wrap("VAE decode of %lldx%lldx%lld latents: ", (long long)F, (long long)h, (long long)w);
    return DG_OK;
}

/* Latents up, decode, clamp, frames down. */
static int decode_all(dg_wan_vae *v, const float *latents, float *frames, int64_t F, int64_t h, int64_t w,
                      int64_t tile, const int64_t k[3]) {
    carver cv = {&v->state, v->be, 0};
    decode_io io;
    DG_TRY(carve_io(v, &cv, &io, latents, frames, F, h, w, tile, k));
    const size_t mark = dg_arena_mark(&v->state);
    const int on_host = v->be->ops->host_memory;
    if (!on_host) DG_TRY(dg_tensor_upload(&io.lat, latents));
    if (tile)
        DG_TRY(decode_tiled(v, &io, mark, h, w, tile));
    else
        DG_TRY(decode_region(v, &io, mark, 0, 0, h, w, &io.frames));
    DG_TRY(dg_clamp(&io.frames, &io.frames, -1.0f, 1.0f));
    return on_host ? DG_OK : dg_tensor_download(&io.frames, frames);
}

int dg_wan_vae_decode_frames(dg_wan_vae *v, const float *latents, int F, int h, int w, int k0, int k1, int warm,
                             float *frames, int tile) {
    DG_CHECK(F >= 1 && h >= 1 && w >= 1, "VAE decode: latent %dx%dx%d must have at least one frame and cell", F, h,
             w);
    DG_CHECK(tile >= 0, "VAE decode: tile %d must be >= 0", tile);
    DG_CHECK(0 <= k0 && k0 < k1 && k1 <= F && warm >= 0,
             "VAE decode: latent frames [%d, %d) with %d warm-up frames do not fit %d latent frames", k0, k1, warm, F);
    const int64_t tl = tile && (h > tile || w > tile) ? tile : 0, k[3] = {warm < k0 ? k0 - warm : 0, k0, k1};
    /* diffusers blends the Wan2.2 VAE's tiles before unpatchifying, over other extents */
    DG_CHECK(!tl || v->cfg.patch == 1,
             "VAE decode: tiles (tile %d) of a patch_size %d VAE (Wan2.2) are not supported; decode untiled (tile 0)",
             tile, v->cfg.patch);
    DG_TRY(state_init(v, latents, frames, F, h, w, tl, k));
    const int rc = decode_all(v, latents, frames, F, h, w, tl, k);
    /* freed at once: the state would otherwise sit next to the transformer's arena in the next job */
    dg_arena_free(&v->state);
    return rc;
}

int dg_wan_vae_decode(dg_wan_vae *v, const float *latents, int F, int h, int w, float *frames, int tile) {
    return dg_wan_vae_decode_frames(v, latents, F, h, w, 0, F, 0, frames, tile);
}
