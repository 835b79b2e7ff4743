/* Flash-attention building blocks shared by the dense kernel (attention_dense.c)
 * and the block-sparse engine (attention_sparse.c), so both have one implementation
 * and the same numerics: with every block listed the engine reproduces the
 * dense kernel bit for bit.
 *
 * Scores are kept transposed (keys x queries) so the online softmax runs down
 * columns with vertical vector ops only, and both products share one GEMM
 * shape, C[rows x BQ] += A[rows x kc] B[kc x BQ]. Q is pre-multiplied by
 * scale*log2(e), which turns the softmax exponentials into exp2.
 * Code paths: AVX-512, AVX2+FMA, and portable C (correct anywhere, slow). */
#ifndef DG_CORE_CPU_FLASH_KERNELS_H
#define DG_CORE_CPU_FLASH_KERNELS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu/exp2_poly.h"

#define BQ 64  /* queries per micro-kernel call: its width (4 AVX-512 vectors) */
#define BK 128 /* keys per block: S^T (BK x BQ) and a sub-block's Q^T stay within L1/L2 */
/* MR, micro-kernel rows, is per code path (below); callers round key rows and value columns up to
 * it, so a block of BK keys spans BK_ROWS rows of scratch. */
#define BK_ROWS ((BK + MR - 1) / MR * MR)
#define LN2 0.6931471805599453 /* log-sum-exp leaves the kernels' log2 domain */

static inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

#ifdef __AVX512F__

/* 5x4 vector accumulators + 4 B vectors. On a Zen 5 (2 threads, 4680 tokens, head_dim 128) 5 rows
 * ran at 449 GFLOP/s, 94 % of sgemm; 4 rows 78 % (352 GFLOP/s), 6 rows 436, 7 rows 419. */
#define MR 5

/* c[r][0..BQ) = (alpha ? c[r] * alpha : 0) + sum_{p<kc} a[r*ars + p*acs] * b[p*BQ + 0..BQ), r < MR.
 * Forced inline, as on AVX2. */
static inline __attribute__((always_inline)) void micro_kernel(int64_t kc, const float *a, int64_t ars,
                                                               int64_t acs, const float *b, float *c,
                                                               const float *alpha) {
    __m512 acc[MR][4];
    for (int r = 0; r < MR; r++)
        for (int x = 0; x < 4; x++)
            acc[r][x] = alpha ? _mm512_mul_ps(_mm512_load_ps(c + r * BQ + 16 * x), _mm512_load_ps(alpha + 16 * x))
                              : _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        const float *bp = b + p * BQ;
        __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
        __m512 b2 = _mm512_load_ps(bp + 32), b3 = _mm512_load_ps(bp + 48);
        for (int r = 0; r < MR; r++) {
            __m512 ar = _mm512_set1_ps(a[r * ars + p * acs]);
            acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(ar, b2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(ar, b3, acc[r][3]);
        }
    }
    for (int r = 0; r < MR; r++)
        for (int x = 0; x < 4; x++) _mm512_store_ps(c + r * BQ + 16 * x, acc[r][x]);
}

/* Online-softmax step for one key block. s: nv rows of BQ log2-domain scores,
 * replaced by P = exp2(s - m_new); m, l updated; alpha = exp2(m_old - m_new)
 * is the factor the running output must be rescaled by. Masked scores are
 * -inf; a column with no finite score yet keeps m = -inf and is shifted by 0
 * instead (so P = 0, alpha = 0, never inf - inf = NaN); finite columns are
 * unaffected, so dense results do not change. */
static inline void softmax_block(float *s, int64_t nv, float *m, float *l, float *alpha) {
    /* Column maxima first, with BQ/16 independent chains (vmaxps latency). */
    __m512 mx[BQ / 16];
    for (int x = 0; x < BQ / 16; x++) mx[x] = _mm512_load_ps(m + 16 * x);
    for (int64_t j = 0; j < nv; j++)
        for (int x = 0; x < BQ / 16; x++) mx[x] = _mm512_max_ps(mx[x], _mm512_load_ps(s + j * BQ + 16 * x));
    for (int x = 0; x < BQ; x += 16) {
        __m512 m_old = _mm512_load_ps(m + x), m_new = mx[x / 16];
        __m512 shift = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(m_new, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ), m_new,
                                            _mm512_setzero_ps());
        __m512 a = exp2_v(_mm512_sub_ps(m_old, shift));
        __m512 sum = _mm512_setzero_ps();
        for (int64_t j = 0; j < nv; j++) {
            __m512 p = exp2_v(_mm512_sub_ps(_mm512_load_ps(s + j * BQ + x), shift));
            _mm512_store_ps(s + j * BQ + x, p);
            sum = _mm512_add_ps(sum, p);
        }
        _mm512_store_ps(l + x, _mm512_fmadd_ps(_mm512_load_ps(l + x), a, sum));
        _mm512_store_ps(m + x, m_new);
        _mm512_store_ps(alpha + x, a);
    }
}

