/* Dense flash attention on the CPU (FlashAttention-2 schedule).
 *
 * Work item: one head x SUB blocks of BQ queries; OpenMP spreads the items.
 * Scores are kept transposed (keys x queries) so the online softmax runs down
 * columns with vertical vector ops only (no horizontal reductions), and both
 * products become the same GEMM shape, C[rows x BQ] += A[rows x kc] B[kc x BQ]:
 *   S^T[BK x BQ] = K_blk[BK x D] * Q^T[D x BQ]
 *   O^T[Dp x BQ] = O^T * alpha + V_blk^T[Dp x BK] * P^T[BK x BQ]
 * so one register-blocked micro-kernel serves both. Q is pre-multiplied by
 * scale*log2(e), which turns the softmax exponentials into exp2.
 * Code paths: AVX-512, AVX2+FMA, and portable C (correct anywhere, slow). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include "attention/attention.h"
#include "core/error.h"

#define BQ 64  /* queries per micro-kernel call: its width (4 AVX-512 vectors) */
#define SUB 4  /* query blocks per work item: each packed key/value block serves 4 * BQ queries */
#define BK 128 /* keys per block: S^T (BK x BQ) and a sub-block's Q^T stay within L1/L2 */
#define MR 4   /* micro-kernel rows: 4x4 vector accumulators + 4 B vectors in registers */

#define LOG2E 1.4426950408889634

/* 2^f - 1 = f * P(f) on [-0.5, 0.5] (Cephes exp2f); measured max relative
 * error of the whole exp2 8e-8 (1e-7 in the portable path). */
#define EXP2_P0 1.535336188319500e-4f
#define EXP2_P1 1.339887440266574e-3f
#define EXP2_P2 9.618437357674640e-3f
#define EXP2_P3 5.550332471162809e-2f
#define EXP2_P4 2.402264791363012e-1f
#define EXP2_P5 6.931472028550421e-1f

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

#ifdef __AVX512F__

/* exp2 of 16 floats. The lower clamp keeps -inf from turning into NaN
 * (inf - inf); scalef then underflows cleanly to 0. NaN stays NaN. */
static inline __m512 exp2_v(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-150.0f), x);
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(EXP2_P0);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_P1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_P2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_P3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_P4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_P5));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* c[r][0..BQ) = (alpha ? c[r] * alpha : 0) + sum_{p<kc} a[r*ars + p*acs] * b[p*BQ + 0..BQ), r < MR. */
static inline void micro_kernel(int64_t kc, const float *a, int64_t ars, int64_t acs, const float *b, float *c,
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
 * is the factor the running output must be rescaled by. */
static void softmax_block(float *s, int64_t nv, float *m, float *l, float *alpha) {
    /* Column maxima first, with BQ/16 independent chains (vmaxps latency). */
    __m512 mx[BQ / 16];
    for (int x = 0; x < BQ / 16; x++) mx[x] = _mm512_load_ps(m + 16 * x);
    for (int64_t j = 0; j < nv; j++)
        for (int x = 0; x < BQ / 16; x++) mx[x] = _mm512_max_ps(mx[x], _mm512_load_ps(s + j * BQ + 16 * x));
    for (int x = 0; x < BQ; x += 16) {
        __m512 m_old = _mm512_load_ps(m + x), m_new = mx[x / 16];
        __m512 a = exp2_v(_mm512_sub_ps(m_old, m_new));
        __m512 sum = _mm512_setzero_ps();
        for (int64_t j = 0; j < nv; j++) {
            __m512 p = exp2_v(_mm512_sub_ps(_mm512_load_ps(s + j * BQ + x), m_new));
            _mm512_store_ps(s + j * BQ + x, p);
            sum = _mm512_add_ps(sum, p);
        }
        _mm512_store_ps(l + x, _mm512_fmadd_ps(_mm512_load_ps(l + x), a, sum));
        _mm512_store_ps(m + x, m_new);
        _mm512_store_ps(alpha + x, a);
    }
}

#elif defined(__AVX2__) && defined(__FMA__)

/* exp2 of 8 floats; 2^n from exponent bits. The clamp maps -inf and deep
 * underflow to n = -127, whose bits encode +0; NaN stays NaN. */
static inline __m256 exp2_v(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(-127.0f), x);
    x = _mm256_min_ps(_mm256_set1_ps(127.0f), x);
    __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(x, n);
    __m256 p = _mm256_set1_ps(EXP2_P0);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP2_P1));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP2_P2));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP2_P3));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP2_P4));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP2_P5));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* Same contract as the AVX-512 kernel; 16 ymm registers only hold MR x 16
 * columns of accumulators, so the BQ columns go in four passes. */
