/* GRAT (sparse-attention.md §1): video tokens are cut into groups of
 * g_t x g_h x g_w; all queries of a group share one set of key groups.
 *   criss_cross (GRAT-X, the official variant): key group in the same t-, h- or
 *     w-slab as the query group (3-D); for images (T = 1) the 2-D rule, same
 *     group row or group column, since the 3-D rule would allow everything.
 *   blocks (GRAT-B, "surrounding blocks"): |group delta| <= radius on every axis.
 * Text (joint attention): video queries also see every text token, text
 * queries see everything. geom.text_tokens must count valid text only: padded
 * text keys are masked for every query in the spec, so callers drop them.
 *
 * The spec requires the group to divide (T, H, W) (§1(a), §6.7); that is the
 * default and other grids are refused. "partial_groups": true opts into the
 * same rule with group coordinate floor(coord / g), so the last group along an
 * axis is smaller (needed for e.g. Wan 480p, 21x30x52).
 *
 * Execution: tokens are permuted group-major (§1(c)), text after the video, so
 * groups are contiguous; the block layout marks a block full or empty when all
 * group pairs inside agree, and stores an element mask only for mixed blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/method.h"
#include "attention/methods_internal.h"
#include "core/error.h"

/* Query and key blocks of 128 tokens (FlexAttention's default in the official
 * code): default groups (256 tokens) are two whole blocks. */
#define GRAT_BLOCK 128
#define GRAT_TEXT (-1)

typedef struct grat_params {
    int criss_cross;
    int group[3]; /* g_t, g_h, g_w */
    int radius[3];
    int partial_groups;
    /* Set by prepare. */
    int dims[3];  /* T, H, W */
    int g[3];     /* group used per axis (g_t = 1 for images) */
    int ng[3];    /* group grid */
    int image;
    int64_t nv;   /* video tokens */
    int64_t video0; /* original index of the first video token */
} grat_params;

static const char *const axis_name = "THW";

/* Group coordinates of video token v (raster index inside the video part). */
static void grat_group_of(const grat_params *p, int64_t v, int gc[3]) {
    const int64_t hw = (int64_t)p->dims[1] * p->dims[2];
    int t = (int)(v / hw), h = (int)(v % hw / p->dims[2]), w = (int)(v % p->dims[2]);
    gc[0] = t / p->g[0];
    gc[1] = h / p->g[1];
    gc[2] = w / p->g[2];
}

static int grat_groups_allowed(const grat_params *p, const int a[3], const int b[3]) {
    if (p->criss_cross) {
        if (p->image) return a[1] == b[1] || a[2] == b[2];
        return a[0] == b[0] || a[1] == b[1] || a[2] == b[2];
    }
    for (int x = 0; x < 3; x++)
        if (abs(a[x] - b[x]) > p->radius[x]) return 0;
    return 1;
}

/* Video index of original token i, or -1 for text. */
static int64_t grat_video_index(const grat_params *p, int64_t i) {
    int64_t v = i - p->video0;
    return v >= 0 && v < p->nv ? v : -1;
}

static int grat_allow_params(const grat_params *p, int64_t i, int64_t j) {
    int64_t vi = grat_video_index(p, i), vj = grat_video_index(p, j);
    if (vi < 0 || vj < 0) return 1;
    int a[3], b[3];
    grat_group_of(p, vi, a);
    grat_group_of(p, vj, b);
    return grat_groups_allowed(p, a, b);
}

static int grat_allow(const dg_attn_method *m, int64_t i, int64_t j) { return grat_allow_params(m->params, i, j); }

/* Permuted order: video group-major (groups raster, tokens raster inside a
 * group, §1(c); block-sized groups before the others), then text. Each group is one segment of the permuted
 * sequence; text is one segment of class GRAT_TEXT. */
typedef struct grat_segments {
    const grat_params *p;
    int64_t *start; /* [n + 1] */
    int32_t *cls;   /* [n] */
    int64_t n;
} grat_segments;

