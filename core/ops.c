#include "core/ops.h"

#include <math.h>
#include <stdio.h>

#include "core/error.h"

static const char *tname(const dg_tensor *t) { return t->name ? t->name : "tensor"; }

static int check_f32(const dg_tensor *t, const char *op) {
    DG_CHECK(t->dtype == DG_F32, "%s: %s must be F32, got %s", op, tname(t), dg_dtype_name(t->dtype));
    DG_CHECK(t->data != NULL && t->backend != NULL, "%s: %s has no storage", op, tname(t));
    return DG_OK;
}

static int check_same(const dg_tensor *a, const dg_tensor *b, const char *op) {
    char sa[96], sb[96];
    DG_CHECK(dg_tensor_same_shape(a, b), "%s: %s %s does not match %s %s", op, tname(a),
             dg_shape_str(a, sa, sizeof sa), tname(b), dg_shape_str(b, sb, sizeof sb));
    DG_CHECK(a->backend == b->backend, "%s: %s and %s live on different backends", op, tname(a), tname(b));
    return DG_OK;
}

static int check_vec(const dg_tensor *v, int64_t n, const char *op) {
    if (!v) return DG_OK;
    DG_CHECK(v->ndim >= 1 && dg_tensor_numel(v) == n && v->shape[v->ndim - 1] == n,
             "%s: %s has %lld elements, expected %lld", op, tname(v), (long long)dg_tensor_numel(v),
             (long long)n);
    return DG_OK;
}

int dg_tensor_copy(dg_tensor *dst, const dg_tensor *src) {
    DG_CHECK(dst->data != NULL && src->data != NULL, "copy: %s or %s has no storage", tname(dst), tname(src));
    DG_CHECK(dst->dtype == src->dtype, "copy: %s is %s, %s is %s", tname(dst), dg_dtype_name(dst->dtype), tname(src),
             dg_dtype_name(src->dtype));
    DG_TRY(check_same(dst, src, "copy"));
    return dst->backend->ops->copy(dst->backend, dst->data, src->data, dg_tensor_nbytes(src));
}

int dg_linear(dg_tensor *y, const dg_tensor *x, const dg_tensor *w, const dg_tensor *b) {
    DG_TRY(check_f32(y, "linear"));
    DG_TRY(check_f32(x, "linear"));
    DG_CHECK(w->ndim == 2, "linear: weight %s must be 2-D", tname(w));
    int64_t in = w->shape[1], out = w->shape[0];
    DG_CHECK(x->ndim >= 1 && x->shape[x->ndim - 1] == in, "linear: input %s has %lld features, weight %s expects %lld",
             tname(x), (long long)(x->ndim ? x->shape[x->ndim - 1] : 0), tname(w), (long long)in);
    DG_CHECK(y->shape[y->ndim - 1] == out && dg_tensor_rows(y) == dg_tensor_rows(x),
             "linear: output %s does not fit [%lld, %lld]", tname(y), (long long)dg_tensor_rows(x), (long long)out);
    DG_CHECK(y->data != x->data, "linear: output aliases input %s", tname(x));
    if (b) {
        DG_TRY(check_vec(b, out, "linear"));
        DG_CHECK(b->dtype == DG_F32 || b->dtype == DG_BF16 || b->dtype == DG_F16, "linear: bias dtype");
    }
    return y->backend->ops->linear(y->backend, y, x, w, b);
}

int dg_layernorm(dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, const dg_tensor *beta, float eps) {
    DG_TRY(check_f32(y, "layernorm"));
    DG_TRY(check_f32(x, "layernorm"));
    DG_TRY(check_same(y, x, "layernorm"));
    int64_t c = x->shape[x->ndim - 1];
    DG_TRY(check_vec(gamma, c, "layernorm"));
    DG_TRY(check_vec(beta, c, "layernorm"));
    return y->backend->ops->layernorm(y->backend, y, x, gamma, beta, eps);
}

