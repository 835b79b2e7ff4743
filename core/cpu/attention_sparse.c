/* Block-sparse flash attention on the CPU: the dense kernel's schedule and
 * micro-kernels (flash_kernels.h), walking only the key blocks a layout lists.
 *
 * K and V are gathered once per call into head-major, permuted, packed copies
 * (K[h][n + MR][D], V[h][n + MR][value_stride(D)], zero rows past n), so a key block is a contiguous slice the
 * micro-kernel reads in place, and the permutation costs one gather. Work
 * item: one head x up to 256 queries (several query blocks walking the union
 * of their lists, so a key block is reused while hot, as the dense kernel
 * reuses a packed block); items differ in cost (rows list different numbers
 * of blocks), hence dynamic scheduling. Partial blocks get their scores
 * masked to -inf before the softmax, and a 64-query sub-block computes only
 * the key range its mask allows (none: skipped); a query with no allowed key
 * is written as 0.
 *
 * bf16 (models that run in bf16, AVX512-BF16): K is gathered as bf16 rows and V as transposed
 * bf16 blocks, one per key block, for the pair products of flash_kernels_bf16.h; a sub-block's key
 * range then starts at an even key (the key before a live range is masked for it anyway). With
 * block_k = 128 and every block listed it equals the dense bf16 kernel bit for bit. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu/flash_kernels_bf16.h"
#include "core/cpu/ops_cpu.h"
#include "core/error.h"

#define UNIT (SUB * BQ) /* queries per work item at most, as in the dense kernel */

/* Keys [*j0, *j1) of a partial block hold every key sub-block b of its mask
 * allows; keys outside contribute exactly 0, so only that range is computed
 * (in tile-major order a block straddling two tiles is often seen by a
 * sub-block through one side only). Empty range: the sub-block is skipped. */
static void live_keys(const uint64_t *mask, int64_t nv, int64_t b, int64_t wq, int64_t *j0, int64_t *j1) {
    int64_t lo = 0, hi = nv;
    while (lo < nv && !mask[lo * wq + b]) lo++;
    while (hi > lo && !mask[(hi - 1) * wq + b]) hi--;
    *j0 = lo, *j1 = hi;
}

/* One head's gathered keys and values: f32 rows (k [rows][D], v [rows][value_stride(D)]), or bf16
 * (k2: rows of D2/2 pair words; vt2: per key block, Dp rows of bkw/2 pair words, bkw = block_k
 * rounded up to even). */
typedef struct {
    const float *k, *v;
    const uint32_t *k2, *vt2;
    int64_t bkw;
} head_kv;

/* One head, query blocks [qb0, qb0 + g): the union of their key-block lists is
 * walked once in increasing order, so each key/value block is reused by every
 * sub-block of the unit that lists it while it is hot in cache (the dense
 * kernel's reuse of a packed block by 4 sub-blocks). Each query block still
 * visits exactly its own blocks in its own order, so the numerics are those of
 * one query block at a time. */