static void grat_permute(const grat_params *p, const dg_attn_geometry *g, int32_t *perm, grat_segments *sg) {
    int64_t pos = 0, s = 0;
    const int T = p->dims[0], H = p->dims[1], W = p->dims[2];
    /* Groups whose size is a multiple of the block come first, so they stay on
     * the block grid (smaller edge groups would shift every later group off it
     * and make their blocks mixed); the order is free, results do not depend
     * on it. */
    for (int pass = 0; pass < 2; pass++)
        for (int a = 0; a < p->ng[0]; a++)
            for (int b = 0; b < p->ng[1]; b++)
                for (int c = 0; c < p->ng[2]; c++) {
                    int t1 = (a + 1) * p->g[0] < T ? (a + 1) * p->g[0] : T;
                    int h1 = (b + 1) * p->g[1] < H ? (b + 1) * p->g[1] : H;
                    int w1 = (c + 1) * p->g[2] < W ? (c + 1) * p->g[2] : W;
                    const int64_t size = (int64_t)(t1 - a * p->g[0]) * (h1 - b * p->g[1]) * (w1 - c * p->g[2]);
                    if ((size % GRAT_BLOCK != 0) != pass) continue;
                    sg->start[s] = pos;
                    sg->cls[s++] = (int32_t)(((int64_t)a * p->ng[1] + b) * p->ng[2] + c);
                    for (int t = a * p->g[0]; t < t1; t++)
                        for (int h = b * p->g[1]; h < h1; h++)
                            for (int w = c * p->g[2]; w < w1; w++)
                                perm[pos++] = (int32_t)(p->video0 + ((int64_t)t * H + h) * W + w);
                }
    if (g->text_tokens > 0) {
        sg->start[s] = pos;
        sg->cls[s++] = GRAT_TEXT;
        const int64_t text0 = g->text_first ? 0 : p->nv;
        for (int64_t i = 0; i < g->text_tokens; i++) perm[pos++] = (int32_t)(text0 + i);
    }
    sg->start[s] = pos;
    sg->n = s;
}

static int grat_class_allowed(const grat_params *p, int32_t cq, int32_t ck) {
    if (cq == GRAT_TEXT || ck == GRAT_TEXT) return 1;
    int a[3] = {cq / (p->ng[1] * p->ng[2]), cq / p->ng[2] % p->ng[1], cq % p->ng[2]};
    int b[3] = {ck / (p->ng[1] * p->ng[2]), ck / p->ng[2] % p->ng[1], ck % p->ng[2]};
    return grat_groups_allowed(p, a, b);
}

