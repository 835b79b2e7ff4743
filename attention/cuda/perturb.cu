// SoftPAG per-head perturbation on the GPU (twin of attention/perturb.c):
// o_h = (1-u) o_h + u v_h, one launch per perturbed head so u = 0 heads stay
// bit-identical and the weights need no device copy.
#include <stdint.h>

#include <cuda_runtime.h>

#include "attention/cuda/attention_cuda.h"

extern "C" {
#include "core/error.h"
}

static __global__ void perturb_kernel(float *o, const float *v, int64_t nq, int D, int64_t q_stride,
                                      int64_t kv_stride, int64_t off, float u) {
    const float keep = 1.0f - u;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < nq * D; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t n = i / D, c = i % D;
        float *oh = o + n * q_stride + off + c;
        *oh = keep * *oh + u * v[n * kv_stride + off + c];
    }
}

extern "C" int dg_attn_perturb_heads_cuda(float *o, const float *v, const dg_attn_shape *s, const float *u) {
    DG_TRY(dg_attn_shape_check(s));
    DG_CHECK(o && v && u, "perturb heads (cuda): null input");
    const int64_t n = s->nq * s->head_dim, blocks = (n + 255) / 256;
    for (int h = 0; h < s->heads; h++) {
        if (u[h] == 0.0f) continue;
        perturb_kernel<<<(unsigned)(blocks < 65536 ? blocks : 65536), 256>>>(o, v, s->nq, s->head_dim, s->q_stride,
                                                                          s->kv_stride, (int64_t)h * s->head_dim, u[h]);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess)
            return dg_error("%s:%d: launching perturb_kernel failed: %s", __FILE__, __LINE__, cudaGetErrorString(e));
    }
    return DG_OK;
}
