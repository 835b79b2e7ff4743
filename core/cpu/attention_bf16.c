/* Dense flash attention in bf16 with f32 accumulation (AVX512-BF16), for models that run in bf16:
 * Q, K, V and the softmax probabilities are rounded to bf16, both products go through vdpbf16ps
 * (pairs of bf16 products summed into f32 lanes), the online softmax stays f32 (flash_kernels.h).
 *
 * The dense f32 kernel's schedule and layout (transposed scores, keys x queries; work item = one
 * head x SUB blocks of BQ queries), with operands in the pair layout of flash_kernels_bf16.h:
 *   S^T = K_blk Q^T: K rows are bf16 rows (pairs along the head dim), Q^T words built per item;
 *   O^T = V_blk^T P^T: V is packed transposed per key block (pairs along keys), P^T's rows paired
 *   in place after the softmax.
 * K and V are rounded and packed once per call, head-major (the sparse engine's scheme). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu/flash_kernels_bf16.h"
#include "core/cpu/ops_cpu.h"
#include "core/error.h"

#ifdef DG_HAVE_BF16_ATTENTION

int dg_attention_bf16_cpu_supported(void) { return 1; }

/* One head's gathered operands (gather_kv_bf16 with block_k = BK): K rows [nk + MR][D2] bf16, V^T
 * blocks [nblk][Dp][BK] bf16. */
typedef struct {
    const uint16_t *k, *vt;
} head_pack;

static void attend_block(float *o, const float *q, head_pack hp, const dg_attn_shape *s, int h, int64_t q0,
                         int64_t rows, float qscale, flash_scratch *sc, float *lse, int64_t lse_stride) {
    const int64_t D = s->head_dim, D2 = round_up(D, 2), Dp = round_up(D, MR), off = (int64_t)h * D;
    const int64_t nsub = (rows + BQ - 1) / BQ;
    uint32_t *qt_all = (uint32_t *)sc->qt; /* Q^T pair words */
    memset(qt_all, 0, (size_t)(nsub * D2 / 2 * BQ) * sizeof(uint32_t));
    for (int64_t i = 0; i < rows; i++) {
        const float *qi = q + (q0 + i) * s->q_stride + off;
        q_pairs(qt_all + (i / BQ) * D2 / 2 * BQ + i % BQ, qi, D, qscale);
    }
    for (int64_t i = 0; i < nsub * BQ; i++) sc->m[i] = -INFINITY, sc->l[i] = 0.0f;

    for (int64_t k0 = 0; k0 < s->nk; k0 += BK) {
        const int64_t nv = s->nk - k0 < BK ? s->nk - k0 : BK, nvp = round_up(nv, MR);
        const uint32_t *kb = (const uint32_t *)(hp.k + k0 * D2), *vb = (const uint32_t *)(hp.vt + k0 * Dp);
        for (int64_t b = 0; b < nsub; b++) {
            const uint32_t *qt = qt_all + b * D2 / 2 * BQ;
            float *ot = sc->ot + b * Dp * BQ, *m = sc->m + b * BQ, *l = sc->l + b * BQ, *alpha = sc->alpha + b * BQ;
            for (int64_t j0 = 0; j0 < nvp; j0 += MR)
                micro_kernel_bf16(D2 / 2, kb + j0 * D2 / 2, D2 / 2, qt, sc->st + j0 * BQ, NULL);
            softmax_block(sc->st, nv, m, l, alpha);
            pair_rows(sc->st, nv);
            for (int64_t d0 = 0; d0 < Dp; d0 += MR)
                micro_kernel_bf16((nv + 1) / 2, vb + d0 * BK / 2, BK / 2, (const uint32_t *)sc->st, ot + d0 * BQ,
                                  k0 ? alpha : NULL);
        }
    }

    for (int64_t i = 0; i < rows; i++) {
        const float *ot = sc->ot + (i / BQ) * Dp * BQ + i % BQ;
        float inv = 1.0f / sc->l[i];
        float *oi = o + (q0 + i) * s->q_stride + off;
        for (int64_t c = 0; c < D; c++) oi[c] = ot[c * BQ] * inv;
        if (lse) lse[(q0 + i) * lse_stride + h] = (sc->m[i] + log2f(sc->l[i])) * (float)LN2;
    }
}

int dg_attention_dense_bf16_cpu(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                                float *lse, int64_t lse_stride) {
    DG_TRY(dg_attn_shape_check(s));
    DG_CHECK(o && q && k && v, "attention (bf16): null input or output");
    const int64_t D = s->head_dim, D2 = round_up(D, 2), Dp = round_up(D, MR), per = flash_scratch_floats(D2 / 2, Dp);
    /* the last block's rows up to a multiple of MR read zeros */
    const int64_t nblk = (s->nk + BK - 1) / BK, rows_alloc = s->nk + MR;
    const int64_t k_len = rows_alloc * D2, vt_len = nblk * Dp * BK;
    const int nt = omp_get_max_threads();
    uint16_t *kh = aligned_alloc(64, (size_t)round_up(s->heads * k_len, 32) * sizeof(uint16_t));
    uint16_t *vt = aligned_alloc(64, (size_t)round_up(s->heads * vt_len, 32) * sizeof(uint16_t));
    float *ws = aligned_alloc(64, (size_t)(nt * per) * sizeof(float));
    if (!kh || !vt || !ws) {
        free(kh), free(vt), free(ws);
        return dg_error("%s:%d: out of memory", __FILE__, __LINE__);
    }
    const float qscale = (float)((double)s->scale * LOG2E);
    int64_t qi = SUB * BQ;
    while (qi > BQ && s->heads * ((s->nq + qi - 1) / qi) < 4 * nt) qi /= 2;
    const int64_t nqb = (s->nq + qi - 1) / qi, items = (int64_t)s->heads * nqb;

    #pragma omp parallel num_threads(nt)
    {
        gather_kv_bf16(kh, vt, k, v, s, NULL, s->nk, rows_alloc, BK, nblk);
        flash_scratch sc = flash_scratch_at(ws + omp_get_thread_num() * per, D2 / 2, Dp);
        #pragma omp for schedule(static, 1)
        for (int64_t t = 0; t < items; t++) {
            const int h = (int)(t / nqb);
            const int64_t q0 = (t % nqb) * qi, rows = s->nq - q0 < qi ? s->nq - q0 : qi;
            const head_pack hp = {kh + h * k_len, vt + h * vt_len};
            attend_block(o, q, hp, s, h, q0, rows, qscale, &sc, lse, lse_stride);
        }
    }
    free(kh), free(vt), free(ws);
    return DG_OK;
}

#else

int dg_attention_bf16_cpu_supported(void) { return 0; }

int dg_attention_dense_bf16_cpu(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                                float *lse, int64_t lse_stride) {
    (void)o, (void)q, (void)k, (void)v, (void)s, (void)lse, (void)lse_stride;
    return dg_error("attention (bf16): this build has no AVX512-BF16 kernel (build with DG_NATIVE on such a CPU)");
}

#endif
