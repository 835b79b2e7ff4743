// Merge of two partial attentions by log-sum-exp (twin of dg_cpu_attention_merge):
// one thread per (row, head), looping over the head's channels.
#include <math.h>

#include "core/cuda/cuda_internal.h"

static __global__ void merge_kernel(float *o, float *lse, const float *o2, const float *lse2, int64_t n, int64_t heads,
                                    int64_t hd, float bias, float bias2) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n * heads;
         t += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = t / heads, h = t % heads;
        const float a = lse[t] + bias, b = lse2[t] + bias2, m = fmaxf(a, b);
        float *oi = o + i * heads * hd + h * hd;
        const float *o2i = o2 + i * heads * hd + h * hd;
        if (m == -INFINITY) {
            for (int64_t c = 0; c < hd; c++) oi[c] = 0.0f;
            lse[t] = -INFINITY;
            continue;
        }
        const float wa = expf(a - m), wb = expf(b - m), inv = 1.0f / (wa + wb);
        for (int64_t c = 0; c < hd; c++) oi[c] = (wa * oi[c] + wb * o2i[c]) * inv;
        lse[t] = m + logf(wa + wb);
    }
}

extern "C" int dg_cuda_attention_merge(dg_backend *be, dg_tensor *o, dg_tensor *lse, const dg_tensor *o2,
                                       const dg_tensor *lse2, float bias, float bias2) {
    const int64_t n = o->shape[0], heads = lse->shape[1], hd = o->shape[1] / heads;
    merge_kernel<<<dg_cuda_blocks(n * heads), 256, 0, dg_cuda_stream(be)>>>(
        (float *)o->data, (float *)lse->data, (const float *)o2->data, (const float *)lse2->data, n, heads, hd, bias,
        bias2);
    DG_CUDA_CHECK_LAUNCH("merge_kernel");
    return DG_OK;
}