int dg_rmsnorm(dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, float eps) {
    DG_TRY(check_f32(y, "rmsnorm"));
    DG_TRY(check_f32(x, "rmsnorm"));
    DG_TRY(check_same(y, x, "rmsnorm"));
    DG_TRY(check_vec(gamma, x->shape[x->ndim - 1], "rmsnorm"));
    return y->backend->ops->rmsnorm(y->backend, y, x, gamma, eps);
}

int dg_gelu_tanh(dg_tensor *y, const dg_tensor *x) {
    DG_TRY(check_f32(y, "gelu_tanh"));
    DG_TRY(check_f32(x, "gelu_tanh"));
    DG_TRY(check_same(y, x, "gelu_tanh"));
    return y->backend->ops->gelu_tanh(y->backend, y, x);
}

int dg_silu(dg_tensor *y, const dg_tensor *x) {
    DG_TRY(check_f32(y, "silu"));
    DG_TRY(check_f32(x, "silu"));
    DG_TRY(check_same(y, x, "silu"));
    return y->backend->ops->silu(y->backend, y, x);
}

int dg_add(dg_tensor *y, const dg_tensor *a, const dg_tensor *b) {
    DG_TRY(check_f32(y, "add"));
    DG_TRY(check_f32(a, "add"));
    DG_TRY(check_f32(b, "add"));
    DG_CHECK(dg_tensor_numel(y) == dg_tensor_numel(a) && dg_tensor_numel(a) == dg_tensor_numel(b),
             "add: %s, %s and %s differ in size", tname(y), tname(a), tname(b));
    return y->backend->ops->add(y->backend, y, a, b);
}

int dg_sub(dg_tensor *y, const dg_tensor *a, const dg_tensor *b) {
    DG_TRY(check_f32(y, "sub"));
    DG_TRY(check_f32(a, "sub"));
    DG_TRY(check_f32(b, "sub"));
    DG_TRY(check_same(y, a, "sub"));
    DG_TRY(check_same(a, b, "sub"));
    return y->backend->ops->sub(y->backend, y, a, b);
}

int dg_abs_diff_sums(const dg_tensor *a, const dg_tensor *b, double sums[2]) {
    DG_TRY(check_f32(a, "abs_diff_sums"));
    DG_TRY(check_f32(b, "abs_diff_sums"));
    DG_TRY(check_same(a, b, "abs_diff_sums"));
    return a->backend->ops->abs_diff_sums(a->backend, a, b, sums);
}

int dg_modulate(dg_tensor *y, const dg_tensor *x, const float *shift, const float *scale) {
    DG_TRY(check_f32(y, "modulate"));
    DG_TRY(check_f32(x, "modulate"));
    DG_TRY(check_same(y, x, "modulate"));
    DG_CHECK(shift && scale, "modulate: missing shift or scale");
    return y->backend->ops->modulate(y->backend, y, x, shift, scale);
}

int dg_gated_add(dg_tensor *h, const dg_tensor *x, const float *gate) {
    DG_TRY(check_f32(h, "gated_add"));
    DG_TRY(check_f32(x, "gated_add"));
    DG_TRY(check_same(h, x, "gated_add"));
    return h->backend->ops->gated_add(h->backend, h, x, gate);
}

int dg_rope(dg_tensor *x, const dg_tensor *cos, const dg_tensor *sin) {
    DG_TRY(check_f32(x, "rope"));
    DG_TRY(check_f32(cos, "rope"));
    DG_TRY(check_f32(sin, "rope"));
    DG_CHECK(x->ndim == 3, "rope: %s must be [N, heads, head_dim]", tname(x));
    int64_t shape[2] = {x->shape[0], x->shape[2]};
    DG_TRY(dg_tensor_expect_shape(cos, "rope cos table", 2, shape));
    DG_TRY(dg_tensor_expect_shape(sin, "rope sin table", 2, shape));
    DG_CHECK(x->shape[2] % 2 == 0, "rope: head_dim %lld is odd", (long long)x->shape[2]);
    return x->backend->ops->rope(x->backend, x, cos, sin);
}

