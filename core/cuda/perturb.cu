// SoftPAG per-head perturbation on the GPU (twin of core/cpu/attention_perturb.c):
// o_h = (1-u) o_h + u v_h, one launch per perturbed head so u = 0 heads stay
// bit-identical and the weights need no device copy.
#include <stdint.h>

#include <cuda_runtime.h>

#include "core/cuda/cuda_internal.h"

static __global__ void perturb_kernel(float *o, const float *v, int64_t nq, int D, int64_t q_stride,
                                      int64_t kv_stride, int64_t off, float u) {
    const float keep = 1.0f - u;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < nq * D; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t n = i / D, c = i % D;
        float *oh = o + n * q_stride + off + c;
        *oh = keep * *oh + u * v[n * kv_stride + off + c];
    }
}

extern "C" int dg_cuda_perturb_heads(dg_backend *be, float *o, const float *v, const dg_attn_shape *s,
                                     const float *u) {
    const int64_t n = s->nq * s->head_dim, blocks = (n + 255) / 256;
    for (int h = 0; h < s->heads; h++) {
        if (u[h] == 0.0f) continue;
        perturb_kernel<<<(unsigned)(blocks < 65536 ? blocks : 65536), 256, 0, dg_cuda_stream(be)>>>(o, v, s->nq, s->head_dim, s->q_stride,
                                                                          s->kv_stride, (int64_t)h * s->head_dim, u[h]);
        DG_CUDA_CHECK_LAUNCH("perturb_kernel");
    }
    return DG_OK;
}
