/* Per-axis product masks with the joint-attention text rule (see separable.h). */
#include <stdlib.h>
#include <string.h>

#include "attention/methods_internal.h"
#include "attention/separable.h"
#include "core/error.h"

int dg_attn_sep_init(dg_attn_sep *s, const dg_attn_geometry *g) {
    memset(s, 0, sizeof *s);
    s->g = *g;
    s->n[0] = g->T, s->n[1] = g->H, s->n[2] = g->W;
    const int64_t n = dg_attn_geometry_tokens(g);
    s->coord = malloc((size_t)n * 3 * sizeof(int32_t));
    DG_CHECK_ALLOC(s->coord);
    for (int64_t i = 0; i < n; i++) {
        const int64_t v = dg_attn_video_index(g, i);
        s->coord[3 * i] = v < 0 ? -1 : (int32_t)(v / ((int64_t)g->H * g->W));
        s->coord[3 * i + 1] = v < 0 ? -1 : (int32_t)(v / g->W % g->H);
        s->coord[3 * i + 2] = v < 0 ? -1 : (int32_t)(v % g->W);
    }
    for (int a = 0; a < 3; a++) {
        s->table[a] = calloc((size_t)s->n[a] * (size_t)s->n[a], 1);
        s->psum[a] = calloc((size_t)(s->n[a] + 1) * (size_t)(s->n[a] + 1), sizeof(int32_t));
        if (!s->table[a] || !s->psum[a]) {
            dg_attn_sep_free(s);
            return dg_error("%s:%d: out of memory", __FILE__, __LINE__);
        }
    }
    return DG_OK;
}

void dg_attn_sep_free(dg_attn_sep *s) {
    for (int a = 0; a < 3; a++) free(s->table[a]), free(s->psum[a]);
    free(s->blocks);
    free(s->coord);
    memset(s, 0, sizeof *s);
}

int dg_attn_sep_allow(const dg_attn_sep *s, int64_t i, int64_t j) {
    const int32_t *a = s->coord + 3 * i, *b = s->coord + 3 * j;
    if (a[0] < 0 || b[0] < 0) return 1; /* text query sees all; video query sees every (valid) text key */
    return s->table[0][a[0] * s->n[0] + b[0]] && s->table[1][a[1] * s->n[1] + b[1]] &&
           s->table[2][a[2] * s->n[2] + b[2]];
}

/* Block record: lo[3], hi[3], video count, text count. */
#define REC 8

static void block_boxes(const dg_attn_sep *s, const int32_t *perm, int64_t n, int bs, int32_t *rec) {
    const int64_t H = s->n[1], W = s->n[2];
    for (int64_t b0 = 0; b0 < n; b0 += bs, rec += REC) {
        for (int a = 0; a < 3; a++) rec[a] = INT32_MAX, rec[3 + a] = -1;
        rec[6] = rec[7] = 0;
        for (int64_t p = b0; p < n && p < b0 + bs; p++) {
            const int64_t v = dg_attn_video_index(&s->g, perm ? perm[p] : p);
            if (v < 0) {
                rec[7]++;
                continue;
            }
            const int32_t c[3] = {(int32_t)(v / (H * W)), (int32_t)(v / W % H), (int32_t)(v % W)};
            for (int a = 0; a < 3; a++) {
                if (c[a] < rec[a]) rec[a] = c[a];
                if (c[a] > rec[3 + a]) rec[3 + a] = c[a];
            }
            rec[6]++;
        }
    }
}

/* Allowed pairs of axis a within query coords [q0, q1] x key coords [k0, k1]. */
static int64_t box_count(const dg_attn_sep *s, int a, int q0, int q1, int k0, int k1) {
    const int64_t m = s->n[a] + 1;
    const int32_t *p = s->psum[a];
    return (int64_t)p[(q1 + 1) * m + k1 + 1] - p[q0 * m + k1 + 1] - p[(q1 + 1) * m + k0] + p[q0 * m + k0];
}

static int sep_classify(const void *ctx, int64_t q0, int64_t q1, int64_t k0, int64_t k1) {
    const dg_attn_sep *s = ctx;
    const int32_t *qr = s->blocks + (q0 / s->block_q) * REC;
    const int32_t *kr = s->blocks + (s->n_qblocks + k0 / s->block_k) * REC;
    int vv = DG_BLOCK_FULL; /* video x video part */
    if (qr[6] && kr[6]) {
        for (int a = 0; a < 3 && vv != DG_BLOCK_NONE; a++) {
            const int64_t c = box_count(s, a, qr[a], qr[3 + a], kr[a], kr[3 + a]);
            const int64_t area = (int64_t)(qr[3 + a] - qr[a] + 1) * (kr[3 + a] - kr[a] + 1);
            if (c == 0) vv = DG_BLOCK_NONE;
            else if (c < area) vv = DG_BLOCK_PARTIAL;
        }
    }
    if (vv == DG_BLOCK_FULL) return DG_BLOCK_FULL; /* text pairs are always allowed */
    if (vv == DG_BLOCK_NONE && !qr[7] && !kr[7]) return DG_BLOCK_NONE;
    return DG_BLOCK_PARTIAL;
}

static int sep_allow_cb(const void *ctx, int64_t i, int64_t j) { return dg_attn_sep_allow(ctx, i, j); }

