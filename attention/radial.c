/* Radial attention (sparse-attention.md §2), as the official code executes it
 * (radial-attention attn_mask.py: get_window_width, get_diagonal_split_mask,
 * gen_log_mask_shrinked, shrinkMaskStrict), i.e. the block mask, not the
 * token band.
 *
 * Token band for query frame i, in-frame index r, key frame j, index c
 * (S = H*W tokens per frame, d = |i-j|, g = bitlen(d), P = 2^bitlen(S)):
 *   sink and j == 0                  -> allowed (Wan's first-frame sink)
 *   else allowed iff |c - r| <= w and keep, where
 *     w    = S if d <= 1, else max(P/2^g * decay_factor, block)
 *     keep = P/2^g >= threshold or d mod floor(threshold / (P/2^g)) == 0
 * (threshold is 128 in the official code; the split also applies at d <= 1,
 * where it only matters for S < threshold.)
 *
 * Blocks: every frame pair's band, placed at its global offset, is cut into
 * the global grid of block x block tokens (only the first ceil(S/block)
 * blocks from the frame's first block: the official slicing); a block is on
 * for the pair iff among its columns with any allowed row, more than 60 %
 * have more than block/3 allowed rows. Pairs are OR-ed. Blocks from
 * floor(Nv/block) on are dense (the official code marks them as the
 * video/text border), which covers a partial last video block.
 * Executed rule: video q, video k -> bit[q / block][k / block]; any text
 * query or key (joint attention: video q sees all valid text, text q sees
 * all) -> allowed; geom.text_tokens counts valid text only (padded text
 * keys are masked for everyone, so callers drop them). Text is moved after
 * the video so blocks stay aligned. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/method.h"
#include "attention/methods_internal.h"
#include "core/error.h"

typedef struct radial_params {
    double decay;
    int block;
    int sink;
    int threshold;
    /* Set by prepare. */
    int64_t nv, video0;
    int64_t border;  /* radial blocks >= border are dense */
    uint8_t *bits;   /* [border * border] */
} radial_params;

static int bitlen(int64_t x) {
    int b = 0;
    while (x > 0) b++, x >>= 1;
    return b;
}

/* Whether block row [r_lo, r_hi) x column [c_lo, c_hi) (in-frame indices) of
 * a band of half-width wi passes shrinkMaskStrict's test. */
static int radial_block_on(int64_t r_lo, int64_t r_hi, int64_t c_lo, int64_t c_hi, int64_t wi, int block) {
    if (c_lo - (r_hi - 1) > wi || r_lo - (c_hi - 1) > wi) return 0;
    if ((c_hi - 1) - r_lo <= wi && (r_hi - 1) - c_lo <= wi) /* every column has every row */
        return 3 * (r_hi - r_lo) > block;
    int64_t nz = 0, high = 0;
    for (int64_t c = c_lo; c < c_hi; c++) {
        int64_t a = c - wi > r_lo ? c - wi : r_lo, b = c + wi < r_hi - 1 ? c + wi : r_hi - 1;
        int64_t cnt = b >= a ? b - a + 1 : 0;
        nz += cnt > 0;
        high += 3 * cnt > block; /* density cnt/block > 1/3 */
    }
    return 5 * high > 3 * nz; /* fraction > 0.6 */
}

/* Band half-width (in tokens) for a frame pair, or -1 when the pair is dropped. */
static int64_t radial_width(const radial_params *p, int i, int j, int64_t S) {
    if (p->sink && j == 0) return S;
    const int d = abs(i - j), g = bitlen(d);
    const double D = ldexp((double)((int64_t)1 << bitlen(S)), -g);
    if (!(D >= p->threshold) && d % (int64_t)(p->threshold / D) != 0) return -1;
    if (d <= 1) return S;
    const double w = D * p->decay;
    return w >= p->block ? (int64_t)floor(w) : p->block;
}

static void radial_build_bits(radial_params *p, int f, int64_t S) {
    const int64_t B = p->block, per_frame = (S + B - 1) / B;
    for (int i = 0; i < f; i++)
        for (int j = 0; j < f; j++) {
            const int64_t wi = radial_width(p, i, j, S);
            if (wi < 0) continue;
            const int64_t rs = i * S / B, rem_r = i * S - rs * B;
            const int64_t cs = j * S / B, rem_c = j * S - cs * B;
            for (int64_t a = 0; a < per_frame && rs + a < p->border; a++) {
                int64_t r_lo = a * B - rem_r, r_hi = r_lo + B;
                if (r_lo < 0) r_lo = 0;
                if (r_hi > S) r_hi = S;
                if (r_lo >= r_hi) continue;
                uint8_t *row = p->bits + (rs + a) * p->border;
                for (int64_t b = 0; b < per_frame && cs + b < p->border; b++) {
                    if (row[cs + b]) continue;
                    int64_t c_lo = b * B - rem_c, c_hi = c_lo + B;
                    if (c_lo < 0) c_lo = 0;
                    if (c_hi > S) c_hi = S;
                    if (c_lo < c_hi) row[cs + b] = (uint8_t)radial_block_on(r_lo, r_hi, c_lo, c_hi, wi, (int)B);
                }
            }
        }
}

/* Allowed bit of video positions (x, y); past the border everything is allowed. */
static int radial_video_allowed(const radial_params *p, int64_t x, int64_t y) {
    const int64_t bx = x / p->block, by = y / p->block;
    return bx >= p->border || by >= p->border || p->bits[bx * p->border + by];
}