static void attend_unit(float *o, const float *q, const head_kv *hk, const dg_attn_shape *s,
                        const dg_block_layout *l, int h, int64_t qb0, int64_t g, float qscale, flash_scratch *sc,
                        float *lse, int64_t lse_stride) {
    const int64_t D = s->head_dim, Dp = round_up(D, MR), vld = value_stride(D), off = (int64_t)h * D, n = l->n;
    const int64_t D2 = round_up(D, 2), qwords = hk->k2 ? D2 / 2 : D; /* Q^T rows per sub-block */
    const int64_t wq = l->block_q / BQ, q0 = qb0 * l->block_q;
    const int64_t rows = n - q0 < g * l->block_q ? n - q0 : g * l->block_q, nsub = (rows + BQ - 1) / BQ;
    const int32_t *perm = l->perm;
    int64_t cur[SUB], end[SUB];
    int started[SUB] = {0}; /* sub-block has seen a key block: ot holds data, rescale it */
    for (int64_t u = 0; u < g; u++) cur[u] = l->row_start[qb0 + u], end[u] = l->row_start[qb0 + u + 1];
    memset(sc->qt, 0, (size_t)(nsub * qwords * BQ) * sizeof(float));
    for (int64_t i = 0; i < rows; i++) {
        const float *qi = q + (perm ? perm[q0 + i] : q0 + i) * s->q_stride + off;
        float *qt = sc->qt + (i / BQ) * qwords * BQ + i % BQ;
#ifdef DG_HAVE_BF16_ATTENTION
        if (hk->k2) {
            q_pairs((uint32_t *)qt, qi, D, qscale);
            continue;
        }
#endif
        for (int64_t c = 0; c < D; c++) qt[c * BQ] = qi[c] * qscale;
    }
    for (int64_t i = 0; i < nsub * BQ; i++) sc->m[i] = -INFINITY, sc->l[i] = 0.0f;

    for (;;) {
        int64_t kb = INT64_MAX;
        for (int64_t u = 0; u < g; u++)
            if (cur[u] < end[u] && l->kblock[cur[u]] < kb) kb = l->kblock[cur[u]];
        if (kb == INT64_MAX) break;
        const int64_t k0 = kb * l->block_k;
        const int64_t nv = n - k0 < l->block_k ? n - k0 : l->block_k;
        const float *kp = hk->k ? hk->k + k0 * D : NULL, *vp = hk->v ? hk->v + k0 * vld : NULL;
        for (int64_t u = 0; u < g; u++) {
            if (cur[u] == end[u] || l->kblock[cur[u]] != kb) continue;
            const int64_t e = cur[u]++;
            const uint64_t *mask = l->mask_offset[e] >= 0 ? l->masks + l->mask_offset[e] : NULL;
            for (int64_t b = 0; b < wq && u * wq + b < nsub; b++) {
                const int64_t sb = u * wq + b;
                int64_t ja = 0, jb = nv; /* rows past jb up to a multiple of MR are computed and ignored */
                if (mask) live_keys(mask, nv, b, wq, &ja, &jb);
                if (ja == jb) continue;
                if (hk->k2) ja &= ~(int64_t)1; /* pairs start at even keys */
                const int64_t nk = jb - ja, nkp = round_up(nk, MR);
                const float *qt = sc->qt + sb * qwords * BQ;
                float *ot = sc->ot + sb * Dp * BQ, *m = sc->m + sb * BQ, *lsum = sc->l + sb * BQ;
                float *alpha = sc->alpha + sb * BQ, *prev = started[sb] ? alpha : NULL;
#ifdef DG_HAVE_BF16_ATTENTION
                if (hk->k2) {
                    const uint32_t *kr = hk->k2 + (k0 + ja) * (D2 / 2);
                    const uint32_t *vt = hk->vt2 + kb * Dp * (hk->bkw / 2) + ja / 2;
                    for (int64_t j0 = 0; j0 < nkp; j0 += MR)
                        micro_kernel_bf16(D2 / 2, kr + j0 * (D2 / 2), D2 / 2, (const uint32_t *)qt, sc->st + j0 * BQ,
                                          NULL);
                    if (mask) apply_mask(sc->st, nk, mask + ja * wq + b, wq);
                    softmax_block(sc->st, nk, m, lsum, alpha);
                    pair_rows(sc->st, nk);
                    for (int64_t d0 = 0; d0 < Dp; d0 += MR)
                        micro_kernel_bf16((nk + 1) / 2, vt + d0 * (hk->bkw / 2), hk->bkw / 2,
                                          (const uint32_t *)sc->st, ot + d0 * BQ, prev);
                    started[sb] = 1;
                    continue;
                }
#endif
                for (int64_t j0 = 0; j0 < nkp; j0 += MR)
                    micro_kernel(D, kp + (ja + j0) * D, D, 1, qt, sc->st + j0 * BQ, NULL);
                if (mask) apply_mask(sc->st, nk, mask + ja * wq + b, wq);
                softmax_block(sc->st, nk, m, lsum, alpha);
                for (int64_t d0 = 0; d0 < Dp; d0 += MR)
                    micro_kernel(nk, vp + ja * vld + d0, 1, vld, sc->st, ot + d0 * BQ, prev);
                started[sb] = 1;
            }
        }
    }

    for (int64_t i = 0; i < rows; i++) {
        const float *ot = sc->ot + (i / BQ) * Dp * BQ + i % BQ;
        const int64_t tok = perm ? perm[q0 + i] : q0 + i;
        float *oi = o + tok * s->q_stride + off;
        /* l = 0 (or a sub-block that saw no key): every key of this row was masked */
        const int seen = started[i / BQ] && sc->l[i] > 0.0f;
        if (lse) lse[tok * lse_stride + h] = seen ? (sc->m[i] + log2f(sc->l[i])) * (float)LN2 : -INFINITY;
        if (!seen) {
            memset(oi, 0, (size_t)D * sizeof(float));
            continue;
        }
        const float inv = 1.0f / sc->l[i];
        for (int64_t c = 0; c < D; c++) oi[c] = ot[c * BQ] * inv;
    }
}

/* Gather K and V of every head: f32 rows, V rows zero-padded to Dp columns, vld apart (the rows
 * past n read zeros). */
static void gather_f32(float *kh, float *vh, const float *k, const float *v, const dg_attn_shape *s,
                       const int32_t *perm, int64_t n, int64_t rows_alloc) {
    const int64_t D = s->head_dim, Dp = round_up(D, MR), vld = value_stride(D);
    #pragma omp for schedule(static)
    for (int64_t hr = 0; hr < s->heads * rows_alloc; hr++) {
        const int64_t h = hr / rows_alloc, r = hr % rows_alloc;
        float *kd = kh + hr * D, *vd = vh + hr * vld;
        if (r < n) {
            const int64_t src = (perm ? perm[r] : r) * s->kv_stride + h * D;
            memcpy(kd, k + src, (size_t)D * sizeof(float));
            memcpy(vd, v + src, (size_t)D * sizeof(float));
            memset(vd + D, 0, (size_t)(Dp - D) * sizeof(float));
        } else {
            memset(kd, 0, (size_t)D * sizeof(float));
            memset(vd, 0, (size_t)Dp * sizeof(float)); /* columns [Dp, vld) are never read */
        }
    }
}

