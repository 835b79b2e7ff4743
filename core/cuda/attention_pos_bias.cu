// Attention with an additive relative-position bias and key bias (T5 family;
// semantics in core/backend.h), in three steps on the backend stream with the
// scores of all heads [heads, nq, nk] in the backend scratch:
//   1. S_h = Q_h K_h^T, one strided-batched cuBLAS GEMM over the heads;
//   2. one block per score row: (scale s + pos_bias) + key_bias, softmax in place
//      (same order of operations as the CPU twin);
//   3. O_h = P_h V_h, a second strided-batched GEMM writing o's head columns.
// Row-major [rows, heads*d] with head h at column h*d is, per head, a
// column-major d x rows matrix with leading dimension heads*d; so
//   S^T (col-major nk x nq, ld nk)  = K_h^T-view^T . Q_h-view : gemm(T, N, nk, nq, d)
//   O_h^T (col-major d x nq, ld hd) = V_h-view . S^T          : gemm(N, N, d, nq, nk)
// The scratch holds heads*nq*nk floats (64 MiB for umT5's 64 heads at 512 tokens).
#include <math.h>

#include "core/cuda/cuda_internal.h"

#define SOFTMAX_THREADS 256

// Block-wide reduction of v (max when is_max, else sum); every thread gets the result.
static __device__ float block_reduce(float v, bool is_max, float *red) {
    red[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) {
            float o = red[threadIdx.x + s];
            red[threadIdx.x] = is_max ? fmaxf(red[threadIdx.x], o) : red[threadIdx.x] + o;
        }
        __syncthreads();
    }
    float r = red[0];
    __syncthreads(); // red is reused by the next reduction
    return r;
}

// Row (h, i) = blockIdx.x = h * nq + i of s [heads, nq, nk].
static __global__ void softmax_pos_bias_kernel(float *s, const float *pos, const float *key, int64_t nq, int64_t nk,
                                               int heads, float scale) {
    __shared__ float red[SOFTMAX_THREADS];
    const int64_t row = blockIdx.x, h = row / nq, i = row % nq;
    float *sr = s + row * nk;
    float mx = -INFINITY;
    for (int64_t j = threadIdx.x; j < nk; j += blockDim.x) {
        float x = scale * sr[j];
        if (pos) x += pos[(j - i + nq - 1) * heads + h];
        if (key) x += key[j];
        sr[j] = x;
        mx = fmaxf(mx, x);
    }
    mx = block_reduce(mx, true, red);
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < nk; j += blockDim.x) {
        float e = expf(sr[j] - mx);
        sr[j] = e;
        sum += e;
    }
    sum = block_reduce(sum, false, red);
    for (int64_t j = threadIdx.x; j < nk; j += blockDim.x) sr[j] /= sum;
}

extern "C" int dg_cuda_attention_pos_bias(dg_backend *be, dg_tensor *o, const dg_tensor *q, const dg_tensor *k,
                                          const dg_tensor *v, const dg_tensor *pos_bias, const dg_tensor *key_bias,
                                          int heads, float scale) {
    dg_cuda_ctx *c = (dg_cuda_ctx *)be->ctx;
    const int64_t nq = q->shape[0], nk = k->shape[0], ld = q->shape[1], d = ld / heads;
    if (nq == 0) return DG_OK;
    const int64_t scores = (int64_t)heads * nq * nk;
    DG_CHECK(nq <= INT32_MAX && nk <= INT32_MAX && ld <= INT32_MAX && nq * nk <= INT32_MAX && scores <= INT32_MAX,
             "attention_pos_bias: %d heads x %lld x %lld scores exceed cuBLAS int sizes", heads, (long long)nq,
             (long long)nk);
    float *s;
    DG_TRY(dg_cuda_scratch(be, (size_t)scores * sizeof(float), (void **)&s));
    const float one = 1.0f, zero = 0.0f;
    const float *qd = (const float *)q->data, *kd = (const float *)k->data, *vd = (const float *)v->data;
    DG_CUBLAS_CHECK(cublasSgemmStridedBatched(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)nk, (int)nq, (int)d, &one, kd,
                                              (int)ld, d, qd, (int)ld, d, &zero, s, (int)nk, nq * nk, heads));
    softmax_pos_bias_kernel<<<(unsigned)(heads * nq), SOFTMAX_THREADS, 0, c->stream>>>(
        s, pos_bias ? (const float *)pos_bias->data : NULL, key_bias ? (const float *)key_bias->data : NULL, nq, nk,
        heads, scale);
    DG_CUDA_CHECK_LAUNCH("softmax_pos_bias_kernel");
    DG_CUBLAS_CHECK(cublasSgemmStridedBatched(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)d, (int)nq, (int)nk, &one, vd,
                                              (int)ld, d, s, (int)nk, nq * nk, &zero, (float *)o->data, (int)ld, d,
                                              heads));
    return DG_OK;
}
