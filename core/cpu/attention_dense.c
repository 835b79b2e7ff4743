/* Dense flash attention on the CPU (FlashAttention-2 schedule).
 *
 * Work item: one head x SUB blocks of BQ queries; OpenMP spreads the items.
 * Keys are read where they are (rows heads*head_dim apart). Each value block is
 * copied once per work item into rows an odd number of cache lines apart (see
 * value_stride): read in place, its rows share a few L1 sets.
 * Scores are kept transposed (keys x queries) so the online softmax runs down
 * columns with vertical vector ops only (no horizontal reductions), and both
 * products become the same GEMM shape, C[rows x BQ] += A[rows x kc] B[kc x BQ]:
 *   S^T[BK x BQ] = K_blk[BK x D] * Q^T[D x BQ]
 *   O^T[Dp x BQ] = O^T * alpha + V_blk^T[Dp x BK] * P^T[BK x BQ]
 * so one register-blocked micro-kernel serves both. Q is pre-multiplied by
 * scale*log2(e), which turns the softmax exponentials into exp2. An optional
 * additive bias (T5's relative positions) is added to S^T before the softmax.
 * Code paths: AVX-512, AVX2+FMA, and portable C (correct anywhere, slow). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu/flash_kernels.h"
#include "core/cpu/ops_cpu.h"
#include "core/error.h"

/* Per-thread scratch: the flash kernels' (flash_kernels.h), then the key and value copies. */
typedef struct {
    flash_scratch f;
    float *kp; /* [BK_ROWS][D] a last partial block's key rows, zero rows up to a multiple of MR */
    float *vp; /* [BK][value_stride(D)] the value block, zero columns up to Dp */
} scratch;

_Static_assert(BQ == 64, "dg_attn_bias's padding rule (ops_cpu.h) assumes 64-query blocks");

static int64_t scratch_floats(int64_t D, int64_t Dp) {
    return flash_scratch_floats(D, Dp) + round_up(BK_ROWS * D, 16) + BK * value_stride(D);
}

static scratch scratch_at(float *w, int64_t D, int64_t Dp) {
    scratch sc = {.f = flash_scratch_at(w, D, Dp)};
    sc.kp = w + flash_scratch_floats(D, Dp);
    sc.vp = sc.kp + round_up(BK_ROWS * D, 16);
    return sc;
}

/* Ask for key/value rows [j0, j0 + MR) of the next block while this one
 * computes: rows are heads*head_dim apart, too far for the hardware
 * prefetcher, so unprefetched reads wait on L3 for every row. */
static inline void prefetch_rows(const dg_attn_shape *s, const float *k, const float *v, int64_t off, int64_t j0) {
    for (int64_t j = j0; j < j0 + MR && j < s->nk; j++) {
        const float *kj = k + j * s->kv_stride + off, *vj = v + j * s->kv_stride + off;
        for (int64_t c = 0; c < s->head_dim; c += 16) __builtin_prefetch(kj + c, 0, 2), __builtin_prefetch(vj + c, 0, 2);
        __builtin_prefetch(kj + s->head_dim - 1, 0, 2); /* rows need not start on a cache line */
        __builtin_prefetch(vj + s->head_dim - 1, 0, 2);
    }
}

/* Add the score bias of keys [k0, k0 + nv) and queries [i0, i0 + BQ) to a block of S^T: along a key row
 * the offset table reads forwards (see dg_attn_bias). */
static void add_bias(float *st, int64_t nv, const dg_attn_bias *bias, int h, int64_t k0, int64_t i0, int64_t nk) {
    const float *rel = bias->rel + h * bias->rel_stride + (nk - 1 - k0) + i0;
    for (int64_t j = 0; j < nv; j++) {
        const float kb = bias->key ? bias->key[k0 + j] : 0.0f, *r = rel - j;
        float *sj = st + j * BQ;
        for (int i = 0; i < BQ; i++) sj[i] += r[i] + kb;
    }
}