/* Segment containing permuted position x. */
static int64_t grat_seg_at(const grat_segments *sg, int64_t x) {
    int64_t lo = 0, hi = sg->n - 1;
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (sg->start[mid] <= x) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* Growable CSR arrays of the layout under construction. */
typedef struct grat_build {
    int64_t entries, entries_cap, words, words_cap;
} grat_build;

static int grat_grow(void **p, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return DG_OK;
    int64_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *np = realloc(*p, (size_t)c * elem);
    DG_CHECK_ALLOC(np);
    *p = np;
    *cap = c;
    return DG_OK;
}

/* Sets the bits of queries [a, b) (block-relative) in one key's words. */
static void grat_set_rows(uint64_t *w, int64_t a, int64_t b) {
    for (int64_t i = a; i < b;) {
        int64_t word = i >> 6, lo = i & 63, hi = b - (word << 6) < 64 ? b - (word << 6) : 64;
        w[word] |= (hi - lo == 64 ? ~0ull : ((1ull << (hi - lo)) - 1)) << lo;
        i = (word << 6) + hi;
    }
}

/* The layout straight from the segments: a block meets whole (query segment,
 * key segment) pairs, each all-allowed or all-refused, so the pairs classify
 * the block exactly and give its mask as rectangles (in the key-major bit
 * format of dg_block_layout). The generic builder would call the predicate
 * on every pair of every mixed block, and partial groups make most blocks
 * mixed (seconds for Wan 480p). */
static int grat_layout(dg_block_layout *l, const grat_segments *sg, int64_t n, int32_t *perm) {
    const int B = GRAT_BLOCK;
    const int64_t wq = B / 64, block_words = (int64_t)B * wq;
    grat_build st = {0};
    memset(l, 0, sizeof *l);
    l->n = n;
    l->block_q = l->block_k = B;
    l->perm = perm;
    l->n_qblocks = l->n_kblocks = (n + B - 1) / B;
    l->row_start = malloc((size_t)(l->n_qblocks + 1) * sizeof(int64_t));
    if (!l->row_start) goto oom;
    l->row_start[0] = 0;
    for (int64_t qb = 0; qb < l->n_qblocks; qb++) {
        const int64_t q0 = qb * B, q1 = q0 + B < n ? q0 + B : n, sq0 = grat_seg_at(sg, q0);
        for (int64_t kb = 0; kb < l->n_kblocks; kb++) {
            const int64_t k0 = kb * B, k1 = k0 + B < n ? k0 + B : n, sk0 = grat_seg_at(sg, k0);
            int64_t pairs = 0;
            for (int64_t sq = sq0; sq < sg->n && sg->start[sq] < q1; sq++) {
                const int64_t rows = (sg->start[sq + 1] < q1 ? sg->start[sq + 1] : q1) -
                                     (sg->start[sq] > q0 ? sg->start[sq] : q0);
                for (int64_t sk = sk0; sk < sg->n && sg->start[sk] < k1; sk++)
                    if (grat_class_allowed(sg->p, sg->cls[sq], sg->cls[sk]))
                        pairs += rows * ((sg->start[sk + 1] < k1 ? sg->start[sk + 1] : k1) -
                                         (sg->start[sk] > k0 ? sg->start[sk] : k0));
            }
            if (pairs == 0) continue;
            int64_t cap = st.entries_cap;
            if (grat_grow((void **)&l->kblock, &cap, st.entries + 1, sizeof(int32_t)) ||
                grat_grow((void **)&l->mask_offset, &st.entries_cap, st.entries + 1, sizeof(int64_t)))
                goto fail;
            l->kblock[st.entries] = (int32_t)kb;
            l->mask_offset[st.entries] = -1;
            st.entries++;
            l->allowed_pairs += pairs;
            if (pairs == (q1 - q0) * (k1 - k0)) continue;
            if (grat_grow((void **)&l->masks, &st.words_cap, st.words + block_words, sizeof(uint64_t))) goto fail;
            uint64_t *mask = l->masks + st.words;
            memset(mask, 0, (size_t)block_words * sizeof(uint64_t));
            l->mask_offset[st.entries - 1] = st.words;
            st.words += block_words;
            for (int64_t sq = sq0; sq < sg->n && sg->start[sq] < q1; sq++) {
                const int64_t ra = (sg->start[sq] > q0 ? sg->start[sq] : q0) - q0;
                const int64_t rb = (sg->start[sq + 1] < q1 ? sg->start[sq + 1] : q1) - q0;
                for (int64_t sk = sk0; sk < sg->n && sg->start[sk] < k1; sk++) {
                    if (!grat_class_allowed(sg->p, sg->cls[sq], sg->cls[sk])) continue;
                    const int64_t ca = sg->start[sk] > k0 ? sg->start[sk] : k0;
                    const int64_t cb = sg->start[sk + 1] < k1 ? sg->start[sk + 1] : k1;
                    for (int64_t j = ca; j < cb; j++) grat_set_rows(mask + (j - k0) * wq, ra, rb);
                }
            }
        }
        l->row_start[qb + 1] = st.entries;
    }
    return DG_OK;
oom:
    dg_error("%s:%d: out of memory", __FILE__, __LINE__);
fail:
    l->perm = NULL; /* stays the caller's on failure */
    dg_block_layout_free(l);
    return DG_ERR;
}

/* Refuses grids the group does not fit, naming the field. */
static int grat_fit(grat_params *p, const dg_attn_geometry *g) {
    p->dims[0] = g->T;
    p->dims[1] = g->H;
    p->dims[2] = g->W;
    p->image = g->T == 1;
    for (int x = 0; x < 3; x++) {
        p->g[x] = p->group[x];
        if (x == 0 && p->image) p->g[x] = 1; /* images: no time axis */
        const int d = p->dims[x], gx = p->g[x];
        char need[96];
        DG_CHECK(gx <= d, "grat: group[%d]=%d is larger than the grid (%c=%d): needs %s", x, gx, axis_name[x], d,
                 dg_attn_need(g, x, p->criss_cross ? gx + 1 : gx, need, sizeof need));
        DG_CHECK(p->partial_groups || d % gx == 0,
                 "grat: group[%d]=%d does not divide %c=%d (the spec requires divisibility; set "
                 "\"partial_groups\": true for smaller edge groups)",
                 x, gx, axis_name[x], d);
        p->ng[x] = (d + gx - 1) / gx;
        DG_CHECK(!p->criss_cross || p->ng[x] > 1 || (x == 0 && p->image),
                 "grat: group[%d]=%d spans the whole %c=%d, so the criss-cross would allow every key: needs %s, "
                 "or a smaller group",
                 x, gx, axis_name[x], d, dg_attn_need(g, x, gx + 1, need, sizeof need));
    }
    return DG_OK;
}

static int grat_prepare(dg_attn_method *m, const dg_attn_geometry *g) {
    DG_TRY(dg_attn_geometry_check(g, "grat"));
    const int64_t n = dg_attn_geometry_tokens(g);
    grat_params q = *(grat_params *)m->params;
    DG_TRY(grat_fit(&q, g));
    q.nv = (int64_t)g->T * g->H * g->W;
    q.video0 = g->text_first ? g->text_tokens : 0;

    const int64_t max_seg = (int64_t)q.ng[0] * q.ng[1] * q.ng[2] + 1;
    int32_t *perm = malloc((size_t)n * sizeof(int32_t));
    grat_segments sg = {.p = &q,
                        .start = malloc((size_t)(max_seg + 1) * sizeof(int64_t)),
                        .cls = malloc((size_t)max_seg * sizeof(int32_t))};
    int rc = DG_ERR;
    dg_block_layout l;
    if (!perm || !sg.start || !sg.cls) {
        dg_error("%s:%d: out of memory", __FILE__, __LINE__);
    } else {
        grat_permute(&q, g, perm, &sg);
        rc = grat_layout(&l, &sg, n, perm);
        if (rc == DG_OK) perm = NULL; /* owned by the layout */
    }
    free(perm);
    free(sg.start);
    free(sg.cls);
    if (rc != DG_OK) return dg_error_wrap("grat: ");
    dg_block_layout_free(&m->layout);
    m->layout = l;
    *(grat_params *)m->params = q;
    m->geom = *g;
    return DG_OK;
}

static void grat_destroy(dg_attn_method *m) {
    free(m->params);
    m->params = NULL;
}

static const dg_attn_method_ops grat_ops = {
    .name = "grat",
    .prepare = grat_prepare,
    .density = dg_attn_layout_density,
    .allow = grat_allow,
    .destroy = grat_destroy,
};

/* A 3-integer parameter with a lower bound; the error names the element. */
static int grat_get_triple(const char *ctx, const dg_attn_params *params, const char *key, int out[3], int min) {
    int64_t v[3] = {out[0], out[1], out[2]};
    DG_TRY(dg_attn_params_get_int_array(ctx, params, key, v, 3));
    for (int x = 0; x < 3; x++) {
        DG_CHECK(v[x] >= min && v[x] <= 65536, "%s: %s[%d]=%lld out of range [%d, 65536]", ctx, key, x,
                 (long long)v[x], min);
        out[x] = (int)v[x];
    }
    return DG_OK;
}

int dg_attn_grat_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx) {
    static const char *const keys[] = {"variant", "group", "radius", "partial_groups", NULL};
    char where[256];
    snprintf(where, sizeof(where), "%s: grat", ctx ? ctx : "attention");
    grat_params p = {.criss_cross = 1, .group = {4, 8, 8}, .radius = {1, 1, 1}};
    if (params) {
        DG_TRY(dg_attn_params_check_keys(params, where, keys));
        const char *variant = NULL;
        DG_TRY(dg_attn_params_get_string(where, params, "variant", &variant));
        if (variant) {
            DG_CHECK(!strcmp(variant, "criss_cross") || !strcmp(variant, "blocks"),
                     "%s: variant '%s' unknown (criss_cross or blocks)", where, variant);
            p.criss_cross = !strcmp(variant, "criss_cross");
        }
        DG_TRY(grat_get_triple(where, params, "group", p.group, 1));
        DG_CHECK(!p.criss_cross || !dg_attn_params_find(params, "radius"),
                 "%s: radius applies only to variant 'blocks'", where);
        DG_TRY(grat_get_triple(where, params, "radius", p.radius, 0));
        DG_TRY(dg_attn_params_get_bool(where, params, "partial_groups", &p.partial_groups));
    }
    grat_params *heap = malloc(sizeof(*heap));
    DG_CHECK_ALLOC(heap);
    *heap = p;
    m->ops = &grat_ops;
    m->params = heap;
    return DG_OK;
}
