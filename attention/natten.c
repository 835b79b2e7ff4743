/* Neighborhood attention, NATTEN / GNA (sparse-attention.md §4(a)), exact
 * token-level predicate, AND over the axes. Per axis of length n: window
 * (kernel) w >= 2, stride 1 <= s <= w, dilation d >= 1 with w*d <= n, causal:
 *   g = i mod d, ii = i div d, n_g = n div d + 1 - ((g + d - n mod d) div d);
 *   key k is a candidate iff k mod d == g; kk = k div d
 *   wl = w div 2, wr = w div 2 + w mod 2 - 1
 *   non-causal: L = min((ii div s)*s + s div 2, n_g - 1)
 *               start = max(L - wl, 0) + (L + wr >= n_g ? n_g - wr - L - 1 : 0)
 *               allow iff start <= kk < start + w      (window shifted inward)
 *   causal:     L = min((ii div s)*s + s - 1, n_g - 1)
 *               allow iff max(L - (w - 1), 0) <= kk < min(ii + 1, n_g)
 * Params: "kernel_size" (required), "stride" (default 1), "dilation"
 * (default 1), "causal" (booleans, default false), "tile" (token-permutation
 * tile, default [2,8,8] with the stride on axes whose stride is > 1; only
 * speed depends on it). Arrays of 1, 2 or 3 entries
 * name the trailing axes (w; h, w; t, h, w); axes without an entry must have
 * length 1. An axis of length 1 is not a neighborhood axis (its entry is
 * ignored), so a 3-D setting runs as 2-D on images (T = 1).
 * Text (joint attention, NATTEN's additional_keys): video queries see their
 * neighborhood plus every text key in one softmax (= NATTEN's LSE merge of the
 * two partial attentions), text queries see everything (run densely outside
 * NATTEN in an MMDiT). Dilation groups are not split into separate batches as
 * NATTEN's token permute does; dilated windows just give partial blocks. */
#include <stdlib.h>
#include <string.h>

#include "attention/methods_internal.h"
#include "attention/separable.h"
#include "core/error.h"

typedef struct {
    dg_attn_sep sep; /* first: the shared separable-method helpers use it */
    int kernel[3], stride[3], dilation[3], causal[3], tile[3];
    int axes; /* entries given in kernel_size: the trailing axes they name */
} natten_params;

/* The §4(a) predicate on one axis. */
static int natten_axis(int n, int w, int s, int d, int causal, int i, int k) {
    const int g = i % d, ii = i / d, ng = n / d + 1 - ((g + d - n % d) / d);
    if (k % d != g) return 0;
    const int kk = k / d;
    if (causal) {
        int L = (ii / s) * s + s - 1;
        L = L < ng - 1 ? L : ng - 1;
        const int start = L - (w - 1) > 0 ? L - (w - 1) : 0, end = ii + 1 < ng ? ii + 1 : ng;
        return start <= kk && kk < end;
    }
    const int wl = w / 2, wr = w / 2 + w % 2 - 1;
    int L = (ii / s) * s + s / 2;
    L = L < ng - 1 ? L : ng - 1;
    const int start = (L - wl > 0 ? L - wl : 0) + (L + wr >= ng ? ng - wr - L - 1 : 0);
    return start <= kk && kk < start + w;
}

static int natten_prepare(dg_attn_method *m, const dg_attn_geometry *g) {
    natten_params *p = m->params;
    DG_TRY(dg_attn_geometry_check(g, "natten"));
    const int n[3] = {g->T, g->H, g->W};
    for (int a = 0; a < 3; a++) {
        if (n[a] == 1) continue;
        DG_CHECK(a >= 3 - p->axes, "natten: kernel_size has no entry for axis %c of length %d", "thw"[a], n[a]);
        const int64_t span = (int64_t)p->kernel[a] * p->dilation[a];
        char need[96];
        DG_CHECK(span <= n[a], "natten: kernel_size[%c] * dilation[%c] = %lld exceeds the axis length %d: needs %s",
                 "thw"[a], "thw"[a], (long long)span, n[a], dg_attn_need(g, a, span, need, sizeof need));
    }
    DG_TRY(dg_attn_sep_method_begin(m, g));
    for (int a = 0; a < 3; a++)
        for (int i = 0; i < n[a]; i++)
            for (int k = 0; k < n[a]; k++)
                p->sep.table[a][i * n[a] + k] =
                    n[a] == 1 || natten_axis(n[a], p->kernel[a], p->stride[a], p->dilation[a], p->causal[a], i, k);
    return dg_attn_sep_method_finish(m, g, p->tile);
}

static const dg_attn_method_ops natten_ops = {"natten", natten_prepare, NULL, dg_attn_layout_density,
                                          dg_attn_sep_method_allow, dg_attn_sep_method_destroy};

/* "causal": an array of 1..3 booleans for the trailing axes. */
static int parse_causal(const char *ctx, const dg_attn_params *params, int out[3]) {
    const dg_attn_value *arr = dg_attn_params_find(params, "causal");
    if (!arr) return DG_OK;
    const int len = arr->kind == DG_ATTN_ARRAY ? arr->n_items : 0;
    DG_CHECK(len >= 1 && len <= 3, "%s: 'causal' must be an array of 1 to 3 booleans", ctx);
    for (int i = 0; i < len; i++) {
        const dg_attn_value *e = &arr->items[i];
        DG_CHECK(e->kind == DG_ATTN_BOOL, "%s: 'causal'[%d] must be true or false", ctx, i);
        out[3 - len + i] = (int)e->number;
    }
    return DG_OK;
}

int dg_attn_natten_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx) {
    static const char *const keys[] = {"kernel_size", "stride", "dilation", "causal", "tile", NULL};
    DG_TRY(dg_attn_params_check_keys(params, ctx, keys));
    natten_params *p = calloc(1, sizeof *p);
    DG_CHECK_ALLOC(p);
    m->params = p;
    m->ops = &natten_ops;
    for (int a = 0; a < 3; a++) p->kernel[a] = 2, p->stride[a] = p->dilation[a] = 1;
    p->tile[0] = 2, p->tile[1] = p->tile[2] = 8;
    int cnt;
    if (dg_attn_parse_axes(ctx, params, "kernel_size", 2, 1 << 16, 2, p->kernel, &p->axes) ||
        dg_attn_parse_axes(ctx, params, "stride", 1, 1 << 16, 1, p->stride, &cnt) ||
        dg_attn_parse_axes(ctx, params, "dilation", 1, 1 << 16, 1, p->dilation, &cnt) ||
        dg_attn_parse_axes(ctx, params, "tile", 1, 1 << 16, 1, p->tile, &cnt) || parse_causal(ctx, params, p->causal))
        goto fail;
    /* Default tile on a strided axis: the stride group, whose queries share one
     * window (GNA), so blocks follow the windows: at Wan 480p the GNA preset
     * lists 0.41 of all pairs for density 0.32, against 0.57 with [2,8,8]. */
    if (!cnt)
        for (int a = 0; a < 3; a++)
            if (p->stride[a] > 1) p->tile[a] = p->stride[a];
    if (!p->axes) {
        dg_error("%s: 'kernel_size' is required", ctx);
        goto fail;
    }
    for (int a = 0; a < 3; a++)
        if (p->stride[a] > p->kernel[a]) {
            dg_error("%s: 'stride' (%d) must not exceed 'kernel_size' (%d) on axis %c", ctx, p->stride[a], p->kernel[a],
                     "thw"[a]);
            goto fail;
        }
    return DG_OK;
fail:
    dg_attn_sep_method_destroy(m);
    return DG_ERR;
}
