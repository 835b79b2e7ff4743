/* Channel-wise L2 ("RMS") norm with optional SiLU on [C, ...] data (the
 * norm of the Wan VAE's residual blocks), in the two halves the
 * convolutions use to normalise their input as they read it. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/cpu/exp2_poly.h"
#include "core/error.h"
#include "core/cpu/video_cpu.h"

/* y = y * sigmoid(y) over n floats, sigmoid through exp2 (libm's expf was
 * most of a norm's time). */
static void silu_inplace(float *y, int64_t n) {
    int64_t i = 0;
#ifdef __AVX512F__
    const __m512 one = _mm512_set1_ps(1.0f), nl2e = _mm512_set1_ps((float)-LOG2E);
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(y + i);
        _mm512_storeu_ps(y + i, _mm512_div_ps(v, _mm512_add_ps(one, exp2_v(_mm512_mul_ps(v, nl2e)))));
    }
#elif defined(__AVX2__) && defined(__FMA__)
    const __m256 one = _mm256_set1_ps(1.0f), nl2e = _mm256_set1_ps((float)-LOG2E);
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(y + i);
        _mm256_storeu_ps(y + i, _mm256_div_ps(v, _mm256_add_ps(one, exp2_v(_mm256_mul_ps(v, nl2e)))));
    }
#endif
    for (; i < n; i++) y[i] = y[i] / (1.0f + exp2_s(y[i] * (float)-LOG2E));
}

/* Positions per work item: the sums of squares stay in a small local array
 * while each channel row is streamed. */
#define NORM_BLOCK 256

/* inv[i] = 1 / max(||x[:, p0+i]||, 1e-12) for i < n (F.normalize), sums in double. */
static void inv_norms(float *inv, const float *x, int64_t C, int64_t P, int64_t p0, int64_t n) {
    double ss[NORM_BLOCK] = {0};
    for (int64_t c = 0; c < C; c++) {
        const float *xr = x + c * P + p0;
        for (int64_t i = 0; i < n; i++) ss[i] += (double)xr[i] * xr[i];
    }
    for (int64_t i = 0; i < n; i++) {
        const float norm = (float)sqrt(ss[i]);
        inv[i] = 1.0f / (norm > 1e-12f ? norm : 1e-12f);
    }
}

void dg_cpu_rms_inv(float *inv, const float *x, int64_t C, int64_t P) {
    #pragma omp parallel for schedule(static) if (C * P > DG_CPU_PAR_MIN)
    for (int64_t p0 = 0; p0 < P; p0 += NORM_BLOCK)
        inv_norms(inv + p0, x, C, P, p0, P - p0 < NORM_BLOCK ? P - p0 : NORM_BLOCK);
}

void dg_cpu_rms_apply(float *y, const float *x, const float *inv, int64_t n, float scale, float gamma, int silu) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * inv[i] * scale * gamma;
    if (silu) silu_inplace(y, n);
}

void dg_cpu_rms_normalize(float *y, const float *x, int64_t C, int64_t P, const float *gamma, int silu) {
    const float scale = sqrtf((float)C);
    /* a block's columns are read twice while they are still in cache */
    #pragma omp parallel for schedule(static) if (C * P > DG_CPU_PAR_MIN)
    for (int64_t p0 = 0; p0 < P; p0 += NORM_BLOCK) {
        const int64_t n = P - p0 < NORM_BLOCK ? P - p0 : NORM_BLOCK;
        float inv[NORM_BLOCK];
        inv_norms(inv, x, C, P, p0, n);
        for (int64_t c = 0; c < C; c++) dg_cpu_rms_apply(y + c * P + p0, x + c * P + p0, inv, n, scale, gamma[c], silu);
    }
}