static int check_patch(const dg_tensor *vol, const dg_tensor *tok, const int p[3], const char *op) {
    DG_CHECK(vol->ndim == 4, "%s: volume %s must be [C, F, H, W]", op, tname(vol));
    DG_CHECK(p[0] > 0 && p[1] > 0 && p[2] > 0, "%s: bad patch size", op);
    int64_t C = vol->shape[0], F = vol->shape[1], H = vol->shape[2], W = vol->shape[3];
    DG_CHECK(F % p[0] == 0 && H % p[1] == 0 && W % p[2] == 0,
             "%s: volume %lldx%lldx%lld is not divisible by the patch %dx%dx%d", op, (long long)F, (long long)H,
             (long long)W, p[0], p[1], p[2]);
    int64_t shape[2] = {(F / p[0]) * (H / p[1]) * (W / p[2]), C * p[0] * p[1] * p[2]};
    DG_TRY(dg_tensor_expect_shape(tok, op, 2, shape));
    return DG_OK;
}

int dg_patchify(dg_tensor *y, const dg_tensor *x, const int patch[3]) {
    DG_TRY(check_f32(y, "patchify"));
    DG_TRY(check_f32(x, "patchify"));
    DG_TRY(check_patch(x, y, patch, "patchify"));
    return y->backend->ops->patchify(y->backend, y, x, patch);
}

int dg_unpatchify(dg_tensor *x, const dg_tensor *y, const int patch[3]) {
    DG_TRY(check_f32(y, "unpatchify"));
    DG_TRY(check_f32(x, "unpatchify"));
    DG_TRY(check_patch(x, y, patch, "unpatchify"));
    return x->backend->ops->unpatchify(x->backend, x, y, patch);
}

int dg_attention_merge(dg_tensor *o, dg_tensor *lse, const dg_tensor *o2, const dg_tensor *lse2, float bias,
                       float bias2) {
    const dg_tensor *all[4] = {o, lse, o2, lse2};
    for (int i = 0; i < 4; i++) {
        DG_TRY(check_f32(all[i], "attention merge"));
        DG_CHECK(all[i]->ndim == 2, "attention merge: %s must be 2-D", tname(all[i]));
    }
    DG_TRY(check_same(o, o2, "attention merge"));
    DG_TRY(check_same(lse, lse2, "attention merge"));
    DG_CHECK(lse->backend == o->backend && lse->shape[0] == o->shape[0] && lse->shape[1] >= 1 &&
                 o->shape[1] % lse->shape[1] == 0,
             "attention merge: %s must be [%lld, heads] with heads dividing %lld", tname(lse), (long long)o->shape[0],
             (long long)o->shape[1]);
    DG_CHECK(isfinite(bias) && isfinite(bias2), "attention merge: biases must be finite");
    return o->backend->ops->attention_merge(o->backend, o, lse, o2, lse2, bias, bias2);
}

