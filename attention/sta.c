/* Sliding Tile Attention (sparse-attention.md §3.2): the video is cut into
 * tiles (default 6x8x8 = 384 tokens); a query in tile (a, b, c) sees the key
 * tiles within window/2 tiles of a centre that is its own tile clamped inward
 * on every axis, so every query tile sees exactly kt*kh*kw tiles:
 *   centre_x = min(max(q_x, k_x/2), (n_x - 1) - k_x/2)   (torch clamp: hi wins
 *              when the bounds cross, i.e. a window wider than the axis)
 *   allow iff |centre_x - k_x| <= window_x/2 on t, h and w.
 * Text (joint attention): video queries also see every text key, text queries
 * see everything (§3.2(a)).
 * Params: "tile" [t,h,w] (default [6,8,8]), "window" [t,h,w] in tiles
 * (default [3,3,3]; the published windows are odd, or the whole axis, e.g.
 * Wan's full (3,6,10): the formula is applied as is, so an even window
 * smaller than the axis covers window+1 tiles), "partial_tiles" (default false: the tile must divide
 * the canvas as the spec requires; true: border tiles are smaller, tile
 * coordinate floor(x / tile), tile count ceil(n / tile), e.g. for Wan 480p).
 * 1- or 2-entry arrays name the trailing axes; the others get 1 (tile) and 1
 * (window). Tokens run in tile-major order (§3.2(c)). */
#include <stdlib.h>

#include "attention/methods_internal.h"
#include "attention/separable.h"
#include "core/error.h"

typedef struct {
    dg_attn_sep sep; /* first: the shared separable-method helpers use it */
    int tile[3], window[3], partial_tiles;
} sta_params;

static int sta_prepare(dg_attn_method *m, const dg_attn_geometry *g) {
    sta_params *p = m->params;
    DG_TRY(dg_attn_geometry_check(g, "sta"));
    const int n[3] = {g->T, g->H, g->W};
    for (int a = 0; a < 3; a++)
        DG_CHECK(p->partial_tiles || n[a] % p->tile[a] == 0,
                 "sta: tile[%c] = %d does not divide the canvas (%d); set \"partial_tiles\": true to allow smaller border tiles",
                 "thw"[a], p->tile[a], n[a]);
    DG_TRY(dg_attn_sep_method_begin(m, g));
    for (int a = 0; a < 3; a++) {
        const int nt = (n[a] + p->tile[a] - 1) / p->tile[a], half = p->window[a] / 2;
        for (int x = 0; x < n[a]; x++) {
            const int qt = x / p->tile[a];
            int c = qt > half ? qt : half;
            c = c < nt - 1 - half ? c : nt - 1 - half;
            for (int y = 0; y < n[a]; y++) {
                const int d = c - y / p->tile[a];
                p->sep.table[a][x * n[a] + y] = (d < 0 ? -d : d) <= half;
            }
        }
    }
    return dg_attn_sep_method_finish(m, g, p->tile);
}

static const dg_attn_method_ops sta_ops = {"sta", sta_prepare, NULL, dg_attn_layout_density,
                                          dg_attn_sep_method_allow, dg_attn_sep_method_destroy};

int dg_attn_sta_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx) {
    static const char *const keys[] = {"tile", "window", "partial_tiles", NULL};
    DG_TRY(dg_attn_params_check_keys(params, ctx, keys));
    sta_params *p = calloc(1, sizeof *p);
    DG_CHECK_ALLOC(p);
    m->params = p;
    m->ops = &sta_ops;
    p->tile[0] = 6, p->tile[1] = p->tile[2] = 8;
    p->window[0] = p->window[1] = p->window[2] = 3;
    int cnt;
    if (dg_attn_parse_axes(ctx, params, "tile", 1, 1 << 16, 1, p->tile, &cnt) ||
        dg_attn_parse_axes(ctx, params, "window", 1, 1 << 16, 1, p->window, &cnt) ||
        (params && dg_attn_params_get_bool(ctx, params, "partial_tiles", &p->partial_tiles)))
        goto fail;
    return DG_OK;
fail:
    dg_attn_sep_method_destroy(m);
    return DG_ERR;
}
