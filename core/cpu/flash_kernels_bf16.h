/* bf16 flash-attention building blocks (AVX512-BF16) shared by the dense bf16 kernel
 * (attention_bf16.c) and the block-sparse engine's bf16 path (attention_sparse.c), so both have
 * one implementation and the same numerics.
 *
 * vdpbf16ps sums pairs of bf16 products into f32 lanes, so a product C[rows x BQ] += A[rows x kc]
 * B[kc x BQ] takes A as rows of bf16 pairs along kc (a 32-bit word per pair) and B as [kc/2][BQ]
 * words, each holding the pair (B[2p][i], B[2p+1][i]) ("VNNI" layout). The micro-kernel has the f32
 * AVX-512 kernel's shape (MR rows x 4 vectors); the online softmax is the f32 one. */
#ifndef DG_CORE_CPU_FLASH_KERNELS_BF16_H
#define DG_CORE_CPU_FLASH_KERNELS_BF16_H

#include "core/attention.h"
#include "core/cpu/flash_kernels.h"
#include "core/dtype.h"

#if defined(__AVX512BF16__) && defined(__AVX512BW__)
#define DG_HAVE_BF16_ATTENTION 1

/* c[r][0..BQ) = (alpha ? c[r] * alpha : 0) + sum_{p<kp} pair(a[r*ars + p]) . pair(b[p*BQ + 0..BQ)), r < MR. */
static inline __attribute__((always_inline)) void micro_kernel_bf16(int64_t kp, const uint32_t *a, int64_t ars,
                                                                    const uint32_t *b, float *c, const float *alpha) {
    __m512 acc[MR][4];
    for (int r = 0; r < MR; r++)
        for (int x = 0; x < 4; x++)
            acc[r][x] = alpha ? _mm512_mul_ps(_mm512_load_ps(c + r * BQ + 16 * x), _mm512_load_ps(alpha + 16 * x))
                              : _mm512_setzero_ps();
    for (int64_t p = 0; p < kp; p++) {
        const uint32_t *bp = b + p * BQ;
        __m512bh b0 = (__m512bh)_mm512_load_si512(bp), b1 = (__m512bh)_mm512_load_si512(bp + 16);
        __m512bh b2 = (__m512bh)_mm512_load_si512(bp + 32), b3 = (__m512bh)_mm512_load_si512(bp + 48);
        for (int r = 0; r < MR; r++) {
            __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[r * ars + p]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], ar, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], ar, b1);
            acc[r][2] = _mm512_dpbf16_ps(acc[r][2], ar, b2);
            acc[r][3] = _mm512_dpbf16_ps(acc[r][3], ar, b3);
        }
    }
    for (int r = 0; r < MR; r++)
        for (int x = 0; x < 4; x++) _mm512_store_ps(c + r * BQ + 16 * x, acc[r][x]);
}

/* Rows 2p and 2p+1 of the f32 probabilities (nv rows of BQ) -> word row p of bf16 pairs, in place
 * (row p is written after rows 2p, 2p+1 are read); an odd last row is paired with zeros. */
static inline void pair_rows(float *st, int64_t nv) {
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7,
                                                22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int64_t p = 0; p < (nv + 1) / 2; p++) {
        const float *r0 = st + 2 * p * BQ, *r1 = r0 + BQ;
        const int odd = 2 * p + 1 == nv;
        __m512i w[4];
        for (int x = 0; x < 4; x++) {
            __m512 lo = _mm512_load_ps(r0 + 16 * x), hi = odd ? _mm512_setzero_ps() : _mm512_load_ps(r1 + 16 * x);
            w[x] = _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
        for (int x = 0; x < 4; x++) _mm512_store_si512((uint32_t *)st + p * BQ + 16 * x, w[x]);
    }
}

/* n floats -> bf16 (round to nearest even), zeros up to n_pad. */
static void to_bf16_row(uint16_t *d, const float *s, int64_t n, int64_t n_pad) {
    int64_t c = 0;
    for (; c + 16 <= n; c += 16)
        _mm256_storeu_si256((__m256i *)(d + c), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(s + c)));
    for (; c < n; c++) d[c] = dg_f32_to_bf16(s[c]);
    for (; c < n_pad; c++) d[c] = 0;
}

/* Query row qi's D values, times qscale and rounded, as the pair words of one column of Q^T
 * ([ceil(D/2)][BQ] words, this column at qt); an odd D's last pair is completed with 0. */
static inline void q_pairs(uint32_t *qt, const float *qi, int64_t D, float qscale) {
    for (int64_t c = 0; c < D; c += 2) {
        const uint32_t hi = c + 1 < D ? dg_f32_to_bf16(qi[c + 1] * qscale) : 0;
        qt[c / 2 * BQ] = dg_f32_to_bf16(qi[c] * qscale) | hi << 16;
    }
}

/* Key j's value row vj (D values), rounded, into column j of a transposed value block whose rows
 * (one per channel) are bkw keys long. */
static inline void vt_column(uint16_t *vt, int64_t bkw, int64_t j, const float *vj, int64_t D) {
    for (int64_t c = 0; c < D; c++) vt[c * bkw + j] = dg_f32_to_bf16(vj[c]);
}

/* Gather the keys and values of every head, rounded, for the pair products: K as rows of D2 =
 * round_up(D, 2) values ([heads][rows_alloc][D2]), V as transposed blocks of block_k keys, each
 * [Dp][bkw] with bkw = block_k rounded up to even ([heads][n_kblocks][Dp][bkw]); key r of the
 * gathered order is token perm[r] (perm NULL: r). Zeros past n keys, past D and in an odd block_k's
 * pad column. Orphaned OpenMP loops: called by every thread of a parallel region. */
static inline void gather_kv_bf16(uint16_t *kh, uint16_t *vt, const float *k, const float *v,
                                  const dg_attn_shape *s, const int32_t *perm, int64_t n, int64_t rows_alloc,
                                  int64_t block_k, int64_t n_kblocks) {
    const int64_t D = s->head_dim, D2 = round_up(D, 2), Dp = round_up(D, MR), bkw = round_up(block_k, 2);
    #pragma omp for schedule(static)
    for (int64_t hr = 0; hr < s->heads * rows_alloc; hr++) {
        const int64_t h = hr / rows_alloc, r = hr % rows_alloc;
        if (r < n) to_bf16_row(kh + hr * D2, k + (perm ? perm[r] : r) * s->kv_stride + h * D, D, D2);
        else memset(kh + hr * D2, 0, (size_t)D2 * sizeof(uint16_t));
    }
    #pragma omp for schedule(static)
    for (int64_t hb = 0; hb < s->heads * n_kblocks; hb++) {
        const int64_t h = hb / n_kblocks, k0 = hb % n_kblocks * block_k, nv = n - k0 < block_k ? n - k0 : block_k;
        uint16_t *blk = vt + hb * Dp * bkw;
        memset(blk, 0, (size_t)(Dp * bkw) * sizeof(uint16_t));
        for (int64_t j = 0; j < nv; j++)
            vt_column(blk, bkw, j, v + (perm ? perm[k0 + j] : k0 + j) * s->kv_stride + h * D, D);
    }
}

#endif
#endif