static int sparse_attention(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                            const dg_block_layout *l, float *lse, int64_t lse_stride, int bf16) {
    DG_TRY(dg_attn_shape_check(s));
    DG_CHECK(o && q && k && v && l, "sparse attention: null input, output or layout");
    DG_CHECK(l->row_start && l->block_q % BQ == 0 && l->block_q <= 4 * BQ && l->block_k >= 1 && l->block_k <= BK,
             "sparse attention: layout not built");
    DG_CHECK(s->nq == l->n && s->nk == l->n, "sparse attention: layout is for %lld tokens, got nq=%lld nk=%lld",
             (long long)l->n, (long long)s->nq, (long long)s->nk);
    const int64_t n = l->n, D = s->head_dim, Dp = round_up(D, MR), vld = value_stride(D), D2 = round_up(D, 2);
    const int64_t rows_alloc = n + MR; /* the last block's rows up to a multiple of MR read zeros */
    const int64_t bkw = round_up(l->block_k, 2);
    const int nt = omp_get_max_threads();
    const int64_t per = flash_scratch_floats(D, Dp); /* Q^T rows for f32, room for bf16 pairs */
    /* bytes of the gathered K and V of all heads */
    const size_t k_bytes = bf16 ? (size_t)(s->heads * rows_alloc * D2) * sizeof(uint16_t)
                                : (size_t)(s->heads * rows_alloc * D) * sizeof(float);
    const size_t v_bytes = bf16 ? (size_t)(s->heads * l->n_kblocks * Dp * bkw) * sizeof(uint16_t)
                                : (size_t)(s->heads * rows_alloc * vld) * sizeof(float);
    void *kh = aligned_alloc(64, (k_bytes + 63) / 64 * 64), *vh = aligned_alloc(64, (v_bytes + 63) / 64 * 64);
    float *ws = aligned_alloc(64, (size_t)(nt * per) * sizeof(float));
    if (!kh || !vh || !ws) {
        free(kh), free(vh), free(ws);
        return dg_error("%s:%d: out of memory", __FILE__, __LINE__);
    }
    const float qscale = (float)((double)s->scale * LOG2E);
    /* Query blocks per item: up to UNIT queries, fewer when there would be too
     * few items to keep every thread busy (as in the dense kernel). */
    int64_t g = UNIT / l->block_q;
    while (g > 1 && s->heads * ((l->n_qblocks + g - 1) / g) < 4 * nt) g /= 2;
    const int64_t nunits = (l->n_qblocks + g - 1) / g, items = (int64_t)s->heads * nunits;

    #pragma omp parallel num_threads(nt)
    {
#ifdef DG_HAVE_BF16_ATTENTION
        if (bf16) gather_kv_bf16(kh, vh, k, v, s, l->perm, n, rows_alloc, l->block_k, l->n_kblocks);
        else
#endif
            gather_f32(kh, vh, k, v, s, l->perm, n, rows_alloc);
        flash_scratch sc = flash_scratch_at(ws + omp_get_thread_num() * per, D, Dp);
        #pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < items; t++) {
            const int h = (int)(t / nunits);
            const int64_t qb0 = t % nunits * g, gu = l->n_qblocks - qb0 < g ? l->n_qblocks - qb0 : g;
            const head_kv hk = bf16 ? (head_kv){.k2 = (const uint32_t *)kh + h * rows_alloc * (D2 / 2),
                                                .vt2 = (const uint32_t *)vh + h * l->n_kblocks * Dp * (bkw / 2),
                                                .bkw = bkw}
                                    : (head_kv){.k = (const float *)kh + h * rows_alloc * D,
                                                .v = (const float *)vh + h * rows_alloc * vld};
            attend_unit(o, q, &hk, s, l, h, qb0, gu, qscale, &sc, lse, lse_stride);
        }
    }
    free(kh), free(vh), free(ws);
    return DG_OK;
}

int dg_attention_sparse_cpu(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                            const dg_block_layout *l, float *lse, int64_t lse_stride) {
    return sparse_attention(o, q, k, v, s, l, lse, lse_stride, 0);
}

int dg_attention_sparse_bf16_cpu(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                                 const dg_block_layout *l, float *lse, int64_t lse_stride) {
    DG_CHECK(dg_attention_bf16_cpu_supported(),
             "sparse attention (bf16): this build has no AVX512-BF16 kernel (build with DG_NATIVE on such a CPU)");
    return sparse_attention(o, q, k, v, s, l, lse, lse_stride, 1);
}