int dg_attention(dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v, int heads,
                 const dg_attn_opts *opts) {
    const dg_tensor *all[4] = {o, q, k, v};
    for (int i = 0; i < 4; i++) {
        DG_TRY(check_f32(all[i], "attention"));
        DG_CHECK(all[i]->ndim == 2, "attention: %s must be 2-D [tokens, heads*head_dim]", tname(all[i]));
        DG_CHECK(all[i]->backend == o->backend, "attention: %s and %s live on different backends", tname(o),
                 tname(all[i]));
    }
    DG_TRY(check_same(o, q, "attention"));
    DG_TRY(check_same(k, v, "attention"));
    const int64_t C = q->shape[1];
    DG_CHECK(heads >= 1 && C % heads == 0, "attention: %lld channels do not split into %d heads", (long long)C, heads);
    DG_CHECK(k->shape[1] == C, "attention: %s has %lld channels, %s %lld", tname(k), (long long)k->shape[1], tname(q),
             (long long)C);
    DG_CHECK(o->data != k->data && o->data != v->data, "attention: output aliases the keys or values");
    dg_attn_opts def = {0};
    if (!opts) opts = &def;
    const int h0 = opts->head_begin, hn = opts->head_count ? opts->head_count : heads - h0;
    DG_CHECK(h0 >= 0 && hn >= 1 && h0 + hn <= heads, "attention: heads [%d, %d) outside the %d heads", h0, h0 + hn,
             heads);
    DG_CHECK(opts->scale == 0.0f || isfinite(opts->scale), "attention: scale must be finite");
    DG_CHECK(opts->dtype == DG_F32 || opts->dtype == DG_BF16, "attention: compute dtype %s: expected f32 or bf16",
             dg_dtype_name(opts->dtype));
    if (opts->layout) {
        const dg_block_layout *l = opts->layout;
        DG_CHECK(l->row_start != NULL, "attention: block layout not built");
        DG_CHECK(q->shape[0] == l->n && k->shape[0] == l->n,
                 "attention: block layout is for %lld tokens, got %lld queries and %lld keys", (long long)l->n,
                 (long long)q->shape[0], (long long)k->shape[0]);
        DG_CHECK(!o->backend->ops->layout_upload || l->device_backend == o->backend,
                 "attention: block layout not uploaded to the %s backend", o->backend->ops->name);
    }
    DG_CHECK(opts->query_offset >= 0 && (!opts->query_offset || !opts->layout),
             "attention: a query offset of %lld (block layouts take every query)", (long long)opts->query_offset);
    if (opts->perturb)
        DG_CHECK(opts->query_offset + q->shape[0] <= k->shape[0],
                 "attention: perturbation needs self-attention (queries %lld..%lld of %lld keys)",
                 (long long)opts->query_offset, (long long)(opts->query_offset + q->shape[0]), (long long)k->shape[0]);
    if (opts->lse) {
        DG_TRY(check_f32(opts->lse, "attention"));
        DG_CHECK(opts->lse->backend == o->backend && opts->lse->ndim == 2 && opts->lse->shape[0] == q->shape[0] &&
                     opts->lse->shape[1] == heads,
                 "attention: lse must be [%lld, %d] on the %s backend", (long long)q->shape[0], heads,
                 o->backend->ops->name);
    }
    return o->backend->ops->attention(o->backend, o, q, k, v, heads, opts);
}

/* video VAE ops */

/* An f32 [C, T, H, W] activation. */
static int check_vol(const dg_tensor *t, const char *op) {
    DG_TRY(check_f32(t, op));
    DG_CHECK(t->ndim == 4, "%s: %s must be [C, T, H, W], got rank %d", op, tname(t), t->ndim);
    return DG_OK;
}

static int check_backend(const dg_tensor *a, const dg_tensor *b, const char *op) {
    DG_CHECK(a->backend == b->backend, "%s: %s and %s live on different backends", op, tname(a), tname(b));
    return DG_OK;
}

