/* Block-sparse flash attention on the CPU: the dense kernel's schedule and
 * micro-kernels (flash_kernels.h), walking only the key blocks a layout lists.
 *
 * K and V are gathered once per call into head-major, permuted, packed copies
 * (K[h][n][D], V[h][n][Dp]), so a key block is a contiguous slice the
 * micro-kernel reads in place: no per-block packing (which the dense kernel
 * amortises over 4 query blocks, but a sparse row visits few blocks) and the
 * permutation costs one gather. Work item: one head x one query block; items
 * differ in cost (rows list different numbers of blocks), hence dynamic
 * scheduling. Partial blocks get their scores masked to -inf before the
 * softmax; a query with no allowed key ends with l = 0 and is written as 0. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attention/flash_kernels.h"
#include "attention/method.h"
#include "core/error.h"

typedef struct {
    float *qt;            /* [WQ][D][BQ]  Q^T per 64-query sub-block, pre-scaled */
    float *ot;            /* [WQ][Dp][BQ] running output, transposed */
    float *m, *l, *alpha; /* [WQ][BQ] */
    float *st;            /* [BK][BQ] S^T, then P^T */
} scratch;

static int64_t scratch_floats(int64_t wq, int64_t D, int64_t Dp) {
    return wq * (D * BQ + Dp * BQ + 3 * BQ) + BK * BQ;
}

static scratch scratch_at(float *w, int64_t wq, int64_t D, int64_t Dp) {
    scratch sc;
    sc.qt = w, w += wq * D * BQ;
    sc.ot = w, w += wq * Dp * BQ;
    sc.m = w, w += wq * BQ;
    sc.l = w, w += wq * BQ;
    sc.alpha = w, w += wq * BQ;
    sc.st = w;
    return sc;
}

static void attend_qblock(float *o, const float *q, const float *kh, const float *vh, const dg_attn_shape *s,
                          const dg_block_layout *l, int h, int64_t qb, float qscale, scratch *sc) {
    const int64_t D = s->head_dim, Dp = round_up(D, MR), off = (int64_t)h * D, n = l->n;
    const int64_t wq = l->block_q / BQ, q0 = qb * l->block_q;
    const int64_t rows = n - q0 < l->block_q ? n - q0 : l->block_q, nsub = (rows + BQ - 1) / BQ;
    const int32_t *perm = l->perm;
    const int64_t e0 = l->row_start[qb], e1 = l->row_start[qb + 1];
    if (e0 == e1) { /* no allowed key for any row */
        for (int64_t i = 0; i < rows; i++) memset(o + (perm ? perm[q0 + i] : q0 + i) * s->q_stride + off, 0,
                                                   (size_t)D * sizeof(float));
        return;
    }
    memset(sc->qt, 0, (size_t)(nsub * D * BQ) * sizeof(float));
    for (int64_t i = 0; i < rows; i++) {
        const float *qi = q + (perm ? perm[q0 + i] : q0 + i) * s->q_stride + off;
        float *qt = sc->qt + (i / BQ) * D * BQ + i % BQ;
        for (int64_t c = 0; c < D; c++) qt[c * BQ] = qi[c] * qscale;
    }
    for (int64_t i = 0; i < nsub * BQ; i++) sc->m[i] = -INFINITY, sc->l[i] = 0.0f;

    for (int64_t e = e0; e < e1; e++) {
        const int64_t k0 = (int64_t)l->kblock[e] * l->block_k;
        const int64_t nv = n - k0 < l->block_k ? n - k0 : l->block_k, nvp = round_up(nv, MR);
        const float *kp = kh + k0 * D, *vp = vh + k0 * Dp;
        const uint64_t *mask = l->mask_offset[e] >= 0 ? l->masks + l->mask_offset[e] : NULL;
        for (int64_t b = 0; b < nsub; b++) {
            const float *qt = sc->qt + b * D * BQ;
            float *ot = sc->ot + b * Dp * BQ, *m = sc->m + b * BQ, *lsum = sc->l + b * BQ, *alpha = sc->alpha + b * BQ;
            for (int64_t j0 = 0; j0 < nvp; j0 += MR) micro_kernel(D, kp + j0 * D, D, 1, qt, sc->st + j0 * BQ, NULL);
            if (mask) apply_mask(sc->st, nv, mask + b, wq);
            softmax_block(sc->st, nv, m, lsum, alpha);
            for (int64_t d0 = 0; d0 < Dp; d0 += MR)
                micro_kernel(nv, vp + d0, 1, Dp, sc->st, ot + d0 * BQ, e > e0 ? alpha : NULL);
        }
    }

    for (int64_t i = 0; i < rows; i++) {
        const float *ot = sc->ot + (i / BQ) * Dp * BQ + i % BQ;
        float inv = sc->l[i] > 0.0f ? 1.0f / sc->l[i] : 0.0f; /* l = 0: every key of this row was masked */
        float *oi = o + (perm ? perm[q0 + i] : q0 + i) * s->q_stride + off;
        for (int64_t c = 0; c < D; c++) oi[c] = ot[c * BQ] * inv;
    }
}

