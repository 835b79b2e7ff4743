// The Wan VAE's channel "RMS" norm on the GPU: one thread per position walks
// the C channels (reads coalesced across the threads of a warp), summing
// squares in double as the CPU twin does, then writes the normalised column.
// In place (y == x) is fine: a thread reads each element before writing it.
#include "core/cuda/cuda_internal.h"

static __global__ void channel_rmsnorm_kernel(float *y, const float *x, const float *gamma, int64_t C, int64_t P,
                                              float scale, int silu) {
    for (int64_t p = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; p < P; p += (int64_t)gridDim.x * blockDim.x) {
        double ss = 0.0;
        for (int64_t c = 0; c < C; c++) {
            const double v = x[c * P + p];
            ss += v * v;
        }
        const float norm = (float)sqrt(ss), inv = 1.0f / (norm > 1e-12f ? norm : 1e-12f); // F.normalize
        for (int64_t c = 0; c < C; c++) {
            float v = x[c * P + p] * inv * scale * gamma[c];
            if (silu) v = v / (1.0f + expf(-v));
            y[c * P + p] = v;
        }
    }
}

extern "C" int dg_cuda_channel_rmsnorm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma,
                                       int silu) {
    const int64_t C = x->shape[0], P = C ? dg_tensor_numel(x) / C : 0;
    if (P == 0) return DG_OK;
    channel_rmsnorm_kernel<<<dg_cuda_blocks(P), 256, 0, dg_cuda_stream(be)>>>(
        (float *)y->data, (const float *)x->data, (const float *)gamma->data, C, P, sqrtf((float)C), silu);
    DG_CUDA_CHECK_LAUNCH("channel_rmsnorm_kernel");
    return DG_OK;
}