int dg_conv3d(dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w, const dg_tensor *b,
              const dg_tensor *norm, unsigned flags) {
    const int upsample2x = (flags & DG_CONV_UPSAMPLE2X) != 0;
    DG_TRY(check_vol(y, "conv3d"));
    DG_TRY(check_vol(x, "conv3d"));
    DG_TRY(check_f32(w, "conv3d"));
    const char *wn = tname(w);
    DG_CHECK(w->ndim == 5 || w->ndim == 4, "conv3d: weight %s must be [Cout, Cin, (kt,) kh, kw]", wn);
    const int64_t Cin = x->shape[0], T = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int64_t Cout = w->shape[0], kt = w->ndim == 5 ? w->shape[2] : 1;
    const int64_t kh = w->shape[w->ndim - 2], kw = w->shape[w->ndim - 1];
    DG_CHECK(w->shape[1] == Cin, "conv3d: weight %s expects %lld input channels, input %s has %lld", wn,
             (long long)w->shape[1], tname(x), (long long)Cin);
    DG_CHECK(kt >= 1 && kh % 2 == 1 && kw % 2 == 1, "conv3d: weight %s needs kt >= 1 and odd kh, kw", wn);
    DG_CHECK(!(flags & ~(unsigned)(DG_CONV_UPSAMPLE2X | DG_CONV_ACCUMULATE | DG_CONV_SILU)),
             "conv3d %s: unknown flags 0x%x", wn, flags);
    DG_CHECK(norm || !(flags & DG_CONV_SILU), "conv3d %s: SiLU of the input comes after its norm; no norm given", wn);
    if (norm) {
        DG_TRY(check_f32(norm, "conv3d"));
        DG_CHECK(dg_tensor_numel(norm) == Cin, "conv3d %s: norm %s has %lld elements, input %s has %lld channels",
                 wn, tname(norm), (long long)dg_tensor_numel(norm), tname(x), (long long)Cin);
        DG_TRY(check_backend(y, norm, "conv3d"));
    }
    int64_t ys[4] = {Cout, T, upsample2x ? 2 * H : H, upsample2x ? 2 * W : W};
    char what[160];
    snprintf(what, sizeof what, "conv3d %s: output %s", wn, tname(y));
    DG_TRY(dg_tensor_expect_shape(y, what, 4, ys));
    DG_CHECK(y->data != x->data, "conv3d %s: output %s aliases input %s", wn, tname(y), tname(x));
    DG_TRY(check_backend(y, x, "conv3d"));
    DG_TRY(check_backend(y, w, "conv3d"));
    if (kt > 1) {
        DG_CHECK(cache != NULL, "conv3d %s: a causal conv with kt=%lld needs a cache", wn, (long long)kt);
        DG_TRY(check_vol(cache, "conv3d"));
        int64_t cs[4] = {Cin, kt - 1, H, W};
        snprintf(what, sizeof what, "conv3d %s: cache %s", wn, tname(cache));
        DG_TRY(dg_tensor_expect_shape(cache, what, 4, cs));
        DG_TRY(check_backend(y, cache, "conv3d"));
    } else {
        DG_CHECK(cache == NULL, "conv3d %s: a cache given to a conv with kt=1", wn);
    }
    if (b) {
        DG_TRY(check_f32(b, "conv3d"));
        DG_TRY(check_vec(b, Cout, "conv3d"));
        DG_TRY(check_backend(y, b, "conv3d"));
    }
    return y->backend->ops->conv3d(y->backend, y, x, cache, w, b, norm, flags);
}

int dg_spatial_attention(dg_tensor *out, const dg_tensor *qkv) {
    DG_TRY(check_vol(out, "spatial_attention"));
    DG_TRY(check_vol(qkv, "spatial_attention"));
    DG_CHECK(qkv->shape[0] % 3 == 0, "spatial_attention: %s has %lld channels, not 3C", tname(qkv),
             (long long)qkv->shape[0]);
    int64_t os[4] = {qkv->shape[0] / 3, qkv->shape[1], qkv->shape[2], qkv->shape[3]};
    DG_TRY(dg_tensor_expect_shape(out, "spatial_attention output", 4, os));
    DG_CHECK(out->data != qkv->data, "spatial_attention: output %s aliases %s", tname(out), tname(qkv));
    DG_TRY(check_backend(out, qkv, "spatial_attention"));
    return out->backend->ops->spatial_attention(out->backend, out, qkv);
}

int dg_cache_push(dg_tensor *cache, const dg_tensor *x) {
    DG_TRY(check_vol(cache, "cache_push"));
    DG_TRY(check_vol(x, "cache_push"));
    int64_t cs[4] = {x->shape[0], cache->shape[1], x->shape[2], x->shape[3]};
    DG_TRY(dg_tensor_expect_shape(cache, "cache_push: cache", 4, cs));
    DG_TRY(check_backend(cache, x, "cache_push"));
    return cache->backend->ops->cache_push(cache->backend, cache, x);
}