#elif defined(__AVX2__) && defined(__FMA__)

/* 6 x 2 vector accumulators + 2 B vectors + the broadcast: 15 of 16 ymm registers. With 4 rows
 * (8 accumulators, 6 loads per 8 FMAs) attention ran at 54 % of sgemm on a Zen 3; 6 rows take
 * 8 loads per 12 FMAs and hide the FMA latency, for 3 % of padding rows at head_dim 128. */
#define MR 6

/* Same contract as the AVX-512 kernel; 16 ymm registers only hold MR x 16
 * columns of accumulators, so the BQ columns go in four passes. Forced inline:
 * GCC otherwise calls one constprop copy for both products (~2 % slower). */
static inline __attribute__((always_inline)) void micro_kernel(int64_t kc, const float *a, int64_t ars,
                                                               int64_t acs, const float *b, float *c,
                                                               const float *alpha) {
    for (int x = 0; x < BQ; x += 16) {
        __m256 acc[MR][2];
        for (int r = 0; r < MR; r++)
            for (int y = 0; y < 2; y++)
                acc[r][y] = alpha ? _mm256_mul_ps(_mm256_load_ps(c + r * BQ + x + 8 * y), _mm256_load_ps(alpha + x + 8 * y))
                                  : _mm256_setzero_ps();
        for (int64_t p = 0; p < kc; p++) {
            __m256 b0 = _mm256_load_ps(b + p * BQ + x), b1 = _mm256_load_ps(b + p * BQ + x + 8);
            for (int r = 0; r < MR; r++) {
                __m256 ar = _mm256_broadcast_ss(a + r * ars + p * acs);
                acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
            }
        }
        for (int r = 0; r < MR; r++)
            for (int y = 0; y < 2; y++) _mm256_store_ps(c + r * BQ + x + 8 * y, acc[r][y]);
    }
}

static inline void softmax_block(float *s, int64_t nv, float *m, float *l, float *alpha) {
    __m256 mx[BQ / 8];
    for (int x = 0; x < BQ / 8; x++) mx[x] = _mm256_load_ps(m + 8 * x);
    for (int64_t j = 0; j < nv; j++)
        for (int x = 0; x < BQ / 8; x++) mx[x] = _mm256_max_ps(mx[x], _mm256_load_ps(s + j * BQ + 8 * x));
    for (int x = 0; x < BQ; x += 8) {
        __m256 m_old = _mm256_load_ps(m + x), m_new = mx[x / 8];
        __m256 shift = _mm256_blendv_ps(m_new, _mm256_setzero_ps(),
                                        _mm256_cmp_ps(m_new, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ));
        __m256 a = exp2_v(_mm256_sub_ps(m_old, shift));
        __m256 sum = _mm256_setzero_ps();
        for (int64_t j = 0; j < nv; j++) {
            __m256 p = exp2_v(_mm256_sub_ps(_mm256_load_ps(s + j * BQ + x), shift));
            _mm256_store_ps(s + j * BQ + x, p);
            sum = _mm256_add_ps(sum, p);
        }
        _mm256_store_ps(l + x, _mm256_fmadd_ps(_mm256_load_ps(l + x), a, sum));
        _mm256_store_ps(m + x, m_new);
        _mm256_store_ps(alpha + x, a);
    }
}

#else /* portable C: correct everywhere, vectorized where gcc manages */

#define MR 4

