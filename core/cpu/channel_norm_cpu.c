/* Channel-wise L2 ("RMS") norm with optional SiLU on [C, ...] data (the
 * norm of the Wan VAE's residual blocks). */
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
#endif
    for (; i < n; i++) y[i] = y[i] / (1.0f + exp2_s(y[i] * (float)-LOG2E));
}

/* Positions per work item: the sums of squares stay in a small local array
 * while each channel row is streamed. */
#define NORM_BLOCK 256

int dg_cpu_channel_rmsnorm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, int silu) {
    const int64_t C = x->shape[0], P = C ? dg_tensor_numel(x) / C : 0;
    const float *xd = x->data, *g = gamma->data;
    float *yd = y->data;
    const float scale = sqrtf((float)C);
    #pragma omp parallel for schedule(static) if (C * P > DG_CPU_PAR_MIN)
    for (int64_t p0 = 0; p0 < P; p0 += NORM_BLOCK) {
        const int64_t n = P - p0 < NORM_BLOCK ? P - p0 : NORM_BLOCK;
        double ss[NORM_BLOCK] = {0};
        float inv[NORM_BLOCK];
        for (int64_t c = 0; c < C; c++) {
            const float *xr = xd + c * P + p0;
            for (int64_t i = 0; i < n; i++) ss[i] += (double)xr[i] * xr[i];
        }
        /* F.normalize: x / max(||x||, 1e-12) */
        for (int64_t i = 0; i < n; i++) {
            float norm = (float)sqrt(ss[i]);
            inv[i] = 1.0f / (norm > 1e-12f ? norm : 1e-12f);
        }
        for (int64_t c = 0; c < C; c++) {
            const float *xr = xd + c * P + p0;
            float *yr = yd + c * P + p0, gc = g[c];
            for (int64_t i = 0; i < n; i++) yr[i] = xr[i] * inv[i] * scale * gc;
            if (silu) silu_inplace(yr, n);
        }
    }
    return DG_OK;
}
