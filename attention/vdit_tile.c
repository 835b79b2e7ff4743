/* Efficient-vDiT "attention tile" mask (sparse-attention.md §3.1): whole
 * frame x frame tiles on or off. With k global frames (the first k, the
 * spec's reconstruction; notation k:(T-k)):
 *   frame_allow(i, j) = i == j  or  j < k  or  i < k
 * i.e. each frame sees itself and the global frames, and global frames see
 * everything. Param "global_frames" k (default 2, must be <= T).
 * The spec defines no text rule (cross-attention model); text tokens in a
 * joint geometry follow §6 rule 3 like the other methods (video queries see
 * all text, text queries see all). Raster order, no permutation: frames are
 * contiguous already. */
#include <stdlib.h>

#include "attention/methods_internal.h"
#include "attention/separable.h"
#include "core/error.h"

typedef struct {
    dg_attn_sep sep; /* first: the shared separable-method helpers use it */
    int64_t global_frames;
} vdit_params;

static int vdit_prepare(dg_attn_method *m, const dg_attn_geometry *g) {
    vdit_params *p = m->params;
    DG_TRY(dg_attn_geometry_check(g, "vdit_tile"));
    char need[96];
    DG_CHECK(p->global_frames <= g->T, "vdit_tile: global_frames = %lld exceeds the %d latent frames: needs %s",
             (long long)p->global_frames, g->T, dg_attn_need(g, 0, p->global_frames, need, sizeof need));
    DG_TRY(dg_attn_sep_method_begin(m, g));
    const int64_t k = p->global_frames;
    for (int i = 0; i < g->T; i++)
        for (int j = 0; j < g->T; j++) p->sep.table[0][i * g->T + j] = i == j || j < k || i < k;
    for (int a = 1; a < 3; a++)
        for (int64_t x = 0; x < (int64_t)p->sep.n[a] * p->sep.n[a]; x++) p->sep.table[a][x] = 1;
    return dg_attn_sep_method_finish(m, g, NULL);
}

static const dg_attn_method_ops vdit_ops = {"vdit_tile", vdit_prepare, NULL, dg_attn_layout_density,
                                          dg_attn_sep_method_allow, dg_attn_sep_method_destroy};

int dg_attn_vdit_tile_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx) {
    static const char *const keys[] = {"global_frames", NULL};
    DG_TRY(dg_attn_params_check_keys(params, ctx, keys));
    vdit_params *p = calloc(1, sizeof *p);
    DG_CHECK_ALLOC(p);
    m->params = p;
    m->ops = &vdit_ops;
    p->global_frames = 2;
    if (params && dg_attn_params_get_int(ctx, params, "global_frames", &p->global_frames) != DG_OK) goto fail;
    if (p->global_frames < 0 || p->global_frames > 1 << 20) {
        dg_error("%s: 'global_frames' must be >= 0 (got %lld)", ctx, (long long)p->global_frames);
        goto fail;
    }
    return DG_OK;
fail:
    dg_attn_sep_method_destroy(m);
    return DG_ERR;
}