int dg_attn_sep_build(dg_attn_sep *s, dg_block_layout *l, const int32_t *perm, int block_q, int block_k) {
    for (int a = 0; a < 3; a++) {
        const int64_t n = s->n[a], m = n + 1;
        for (int64_t q = 0; q < n; q++)
            for (int64_t k = 0; k < n; k++)
                s->psum[a][(q + 1) * m + k + 1] =
                    s->table[a][q * n + k] + s->psum[a][q * m + k + 1] + s->psum[a][(q + 1) * m + k] - s->psum[a][q * m + k];
    }
    const int64_t n = dg_attn_geometry_tokens(&s->g);
    s->block_q = block_q, s->block_k = block_k;
    s->n_qblocks = (n + block_q - 1) / block_q;
    const int64_t nkb = (n + block_k - 1) / block_k;
    free(s->blocks);
    s->blocks = malloc((size_t)(s->n_qblocks + nkb) * REC * sizeof(int32_t));
    DG_CHECK_ALLOC(s->blocks);
    block_boxes(s, perm, n, block_q, s->blocks);
    block_boxes(s, perm, n, block_k, s->blocks + s->n_qblocks * REC);
    int rc = dg_block_layout_build(l, n, block_q, block_k, perm, sep_allow_cb, sep_classify, s);
    free(s->blocks);
    s->blocks = NULL;
    return rc;
}

int dg_attn_tile_perm(const dg_attn_geometry *g, const int tile[3], int32_t **out) {
    const int n[3] = {g->T, g->H, g->W};
    const int64_t nvid = (int64_t)g->T * g->H * g->W, off = g->text_first ? g->text_tokens : 0;
    int32_t *perm = malloc((size_t)(nvid + g->text_tokens) * sizeof(int32_t));
    DG_CHECK_ALLOC(perm);
    int64_t p = 0;
    if (g->text_first)
        for (int64_t i = 0; i < g->text_tokens; i++) perm[p++] = (int32_t)i;
    /* Tiles whose size is a multiple of the engine's 128-token block first, so
     * they stay on the block grid; smaller border tiles would shift every later
     * tile off it and make its blocks mixed. The order only affects speed. */
    for (int pass = 0; pass < 2; pass++)
        for (int t0 = 0; t0 < n[0]; t0 += tile[0])
            for (int h0 = 0; h0 < n[1]; h0 += tile[1])
                for (int w0 = 0; w0 < n[2]; w0 += tile[2]) {
                    const int t1 = t0 + tile[0] < n[0] ? t0 + tile[0] : n[0];
                    const int h1 = h0 + tile[1] < n[1] ? h0 + tile[1] : n[1];
                    const int w1 = w0 + tile[2] < n[2] ? w0 + tile[2] : n[2];
                    if (((int64_t)(t1 - t0) * (h1 - h0) * (w1 - w0) % 128 != 0) != pass) continue;
                    for (int t = t0; t < t1; t++)
                        for (int h = h0; h < h1; h++)
                            for (int w = w0; w < w1; w++) perm[p++] = (int32_t)(off + ((int64_t)t * n[1] + h) * n[2] + w);
                }
    if (!g->text_first)
        for (int64_t i = 0; i < g->text_tokens; i++) perm[p++] = (int32_t)(nvid + i);
    *out = perm;
    return DG_OK;
}

int dg_attn_parse_axes(const char *ctx, const dg_attn_params *params, const char *key, int lo, int hi, int fill, int out[3],
                       int *count) {
    *count = 0;
    const dg_attn_value *arr = dg_attn_params_find(params, key);
    if (!arr) return DG_OK;
    const int len = arr->kind == DG_ATTN_ARRAY ? arr->n_items : 0;
    DG_CHECK(len >= 1 && len <= 3, "%s: '%s' must be an array of 1 to 3 integers (w; h, w; or t, h, w)", ctx, key);
    int v[3];
    for (int i = 0; i < len; i++) {
        int64_t x;
        DG_CHECK(dg_attn_value_integer(&arr->items[i], &x), "%s: '%s'[%d] must be an integer", ctx, key, i);
        /* range-checked before narrowing: a huge value must not reach the int cast */
        DG_CHECK(x >= lo && x <= hi, "%s: '%s'[%d] = %lld is out of range %d..%d", ctx, key, i, (long long)x, lo, hi);
        v[i] = (int)x;
    }
    for (int a = 0; a < 3; a++) out[a] = a < 3 - len ? fill : v[a - (3 - len)];
    *count = len;
    return DG_OK;
}

int dg_attn_sep_method_begin(dg_attn_method *m, const dg_attn_geometry *g) {
    dg_attn_sep *sep = m->params;
    dg_block_layout_free(&m->layout);
    dg_attn_sep_free(sep);
    return dg_attn_sep_init(sep, g);
}

int dg_attn_sep_method_finish(dg_attn_method *m, const dg_attn_geometry *g, const int tile[3]) {
    int32_t *perm = NULL;
    if (tile) DG_TRY(dg_attn_tile_perm(g, tile, &perm));
    int rc = dg_attn_sep_build(m->params, &m->layout, perm, 128, 128);
    free(perm);
    if (rc == DG_OK) m->geom = *g;
    return rc;
}

int dg_attn_sep_method_allow(const dg_attn_method *m, int64_t i, int64_t j) {
    return dg_attn_sep_allow(m->params, i, j);
}

void dg_attn_sep_method_destroy(dg_attn_method *m) {
    if (m->params) dg_attn_sep_free(m->params);
    free(m->params);
    m->params = NULL;
}