static inline void micro_kernel(int64_t kc, const float *a, int64_t ars, int64_t acs, const float *b, float *c,
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

static void softmax_block(float *s, int64_t nv, float *m, float *l, float *alpha) {
    __m256 mx[BQ / 8];
    for (int x = 0; x < BQ / 8; x++) mx[x] = _mm256_load_ps(m + 8 * x);
    for (int64_t j = 0; j < nv; j++)
        for (int x = 0; x < BQ / 8; x++) mx[x] = _mm256_max_ps(mx[x], _mm256_load_ps(s + j * BQ + 8 * x));
    for (int x = 0; x < BQ; x += 8) {
        __m256 m_old = _mm256_load_ps(m + x), m_new = mx[x / 8];
        __m256 a = exp2_v(_mm256_sub_ps(m_old, m_new));
        __m256 sum = _mm256_setzero_ps();
        for (int64_t j = 0; j < nv; j++) {
            __m256 p = exp2_v(_mm256_sub_ps(_mm256_load_ps(s + j * BQ + x), m_new));
            _mm256_store_ps(s + j * BQ + x, p);
            sum = _mm256_add_ps(sum, p);
        }
        _mm256_store_ps(l + x, _mm256_fmadd_ps(_mm256_load_ps(l + x), a, sum));
        _mm256_store_ps(m + x, m_new);
        _mm256_store_ps(alpha + x, a);
    }
}

#else /* portable C: correct everywhere, vectorized where gcc manages */

/* Same polynomial; 2^n is built from exponent bits. Inputs below -127
 * (including -inf) give n = -127, whose bits encode +0. */
static inline float exp2_s(float x) {
    x = x < -127.0f ? -127.0f : x;
    x = x > 127.0f ? 127.0f : x;
    float n = (x + 0x1.8p23f) - 0x1.8p23f; /* round to nearest without a libm call */
    float f = x - n;
    float p = EXP2_P0;
    p = p * f + EXP2_P1;
    p = p * f + EXP2_P2;
    p = p * f + EXP2_P3;
    p = p * f + EXP2_P4;
    p = p * f + EXP2_P5;
    p = p * f + 1.0f;
    int32_t bits = ((int32_t)n + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

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

static void softmax_block(float *s, int64_t nv, float *m, float *l, float *alpha) {
    float m_new[BQ], sum[BQ];
    for (int i = 0; i < BQ; i++) m_new[i] = m[i], sum[i] = 0.0f;
    for (int64_t j = 0; j < nv; j++)
        for (int i = 0; i < BQ; i++) m_new[i] = s[j * BQ + i] > m_new[i] ? s[j * BQ + i] : m_new[i];
    for (int64_t j = 0; j < nv; j++)
        for (int i = 0; i < BQ; i++) {
            float p = exp2_s(s[j * BQ + i] - m_new[i]);
            s[j * BQ + i] = p;
            sum[i] += p;
        }
    for (int i = 0; i < BQ; i++) {
        alpha[i] = exp2_s(m[i] - m_new[i]);
        l[i] = l[i] * alpha[i] + sum[i];
        m[i] = m_new[i];
    }
}

#endif

/* Per-thread scratch, every piece a multiple of 16 floats so all stay 64-byte
 * aligned. A work item holds SUB query blocks so each packed key/value block
 * is reused SUB times (packing streams K and V from L3: it was ~20% of the time
 * with one block per item). */
typedef struct {
    float *qt;            /* [SUB][D][BQ]  Q^T per query block, pre-scaled */
    float *ot;            /* [SUB][Dp][BQ] running output, transposed */
    float *m, *l, *alpha; /* [SUB][BQ] running max (log2 units), running sum, rescale */
    float *st;            /* [BK][BQ] S^T, then P^T */
    float *kp;            /* [BK][D]  key rows of the block, zero rows up to a multiple of MR */
    float *vp;            /* [BK][Dp] value rows, columns D..Dp zero */
} scratch;

static int64_t scratch_floats(int64_t D, int64_t Dp) {
    return SUB * (D * BQ + Dp * BQ + 3 * BQ) + BK * BQ + round_up(BK * D, 16) + BK * Dp;
}

static scratch scratch_at(float *w, int64_t D, int64_t Dp) {
    scratch sc;
    sc.qt = w, w += SUB * D * BQ;
    sc.ot = w, w += SUB * Dp * BQ;
    sc.m = w, w += SUB * BQ;
    sc.l = w, w += SUB * BQ;
    sc.alpha = w, w += SUB * BQ;
    sc.st = w, w += BK * BQ;
    sc.kp = w, w += round_up(BK * D, 16);
    sc.vp = w;
    return sc;
}

/* Ask for key/value rows [j0, j0 + MR) of the next block while this one
 * computes: rows are heads*head_dim apart, too far for the hardware
 * prefetcher, so unprefetched packing waits on L3 for every row. */
static inline void prefetch_rows(const dg_attn_shape *s, const float *k, const float *v, int64_t off, int64_t j0) {
    for (int64_t j = j0; j < j0 + MR && j < s->nk; j++) {
        const float *kj = k + j * s->kv_stride + off, *vj = v + j * s->kv_stride + off;
        for (int64_t c = 0; c < s->head_dim; c += 16) __builtin_prefetch(kj + c, 0, 2), __builtin_prefetch(vj + c, 0, 2);
        __builtin_prefetch(kj + s->head_dim - 1, 0, 2); /* rows need not start on a cache line */
        __builtin_prefetch(vj + s->head_dim - 1, 0, 2);
    }
}

/* One head, queries [q0, q0 + rows), rows <= SUB * BQ; result into o. */
static void attend_block(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s, int h,
                         int64_t q0, int64_t rows, float qscale, scratch *sc) {
    const int64_t D = s->head_dim, Dp = round_up(D, MR), off = (int64_t)h * D;
    const int64_t nsub = (rows + BQ - 1) / BQ;
    memset(sc->qt, 0, (size_t)(nsub * D * BQ) * sizeof(float)); /* padded query columns score 0, never written out */
    for (int64_t i = 0; i < rows; i++) {
        const float *qi = q + (q0 + i) * s->q_stride + off;
        float *qt = sc->qt + (i / BQ) * D * BQ + i % BQ;
        for (int64_t c = 0; c < D; c++) qt[c * BQ] = qi[c] * qscale;
    }
    for (int64_t i = 0; i < nsub * BQ; i++) sc->m[i] = -INFINITY, sc->l[i] = 0.0f;

    for (int64_t k0 = 0; k0 < s->nk; k0 += BK) {
        const int64_t nv = s->nk - k0 < BK ? s->nk - k0 : BK, nvp = round_up(nv, MR);
        for (int64_t j = 0; j < nv; j++) {
            memcpy(sc->kp + j * D, k + (k0 + j) * s->kv_stride + off, (size_t)D * sizeof(float));
            memcpy(sc->vp + j * Dp, v + (k0 + j) * s->kv_stride + off, (size_t)D * sizeof(float));
        }
        memset(sc->kp + nv * D, 0, (size_t)((nvp - nv) * D) * sizeof(float));
        for (int64_t b = 0; b < nsub; b++) {
            const float *qt = sc->qt + b * D * BQ;
            float *ot = sc->ot + b * Dp * BQ, *m = sc->m + b * BQ, *l = sc->l + b * BQ, *alpha = sc->alpha + b * BQ;
            for (int64_t j0 = 0; j0 < nvp; j0 += MR) {
                if (b == 0) prefetch_rows(s, k, v, off, k0 + BK + j0);
                micro_kernel(D, sc->kp + j0 * D, D, 1, qt, sc->st + j0 * BQ, NULL);
            }
            softmax_block(sc->st, nv, m, l, alpha);
            for (int64_t d0 = 0; d0 < Dp; d0 += MR)
                micro_kernel(nv, sc->vp + d0, 1, Dp, sc->st, ot + d0 * BQ, k0 ? alpha : NULL);
        }
    }

    for (int64_t i = 0; i < rows; i++) {
        const float *ot = sc->ot + (i / BQ) * Dp * BQ + i % BQ;
        float inv = 1.0f / sc->l[i]; /* l >= 1: the row maximum contributes exp2(0) */
        float *oi = o + (q0 + i) * s->q_stride + off;
        for (int64_t c = 0; c < D; c++) oi[c] = ot[c * BQ] * inv;
    }
}

int dg_attention_dense_cpu(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s) {
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
        memset(sc.vp, 0, (size_t)(BK * Dp) * sizeof(float)); /* padding columns stay zero for the whole call */
        #pragma omp for schedule(static)
        for (int64_t t = 0; t < items; t++) {
            int64_t q0 = (t % nqb) * qi, rows = s->nq - q0 < qi ? s->nq - q0 : qi;
            attend_block(o, q, k, v, s, (int)(t / nqb), q0, rows, qscale, &sc);
        }
    }
    free(ws);
    return DG_OK;
}
