// In-place interleaved-pair rotary embedding on x[N, heads, d] with cos/sin
// tables [N, d]: one thread per (token, head, pair), the CPU twin's formula.
#include "core/cuda/cuda_internal.h"

static __global__ void rope_kernel(float *x, const float *cos, const float *sin, int64_t N, int64_t H, int64_t d) {
    const int64_t pairs = N * H * (d / 2);
    for (int64_t p = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; p < pairs; p += (int64_t)gridDim.x * blockDim.x) {
        const int64_t j = 2 * (p % (d / 2)), n = p / (H * (d / 2));
        float *v = x + 2 * p; // pairs are contiguous: (n*H + h)*d + j == 2*p
        const float *c = cos + n * d, *s = sin + n * d;
        float a = v[0], b = v[1];
        // diffusers Wan: out[2j] = a*cos - b*sin ; out[2j+1] = a*sin + b*cos
        v[0] = a * c[j] - b * s[j];
        v[1] = a * s[j + 1] + b * c[j + 1];
    }
}

extern "C" int dg_cuda_rope(dg_backend *be, dg_tensor *x, const dg_tensor *cos, const dg_tensor *sin) {
    const int64_t N = x->shape[0], H = x->shape[1], d = x->shape[2], pairs = N * H * (d / 2);
    if (pairs == 0) return DG_OK;
    rope_kernel<<<dg_cuda_blocks(pairs), 256, 0, dg_cuda_stream(be)>>>(
        (float *)x->data, (const float *)cos->data, (const float *)sin->data, N, H, d);
    DG_CUDA_CHECK_LAUNCH("rope_kernel");
    return DG_OK;
}
