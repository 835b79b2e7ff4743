/* Data movement of the video VAE ops on the CPU: feature-cache updates,
 * channel/frame shuffles, box copies, tile blending, clamp and fill. Rows of
 * the innermost dim are contiguous, so most loops are memcpy per row. */
#include <string.h>

#include "core/cpu/video_cpu.h"
#include "core/error.h"

int dg_cpu_cache_push(dg_backend *be, dg_tensor *cache, const dg_tensor *x) {
    const int64_t C = x->shape[0], nc = cache->shape[1], T = x->shape[1], HW = x->shape[2] * x->shape[3];
    const float *xd = x->data;
    float *cd = cache->data;
    #pragma omp parallel for if (C * T * HW > DG_CPU_PAR_MIN)
    for (int64_t ch = 0; ch < C; ch++) {
        float *cc = cd + ch * nc * HW;
        const float *xc = xd + ch * T * HW;
        if (T >= nc) {
            memcpy(cc, xc + (T - nc) * HW, (size_t)(nc * HW) * sizeof(float));
        } else {
            memmove(cc, cc + T * HW, (size_t)((nc - T) * HW) * sizeof(float));
            memcpy(cc + (nc - T) * HW, xc, (size_t)(T * HW) * sizeof(float));
        }
    }
    return DG_OK;
}

int dg_cpu_channels_to_frames(dg_backend *be, dg_tensor *y, const dg_tensor *x) {
    const int64_t C = y->shape[0], T = x->shape[1], g = x->shape[0] / C, HW = x->shape[2] * x->shape[3];
    const float *xd = x->data;
    float *yd = y->data;
    /* output frame u = g*t + i comes from channel i*C + c at frame t */
    #pragma omp parallel for collapse(2) if (C * g * T * HW > DG_CPU_PAR_MIN)
    for (int64_t c = 0; c < C; c++)
        for (int64_t u = 0; u < g * T; u++)
            memcpy(yd + (c * g * T + u) * HW, xd + (((u % g) * C + c) * T + u / g) * HW, (size_t)HW * sizeof(float));
    return DG_OK;
}

int dg_cpu_channels_to_cells(dg_backend *be, dg_tensor *y, const dg_tensor *x, const int cells[4], int accumulate) {
    const int64_t ft = cells[0], fs = cells[1], drop = cells[2], cm = cells[3];
    const int64_t C = y->shape[0], To = y->shape[1], Ho = y->shape[2], Wo = y->shape[3];
    const int64_t T = x->shape[1], H = x->shape[2], W = x->shape[3], r = C * ft * fs * fs / x->shape[0];
    const float *xd = x->data;
    float *yd = y->data;
    /* one output row at a time: its pixels alternate among fs source channels */
    #pragma omp parallel for collapse(3) if (C * To * Ho * Wo > DG_CPU_PAR_MIN)
    for (int64_t c = 0; c < C; c++)
        for (int64_t u = 0; u < To; u++)
            for (int64_t oh = 0; oh < Ho; oh++) {
                const int64_t a = (u + drop) % ft, t = (u + drop) / ft, i = oh % fs, h = oh / fs;
                float *yr = yd + ((c * To + u) * Ho + oh) * Wo;
                for (int64_t ow = 0; ow < Wo; ow++) {
                    const int64_t j = ow % fs, s = cm ? j * fs + i : i * fs + j;
                    const int64_t src = (c * ft * fs * fs + a * fs * fs + s) / r;
                    const float v = xd[((src * T + t) * H + h) * W + ow / fs];
                    yr[ow] = accumulate ? yr[ow] + v : v;
                }
            }
    return DG_OK;
}

int dg_cpu_copy_box(dg_backend *be, dg_tensor *dst, const int64_t dst_at[4], const dg_tensor *src,
                    const int64_t src_at[4], const int64_t size[4]) {
    const int64_t *ds = dst->shape, *ss = src->shape, rows = size[0] * size[1] * size[2];
    float *dd = dst->data;
    const float *sd = src->data;
    #pragma omp parallel for if (rows * size[3] > DG_CPU_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t a = r / (size[1] * size[2]), b = r / size[2] % size[1], c = r % size[2];
        float *d = dd + (((dst_at[0] + a) * ds[1] + dst_at[1] + b) * ds[2] + dst_at[2] + c) * ds[3] + dst_at[3];
        const float *s = sd + (((src_at[0] + a) * ss[1] + src_at[1] + b) * ss[2] + src_at[2] + c) * ss[3] + src_at[3];
        memcpy(d, s, (size_t)size[3] * sizeof(float));
    }
    return DG_OK;
}

int dg_cpu_blend_edge(dg_backend *be, dg_tensor *y, const dg_tensor *a, int axis, int64_t n) {
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= y->shape[d];
    for (int d = axis + 1; d < y->ndim; d++) inner *= y->shape[d];
    const int64_t Ly = y->shape[axis], La = a->shape[axis];
    float *yd = y->data;
    const float *ad = a->data;
    #pragma omp parallel for collapse(2) if (outer * n * inner > DG_CPU_PAR_MIN)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < n; i++) {
            /* the weights in double, then rounded, as diffusers' y / blend_extent */
            const float wy = (float)((double)i / n), wa = (float)(1.0 - (double)i / n);
            float *yr = yd + (o * Ly + i) * inner;
            const float *ar = ad + (o * La + La - n + i) * inner;
            for (int64_t j = 0; j < inner; j++) yr[j] = ar[j] * wa + yr[j] * wy;
        }
    return DG_OK;
}

int dg_cpu_clamp(dg_backend *be, dg_tensor *y, const dg_tensor *x, float lo, float hi) {
    const int64_t n = dg_tensor_numel(y);
    const float *xd = x->data;
    float *yd = y->data;
    #pragma omp parallel for simd if (n > DG_CPU_PAR_MIN)
    for (int64_t i = 0; i < n; i++) yd[i] = xd[i] < lo ? lo : xd[i] > hi ? hi : xd[i];
    return DG_OK;
}

int dg_cpu_fill(dg_backend *be, dg_tensor *y, float value) {
    const int64_t n = dg_tensor_numel(y);
    float *yd = y->data;
    #pragma omp parallel for simd if (n > DG_CPU_PAR_MIN)
    for (int64_t i = 0; i < n; i++) yd[i] = value;
    return DG_OK;
}
