// Row norms on the GPU: one 256-thread block per row, f32 accumulation with
// warp-shuffle reductions. Two passes over the row (mean, then centred sum of
// squares) as the CPU twin does, so large means do not cancel.
#include "core/cuda/cuda_internal.h"

#define NORM_THREADS 256

// Sum of v over the block; every thread gets the result.
static __device__ float block_sum(float v, float *shared) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads(); // shared may still be read from a previous call
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < NORM_THREADS / 32 ? shared[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// gamma/beta may be NULL; their dtypes are passed as ints (dg_dtype).
static __global__ void layernorm_kernel(float *y, const float *x, int64_t C, const void *gamma, int gt,
                                        const void *beta, int bt, float eps) {
    __shared__ float shared[NORM_THREADS / 32];
    const float *xr = x + (int64_t)blockIdx.x * C;
    float *yr = y + (int64_t)blockIdx.x * C;
    float s = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += NORM_THREADS) s += xr[c];
    const float mean = block_sum(s, shared) / (float)C;
    float s2 = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += NORM_THREADS) {
        float d = xr[c] - mean;
        s2 += d * d;
    }
    const float inv = rsqrtf(block_sum(s2, shared) / (float)C + eps);
    for (int64_t c = threadIdx.x; c < C; c += NORM_THREADS) {
        float v = (xr[c] - mean) * inv;
        if (gamma) v *= dg_cuda_load(gamma, gt, c);
        if (beta) v += dg_cuda_load(beta, bt, c);
        yr[c] = v;
    }
}

static __global__ void rmsnorm_kernel(float *y, const float *x, int64_t C, const void *gamma, int gt, float eps) {
    __shared__ float shared[NORM_THREADS / 32];
    const float *xr = x + (int64_t)blockIdx.x * C;
    float *yr = y + (int64_t)blockIdx.x * C;
    float s2 = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += NORM_THREADS) s2 += xr[c] * xr[c];
    const float inv = rsqrtf(block_sum(s2, shared) / (float)C + eps);
    for (int64_t c = threadIdx.x; c < C; c += NORM_THREADS)
        yr[c] = gamma ? xr[c] * inv * dg_cuda_load(gamma, gt, c) : xr[c] * inv;
}

extern "C" int dg_cuda_layernorm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma,
                                 const dg_tensor *beta, float eps) {
    const int64_t rows = dg_tensor_rows(x), C = x->shape[x->ndim - 1];
    if (rows == 0 || C == 0) return DG_OK;
    DG_CHECK(rows <= INT32_MAX, "layernorm: %lld rows exceed the grid", (long long)rows);
    layernorm_kernel<<<(unsigned)rows, NORM_THREADS, 0, dg_cuda_stream(be)>>>(
        (float *)y->data, (const float *)x->data, C, gamma ? gamma->data : NULL, gamma ? (int)gamma->dtype : 0,
        beta ? beta->data : NULL, beta ? (int)beta->dtype : 0, eps);
    DG_CUDA_CHECK_LAUNCH("layernorm_kernel");
    return DG_OK;
}

extern "C" int dg_cuda_rmsnorm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, float eps) {
    const int64_t rows = dg_tensor_rows(x), C = x->shape[x->ndim - 1];
    if (rows == 0 || C == 0) return DG_OK;
    DG_CHECK(rows <= INT32_MAX, "rmsnorm: %lld rows exceed the grid", (long long)rows);
    rmsnorm_kernel<<<(unsigned)rows, NORM_THREADS, 0, dg_cuda_stream(be)>>>(
        (float *)y->data, (const float *)x->data, C, gamma ? gamma->data : NULL, gamma ? (int)gamma->dtype : 0, eps);
    DG_CUDA_CHECK_LAUNCH("rmsnorm_kernel");
    return DG_OK;
}