/* One head, queries [q0, q0 + rows), rows <= SUB * BQ; result into o (and the rows' log-sum-exp into lse). */
static void attend_block(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s, int h,
                         int64_t q0, int64_t rows, float qscale, const dg_attn_bias *bias, scratch *sc, float *lse,
                         int64_t lse_stride) {
    const int64_t D = s->head_dim, Dp = round_up(D, MR), off = (int64_t)h * D;
    const int64_t nsub = (rows + BQ - 1) / BQ;
    memset(sc->f.qt, 0, (size_t)(nsub * D * BQ) * sizeof(float)); /* padded query columns score 0, never written out */
    for (int64_t i = 0; i < rows; i++) {
        const float *qi = q + (q0 + i) * s->q_stride + off;
        float *qt = sc->f.qt + (i / BQ) * D * BQ + i % BQ;
        for (int64_t c = 0; c < D; c++) qt[c * BQ] = qi[c] * qscale;
    }
    for (int64_t i = 0; i < nsub * BQ; i++) sc->f.m[i] = -INFINITY, sc->f.l[i] = 0.0f;

    const int64_t ld = s->kv_stride, vld = value_stride(D);
    for (int64_t j = 0; j < BK; j++) memset(sc->vp + j * vld + D, 0, (size_t)(Dp - D) * sizeof(float));
    for (int64_t k0 = 0; k0 < s->nk; k0 += BK) {
        const int64_t nv = s->nk - k0 < BK ? s->nk - k0 : BK, nvp = round_up(nv, MR);
        /* Key rows are read in place (ld apart); the rows up to the last multiple of MR are the next
         * block's keys, computed and ignored. Only the last block, whose padding rows would pass the
         * last key, is copied with zero rows. */
        const float *kb = k + k0 * ld + off;
        int64_t kld = ld;
        if (k0 + nvp > s->nk) {
            for (int64_t j = 0; j < nv; j++) memcpy(sc->kp + j * D, kb + j * ld, (size_t)D * sizeof(float));
            memset(sc->kp + nv * D, 0, (size_t)((nvp - nv) * D) * sizeof(float));
            kb = sc->kp, kld = D;
        }
        for (int64_t j = 0; j < nv; j++) memcpy(sc->vp + j * vld, v + (k0 + j) * ld + off, (size_t)D * sizeof(float));
        for (int64_t b = 0; b < nsub; b++) {
            const float *qt = sc->f.qt + b * D * BQ;
            float *ot = sc->f.ot + b * Dp * BQ, *m = sc->f.m + b * BQ, *l = sc->f.l + b * BQ;
            float *alpha = sc->f.alpha + b * BQ;
            for (int64_t j0 = 0; j0 < nvp; j0 += MR) {
                if (b == 0) prefetch_rows(s, k, v, off, k0 + BK + j0);
                micro_kernel(D, kb + j0 * kld, kld, 1, qt, sc->f.st + j0 * BQ, NULL);
            }
            if (bias) add_bias(sc->f.st, nv, bias, h, k0, q0 + b * BQ, s->nk);
            softmax_block(sc->f.st, nv, m, l, alpha);
            for (int64_t d0 = 0; d0 < Dp; d0 += MR)
                micro_kernel(nv, sc->vp + d0, 1, vld, sc->f.st, ot + d0 * BQ, k0 ? alpha : NULL);
        }
    }

    for (int64_t i = 0; i < rows; i++) {
        const float *ot = sc->f.ot + (i / BQ) * Dp * BQ + i % BQ;
        float inv = 1.0f / sc->f.l[i]; /* l >= 1: the row maximum contributes exp2(0) */
        float *oi = o + (q0 + i) * s->q_stride + off;
        for (int64_t c = 0; c < D; c++) oi[c] = ot[c * BQ] * inv;
        if (lse) lse[(q0 + i) * lse_stride + h] = (sc->f.m[i] + log2f(sc->f.l[i])) * (float)LN2;
    }
}

int dg_attention_dense_cpu(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                           const dg_attn_bias *bias, float *lse, int64_t lse_stride) {
    DG_TRY(dg_attn_shape_check(s));
    DG_CHECK(o && q && k && v, "attention: null input or output");
    const int64_t D = s->head_dim, Dp = round_up(D, MR), per = scratch_floats(D, Dp);
    const int nt = omp_get_max_threads();
    float *ws = aligned_alloc(64, (size_t)(nt * per) * sizeof(float));
    DG_CHECK_ALLOC(ws);
    const float qscale = (float)((double)s->scale * LOG2E);
    /* Fewer query blocks per item when there would be too few items to keep every thread busy. */
    int64_t qi = SUB * BQ;
    while (qi > BQ && s->heads * ((s->nq + qi - 1) / qi) < 4 * nt) qi /= 2;
    const int64_t nqb = (s->nq + qi - 1) / qi, items = (int64_t)s->heads * nqb;

    #pragma omp parallel num_threads(nt)
    {
        scratch sc = scratch_at(ws + omp_get_thread_num() * per, D, Dp);
        /* Items dealt round robin: the threads walk neighbouring query blocks of one head at a time,
         * so a key/value row one of them brings into L3 is there for the others (2-3 % on 2 threads). */
        #pragma omp for schedule(static, 1)
        for (int64_t t = 0; t < items; t++) {
            int64_t q0 = (t % nqb) * qi, rows = s->nq - q0 < qi ? s->nq - q0 : qi;
            attend_block(o, q, k, v, s, (int)(t / nqb), q0, rows, qscale, bias, &sc, lse, lse_stride);
        }
    }
    free(ws);
    return DG_OK;
}