int dg_channels_to_frames(dg_tensor *y, const dg_tensor *x) {
    DG_TRY(check_vol(y, "channels_to_frames"));
    DG_TRY(check_vol(x, "channels_to_frames"));
    const int64_t C = y->shape[0], T = x->shape[1];
    DG_CHECK(C > 0 && T > 0 && x->shape[0] % C == 0, "channels_to_frames: %s channels are not groups of %s's %lld",
             tname(x), tname(y), (long long)C);
    int64_t ys[4] = {C, x->shape[0] / C * T, x->shape[2], x->shape[3]};
    DG_TRY(dg_tensor_expect_shape(y, "channels_to_frames output", 4, ys));
    DG_CHECK(y->data != x->data, "channels_to_frames: output %s aliases %s", tname(y), tname(x));
    DG_TRY(check_backend(y, x, "channels_to_frames"));
    return y->backend->ops->channels_to_frames(y->backend, y, x);
}

int dg_channels_to_cells(dg_tensor *y, const dg_tensor *x, const int cells[4], int accumulate) {
    DG_TRY(check_vol(y, "channels_to_cells"));
    DG_TRY(check_vol(x, "channels_to_cells"));
    const int64_t ft = cells[0], fs = cells[1], drop = cells[2], C = y->shape[0], Cx = x->shape[0];
    DG_CHECK(ft >= 1 && fs >= 1 && drop >= 0 && drop < ft * x->shape[1],
             "channels_to_cells: factors %lld/%lld with %lld dropped frames do not fit %s", (long long)ft, (long long)fs,
             (long long)drop, tname(x));
    DG_CHECK(C > 0 && Cx > 0 && (C * ft * fs * fs) % Cx == 0,
             "channels_to_cells: %s's %lld channels do not divide %lld cells of %s's %lld channels", tname(x),
             (long long)Cx, (long long)(ft * fs * fs), tname(y), (long long)C);
    int64_t ys[4] = {C, ft * x->shape[1] - drop, fs * x->shape[2], fs * x->shape[3]};
    DG_TRY(dg_tensor_expect_shape(y, "channels_to_cells output", 4, ys));
    DG_CHECK(y->data != x->data, "channels_to_cells: output %s aliases %s", tname(y), tname(x));
    DG_TRY(check_backend(y, x, "channels_to_cells"));
    return y->backend->ops->channels_to_cells(y->backend, y, x, cells, accumulate);
}

int dg_copy_box(dg_tensor *dst, const int64_t dst_at[4], const dg_tensor *src, const int64_t src_at[4],
                const int64_t size[4]) {
    DG_TRY(check_vol(dst, "copy_box"));
    DG_TRY(check_vol(src, "copy_box"));
    for (int d = 0; d < 4; d++)
        DG_CHECK(size[d] >= 0 && dst_at[d] >= 0 && src_at[d] >= 0 && dst_at[d] + size[d] <= dst->shape[d] &&
                     src_at[d] + size[d] <= src->shape[d],
                 "copy_box: box of %lld at %lld (in %s) / %lld (in %s) leaves dim %d (sizes %lld, %lld)",
                 (long long)size[d], (long long)dst_at[d], tname(dst), (long long)src_at[d], tname(src), d,
                 (long long)dst->shape[d], (long long)src->shape[d]);
    DG_CHECK(dst->data != src->data, "copy_box: %s and %s share storage", tname(dst), tname(src));
    DG_TRY(check_backend(dst, src, "copy_box"));
    return dst->backend->ops->copy_box(dst->backend, dst, dst_at, src, src_at, size);
}