static int radial_allow_params(const radial_params *p, int64_t i, int64_t j) {
    const int64_t vi = i - p->video0, vj = j - p->video0;
    if (vi < 0 || vi >= p->nv || vj < 0 || vj >= p->nv) return 1;
    return radial_video_allowed(p, vi, vj);
}

static int radial_allow(const dg_attn_method *m, int64_t i, int64_t j) { return radial_allow_params(m->params, i, j); }
static int radial_allow_ctx(const void *ctx, int64_t i, int64_t j) { return radial_allow_params(ctx, i, j); }

/* Permuted positions are video indices below nv, text above; a layout block
 * covers whole radial blocks' worth of bits, so checking them is exact. */
static int radial_classify(const void *ctx, int64_t q0, int64_t q1, int64_t k0, int64_t k1) {
    const radial_params *p = ctx;
    const int64_t lim = p->border * p->block;
    int any = q1 > lim || k1 > lim, all = 1;
    for (int64_t bq = q0 / p->block; bq * p->block < q1 && bq < p->border; bq++)
        for (int64_t bk = k0 / p->block; bk * p->block < k1 && bk < p->border; bk++) {
            int on = p->bits[bq * p->border + bk];
            any |= on;
            all &= on;
        }
    return all ? DG_BLOCK_FULL : any ? DG_BLOCK_PARTIAL : DG_BLOCK_NONE;
}

static int radial_prepare(dg_attn_method *m, const dg_attn_geometry *g) {
    DG_TRY(dg_attn_geometry_check(g, "radial"));
    radial_params *p = m->params, q = *p;
    const int64_t S = (int64_t)g->H * g->W, n = dg_attn_geometry_tokens(g);
    q.nv = S * g->T;
    q.video0 = g->text_first ? g->text_tokens : 0;
    q.border = q.nv / q.block;
    DG_CHECK(q.border <= (1 << 14), "radial: block=%d is too small for %lld video tokens (at most 16384 blocks a side)",
             q.block, (long long)q.nv);
    q.bits = calloc((size_t)(q.border * q.border > 0 ? q.border * q.border : 1), 1);
    int32_t *perm = g->text_first && g->text_tokens > 0 ? malloc((size_t)n * sizeof(int32_t)) : NULL;
    if (!q.bits || (g->text_first && g->text_tokens > 0 && !perm)) {
        free(q.bits);
        free(perm);
        return dg_error("%s:%d: out of memory", __FILE__, __LINE__);
    }
    radial_build_bits(&q, g->T, S);
    if (perm) /* video first, then text */
        for (int64_t x = 0; x < n; x++) perm[x] = (int32_t)(x < q.nv ? x + g->text_tokens : x - q.nv);
    /* Layout blocks: 64 when the radial block is 64, else 128 (the engine's sizes). */
    const int lb = q.block == 64 ? 64 : 128;
    dg_block_layout l;
    int rc = dg_block_layout_build(&l, n, lb, lb, perm, radial_allow_ctx, radial_classify, &q);
    free(perm);
    if (rc != DG_OK) {
        free(q.bits);
        return dg_error_wrap("radial: ");
    }
    free(p->bits);
    *p = q;
    dg_block_layout_free(&m->layout);
    m->layout = l;
    m->geom = *g;
    return DG_OK;
}

static void radial_destroy(dg_attn_method *m) {
    radial_params *p = m->params;
    if (p) free(p->bits);
    free(p);
    m->params = NULL;
}

static const dg_attn_method_ops radial_ops = {
    .name = "radial",
    .prepare = radial_prepare,
    .density = dg_attn_layout_density,
    .allow = radial_allow,
    .destroy = radial_destroy,
};

int dg_attn_radial_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx) {
    static const char *const keys[] = {"decay_factor", "block", "sink", "threshold", NULL};
    char where[256];
    snprintf(where, sizeof(where), "%s: radial", ctx ? ctx : "attention");
    radial_params p = {.decay = 1.0, .block = 128, .sink = 1, .threshold = 128};
    if (params) {
        DG_TRY(dg_attn_params_check_keys(params, where, keys));
        DG_TRY(dg_attn_params_get_double(where, params, "decay_factor", &p.decay));
        DG_CHECK(p.decay > 0 && p.decay <= 1024, "%s: decay_factor=%g out of range (0, 1024]", where, p.decay);
        int64_t block = p.block, threshold = p.threshold;
        DG_TRY(dg_attn_params_get_int(where, params, "block", &block));
        DG_CHECK(block >= 1 && block <= 4096, "%s: block=%lld out of range [1, 4096]", where, (long long)block);
        DG_TRY(dg_attn_params_get_int(where, params, "threshold", &threshold));
        DG_CHECK(threshold >= 1 && threshold <= 65536, "%s: threshold=%lld out of range [1, 65536]", where,
                 (long long)threshold);
        DG_TRY(dg_attn_params_get_bool(where, params, "sink", &p.sink));
        p.block = (int)block;
        p.threshold = (int)threshold;
    }
    radial_params *heap = malloc(sizeof(*heap));
    DG_CHECK_ALLOC(heap);
    *heap = p;
    m->ops = &radial_ops;
    m->params = heap;
    return DG_OK;
}