int dg_attention_sparse_cpu(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                            const dg_block_layout *l) {
    DG_TRY(dg_attn_shape_check(s));
    DG_CHECK(o && q && k && v && l, "sparse attention: null input, output or layout");
    DG_CHECK(l->row_start && l->block_q % BQ == 0 && l->block_q <= 4 * BQ && l->block_k >= 1 && l->block_k <= BK,
             "sparse attention: layout not built");
    DG_CHECK(s->nq == l->n && s->nk == l->n, "sparse attention: layout is for %lld tokens, got nq=%lld nk=%lld",
             (long long)l->n, (long long)s->nq, (long long)s->nk);
    const int64_t n = l->n, D = s->head_dim, Dp = round_up(D, MR), wq = l->block_q / BQ;
    const int64_t rows_alloc = n + MR; /* the last block's rows up to a multiple of MR read zeros */
    const int nt = omp_get_max_threads();
    const int64_t per = scratch_floats(wq, D, Dp);
    float *kh = aligned_alloc(64, (size_t)round_up(s->heads * rows_alloc * D, 16) * sizeof(float));
    float *vh = aligned_alloc(64, (size_t)round_up(s->heads * rows_alloc * Dp, 16) * sizeof(float));
    float *ws = aligned_alloc(64, (size_t)(nt * per) * sizeof(float));
    if (!kh || !vh || !ws) {
        free(kh), free(vh), free(ws);
        return dg_error("%s:%d: out of memory", __FILE__, __LINE__);
    }
    const float qscale = (float)((double)s->scale * LOG2E);
    const int64_t items = (int64_t)s->heads * l->n_qblocks;
    const int32_t *perm = l->perm;

    #pragma omp parallel num_threads(nt)
    {
        /* Gather K and V: head-major, permuted, V padded to Dp columns. */
        #pragma omp for schedule(static)
        for (int64_t hr = 0; hr < s->heads * rows_alloc; hr++) {
            const int64_t h = hr / rows_alloc, r = hr % rows_alloc;
            float *kd = kh + hr * D, *vd = vh + hr * Dp;
            if (r < n) {
                const int64_t src = (perm ? perm[r] : r) * s->kv_stride + h * D;
                memcpy(kd, k + src, (size_t)D * sizeof(float));
                memcpy(vd, v + src, (size_t)D * sizeof(float));
                memset(vd + D, 0, (size_t)(Dp - D) * sizeof(float));
            } else {
                memset(kd, 0, (size_t)D * sizeof(float));
                memset(vd, 0, (size_t)Dp * sizeof(float));
            }
        }
        scratch sc = scratch_at(ws + omp_get_thread_num() * per, wq, D, Dp);
        #pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < items; t++) {
            const int h = (int)(t / l->n_qblocks);
            attend_qblock(o, q, kh + h * rows_alloc * D, vh + h * rows_alloc * Dp, s, l, h, t % l->n_qblocks, qscale,
                          &sc);
        }
    }
    free(kh), free(vh), free(ws);
    return DG_OK;
}