int dg_blend_edge(dg_tensor *y, const dg_tensor *a, int axis, int64_t n) {
    DG_TRY(check_f32(y, "blend_edge"));
    DG_TRY(check_f32(a, "blend_edge"));
    DG_CHECK(axis >= 0 && axis < y->ndim && a->ndim == y->ndim, "blend_edge: axis %d of %s / %s", axis, tname(y),
             tname(a));
    for (int d = 0; d < y->ndim; d++)
        DG_CHECK(d == axis || a->shape[d] == y->shape[d], "blend_edge: %s and %s differ in dim %d", tname(y), tname(a),
                 d);
    DG_CHECK(n >= 0 && n <= y->shape[axis] && n <= a->shape[axis],
             "blend_edge: %lld entries do not fit %s (%lld) and %s (%lld) along dim %d", (long long)n, tname(y),
             (long long)y->shape[axis], tname(a), (long long)a->shape[axis], axis);
    DG_CHECK(y->data != a->data, "blend_edge: %s and %s share storage", tname(y), tname(a));
    DG_TRY(check_backend(y, a, "blend_edge"));
    return y->backend->ops->blend_edge(y->backend, y, a, axis, n);
}

int dg_clamp(dg_tensor *y, const dg_tensor *x, float lo, float hi) {
    DG_TRY(check_f32(y, "clamp"));
    DG_TRY(check_f32(x, "clamp"));
    DG_TRY(check_same(y, x, "clamp"));
    DG_CHECK(lo <= hi, "clamp: bounds %g > %g", lo, hi);
    return y->backend->ops->clamp(y->backend, y, x, lo, hi);
}

int dg_fill(dg_tensor *y, float value) {
    DG_TRY(check_f32(y, "fill"));
    return y->backend->ops->fill(y->backend, y, value);
}

/* ---- text-encoder ops ---- */

int dg_mul(dg_tensor *y, const dg_tensor *a, const dg_tensor *b) {
    DG_TRY(check_f32(y, "mul"));
    DG_TRY(check_f32(a, "mul"));
    DG_TRY(check_f32(b, "mul"));
    DG_TRY(check_same(y, a, "mul"));
    DG_TRY(check_same(a, b, "mul"));
    return y->backend->ops->mul(y->backend, y, a, b);
}

int dg_relu(dg_tensor *y, const dg_tensor *x) {
    DG_TRY(check_f32(y, "relu"));
    DG_TRY(check_f32(x, "relu"));
    DG_TRY(check_same(y, x, "relu"));
    return y->backend->ops->relu(y->backend, y, x);
}

int dg_gather_rows(dg_tensor *y, const dg_tensor *table, const int32_t *rows) {
    DG_TRY(check_f32(y, "gather_rows"));
    DG_CHECK(table->data != NULL && table->backend == y->backend, "gather_rows: table %s is not on %s's backend",
             tname(table), tname(y));
    DG_CHECK(table->dtype == DG_F32 || table->dtype == DG_BF16 || table->dtype == DG_F16,
             "gather_rows: table %s has unsupported dtype %s", tname(table), dg_dtype_name(table->dtype));
    DG_CHECK(table->ndim == 2 && y->ndim == 2 && y->shape[1] == table->shape[1],
             "gather_rows: output %s must be [rows, %lld] like table %s's rows", tname(y),
             (long long)(table->ndim == 2 ? table->shape[1] : 0), tname(table));
    DG_CHECK(rows != NULL || y->shape[0] == 0, "gather_rows: no row indices for %s", tname(y));
    for (int64_t r = 0; r < y->shape[0]; r++)
        DG_CHECK(rows[r] >= 0 && rows[r] < table->shape[0], "gather_rows: index %d at %lld outside table %s (%lld rows)",
                 (int)rows[r], (long long)r, tname(table), (long long)table->shape[0]);
    return y->backend->ops->gather_rows(y->backend, y, table, rows);
}