static inline void micro_kernel(int64_t kc, const float *a, int64_t ars, int64_t acs, const float *b, float *c,
                                const float *alpha) {
    float acc[MR][BQ];
    for (int r = 0; r < MR; r++)
        for (int i = 0; i < BQ; i++) acc[r][i] = alpha ? c[r * BQ + i] * alpha[i] : 0.0f;
    for (int64_t p = 0; p < kc; p++) {
        const float *bp = b + p * BQ;
        for (int r = 0; r < MR; r++) {
            float ar = a[r * ars + p * acs];
            for (int i = 0; i < BQ; i++) acc[r][i] += ar * bp[i];
        }
    }
    memcpy(c, acc, sizeof acc);
}

static inline void softmax_block(float *s, int64_t nv, float *m, float *l, float *alpha) {
    float m_new[BQ], shift[BQ], sum[BQ];
    for (int i = 0; i < BQ; i++) m_new[i] = m[i], sum[i] = 0.0f;
    for (int64_t j = 0; j < nv; j++)
        for (int i = 0; i < BQ; i++) m_new[i] = s[j * BQ + i] > m_new[i] ? s[j * BQ + i] : m_new[i];
    for (int i = 0; i < BQ; i++) shift[i] = m_new[i] == -INFINITY ? 0.0f : m_new[i];
    for (int64_t j = 0; j < nv; j++)
        for (int i = 0; i < BQ; i++) {
            float p = exp2_s(s[j * BQ + i] - shift[i]);
            s[j * BQ + i] = p;
            sum[i] += p;
        }
    for (int i = 0; i < BQ; i++) {
        alpha[i] = exp2_s(m[i] - shift[i]);
        l[i] = l[i] * alpha[i] + sum[i];
        m[i] = m_new[i];
    }
}

#endif

/* Row stride of a packed value block (rows of D values, zero columns up to a multiple of MR).
 * The P*V product reads one MR-column strip down all BK rows per call; with a stride of an even
 * number of cache lines those rows fall into few L1 sets and evict each other (a Zen 3 ran the
 * product at 60-75 GFLOP/s on rows 6 KiB apart, 94 on rows an odd number of lines apart). */
static inline int64_t value_stride(int64_t D) { return ((round_up(D, MR) + 15) / 16 | 1) * 16; }

/* Query blocks per work item: each key/value block, once streamed from L3, is reused SUB times from
 * L1/L2 (the dense kernels' items, the block-sparse engine's largest unit). */
#define SUB 4

/* Per-thread scratch of a work item, every piece a multiple of 16 floats so all stay 64-byte aligned.
 * qrows: rows of BQ per query block's Q^T (head_dim floats; bf16: ceil(head_dim / 2) pair words). */
typedef struct {
    float *qt;            /* [SUB][qrows][BQ] Q^T per query block, pre-scaled */
    float *ot;            /* [SUB][Dp][BQ] running output, transposed */
    float *m, *l, *alpha; /* [SUB][BQ] running max (log2 units), running sum, rescale */
    float *st;            /* [BK_ROWS][BQ] S^T, then P^T */
} flash_scratch;

static inline int64_t flash_scratch_floats(int64_t qrows, int64_t Dp) {
    return SUB * (qrows * BQ + Dp * BQ + 3 * BQ) + BK_ROWS * BQ;
}

static inline flash_scratch flash_scratch_at(float *w, int64_t qrows, int64_t Dp) {
    flash_scratch sc;
    sc.qt = w, w += SUB * qrows * BQ;
    sc.ot = w, w += SUB * Dp * BQ;
    sc.m = w, w += SUB * BQ;
    sc.l = w, w += SUB * BQ;
    sc.alpha = w, w += SUB * BQ;
    sc.st = w;
    return sc;
}

/* Mask one BQ-column block of transposed scores: key row j of s keeps column i
 * iff bit i of words[j * wstride] is set, else becomes -inf (weight 0). */
static inline void apply_mask(float *s, int64_t nv, const uint64_t *words, int64_t wstride) {
    for (int64_t j = 0; j < nv; j++) {
        uint64_t w = words[j * wstride];
        if (w == ~0ull) continue;
        float *sj = s + j * BQ;
#ifdef __AVX512F__
        for (int x = 0; x < 4; x++)
            _mm512_store_ps(sj + 16 * x, _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), (__mmask16)(w >> (16 * x)),
                                                            _mm512_load_ps(sj + 16 * x)));
#else
        for (int i = 0; i < BQ; i++)
            if (!((w >> i) & 1)) sj[i] = -INFINITY;
#endif
    }
}

#endif
