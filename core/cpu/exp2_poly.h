/* exp2 by a degree-6 polynomial on the fraction and 2^n from the exponent,
 * for AVX-512 (exp2_v on __m512), AVX2+FMA (exp2_v on __m256) and portable C
 * (exp2_s): the softmax of the attention kernels, the VAE's SiLU, the transformer's GELU. */
#ifndef DG_CORE_CPU_EXP2_POLY_H
#define DG_CORE_CPU_EXP2_POLY_H

#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#define LOG2E 1.4426950408889634

/* 2^f - 1 = f * P(f) on [-0.5, 0.5] (Cephes exp2f); measured max relative
 * error of the whole exp2 8e-8 (1e-7 in the portable path). */
#define EXP2_P0 1.535336188319500e-4f
#define EXP2_P1 1.339887440266574e-3f
#define EXP2_P2 9.618437357674640e-3f
#define EXP2_P3 5.550332471162809e-2f
#define EXP2_P4 2.402264791363012e-1f
#define EXP2_P5 6.931472028550421e-1f

#ifdef __AVX512F__

/* exp2 of 16 floats; inputs below -125 (masked scores are -inf) give exactly
 * 0 by a zeroing mask, not by scalef underflowing: an underflowing or denormal
 * result costs a microcode assist of ~100 cycles per vector, which made
 * partially masked blocks run at ~0.6x the speed of full ones. The clamp keeps
 * -inf from turning into NaN (inf - inf). NaN stays NaN (unordered compare). */
static inline __m512 exp2_v(__m512 x) {
    const __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-125.0f), _CMP_NLT_UQ);
    x = _mm512_max_ps(_mm512_set1_ps(-125.0f), x);
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(EXP2_P0);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_P1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_P2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_P3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_P4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_P5));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(live, p, n);
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

#endif

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

#endif