int dg_attention_pos_bias(dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v,
                          const dg_tensor *pos_bias, const dg_tensor *key_bias, int heads, float scale) {
    const char *op = "attention_pos_bias";
    DG_TRY(check_f32(o, op));
    DG_TRY(check_f32(q, op));
    DG_TRY(check_f32(k, op));
    DG_TRY(check_f32(v, op));
    DG_TRY(check_same(o, q, op));
    DG_TRY(check_same(k, v, op));
    DG_CHECK(q->ndim == 2 && k->ndim == 2 && q->shape[1] == k->shape[1],
             "%s: q %s and k %s must be [tokens, heads*head_dim] of one width", op, tname(q), tname(k));
    DG_CHECK(q->backend == k->backend, "%s: %s and %s live on different backends", op, tname(q), tname(k));
    DG_CHECK(heads >= 1 && q->shape[1] % heads == 0, "%s: width %lld of %s is not a multiple of %d heads", op,
             (long long)q->shape[1], tname(q), heads);
    DG_CHECK(k->shape[0] >= 1, "%s: no keys in %s", op, tname(k));
    DG_CHECK(o->data != q->data && o->data != k->data && o->data != v->data, "%s: output %s aliases an input", op,
             tname(o));
    int64_t nq = q->shape[0], nk = k->shape[0];
    if (pos_bias) {
        int64_t shape[2] = {nq + nk - 1, heads};
        DG_TRY(check_f32(pos_bias, op));
        DG_TRY(dg_tensor_expect_shape(pos_bias, "attention_pos_bias: position bias", 2, shape));
        DG_CHECK(pos_bias->backend == q->backend, "%s: position bias %s on another backend", op, tname(pos_bias));
    }
    if (key_bias) {
        DG_TRY(check_f32(key_bias, op));
        DG_TRY(check_vec(key_bias, nk, op));
        DG_CHECK(key_bias->backend == q->backend, "%s: key bias %s on another backend", op, tname(key_bias));
    }
    if (!nq) return DG_OK; /* no queries: nothing to write */
    return o->backend->ops->attention_pos_bias(o->backend, o, q, k, v, pos_bias, key_bias, heads, scale);
}

void dg_timestep_sinusoid(float *out, int dim, float t, int flip_sin_to_cos, float freq_shift) {
    int half = dim / 2;
    for (int i = 0; i < half; i++) {
        /* float32 arithmetic in the same order as torch: exp(-ln(1e4) * i / (half - shift)) */
        float e = (float)-log(10000.0) * (float)i;
        e = e / ((float)half - freq_shift);
        float a = t * expf(e);
        float s = sinf(a), c = cosf(a);
        out[i] = flip_sin_to_cos ? c : s;
        out[half + i] = flip_sin_to_cos ? s : c;
    }
    if (dim % 2) out[dim - 1] = 0.0f;
}

void dg_rope3d_row(float *co, float *si, const int64_t pos[3], const int dims[3], double theta) {
    int off = 0;
    for (int a = 0; a < 3; a++) {
        for (int k = 0; k < dims[a] / 2; k++) {
            /* diffusers: freqs = 1/(theta^(arange(0,dim,2)/dim)) in float64, outer with pos */
            double freq = 1.0 / pow(theta, (double)(2 * k) / (double)dims[a]);
            double ang = (double)pos[a] * freq;
            float c = (float)cos(ang), s = (float)sin(ang);
            co[off + 2 * k] = co[off + 2 * k + 1] = c;
            si[off + 2 * k] = si[off + 2 * k + 1] = s;
        }
        off += dims[a];
    }
}

int dg_rope3d_tables(float *cos_out, float *sin_out, int F, int H, int W, const int dims[3], double theta) {
    int d = dims[0] + dims[1] + dims[2];
    DG_CHECK(dims[0] % 2 == 0 && dims[1] % 2 == 0 && dims[2] % 2 == 0, "rope: odd axis width");
    for (int f = 0; f < F; f++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                const int64_t pos[3] = {f, i, j};
                size_t n = ((size_t)f * H + i) * W + j;
                dg_rope3d_row(cos_out + n * d, sin_out + n * d, pos, dims, theta);
            }
    return DG_OK;
}
