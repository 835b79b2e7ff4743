// Elementwise ops on the GPU (grid-stride loops, 64-bit indices), the same
// formulas as the CPU twins in core/cpu/ops_cpu.c. In-place use (y == x) is
// fine: every element is read and written by the same thread.
#include "core/cuda/cuda_internal.h"
#include <stdlib.h>

// 0.5 x (1 + tanh(u)) written as x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3), as on the CPU.
static __global__ void gelu_tanh_kernel(float *y, const float *x, int64_t n) {
    const float k2 = 2.0f * 0.7978845608028654f; // 2 sqrt(2/pi)
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = x[i];
        y[i] = v / (1.0f + expf(-k2 * (v + 0.044715f * v * v * v)));
    }
}

static __global__ void silu_kernel(float *y, const float *x, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = x[i] / (1.0f + expf(-x[i]));
}

static __global__ void add_kernel(float *y, const float *a, const float *b, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = a[i] + b[i];
}

// y = x * (1 + scale[c]) + shift[c] over rows of C.
static __global__ void modulate_kernel(float *y, const float *x, const float *shift, const float *scale, int64_t n,
                                       int64_t C) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = i % C;
        y[i] = x[i] * (1.0f + scale[c]) + shift[c];
    }
}

static __global__ void sub_kernel(float *y, const float *a, const float *b, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = a[i] - b[i];
}

// One block per chunk of ABS_DIFF_CHUNK elements, as the CPU op's chunks: a fixed reduction order.
#define ABS_DIFF_CHUNK 16384
static __global__ void abs_diff_sums_kernel(float *part, const float *a, const float *b, int64_t n) {
    __shared__ float sd[256], sm[256];
    const int64_t begin = blockIdx.x * (int64_t)ABS_DIFF_CHUNK;
    const int64_t end = begin + ABS_DIFF_CHUNK < n ? begin + ABS_DIFF_CHUNK : n;
    float d = 0.0f, m = 0.0f;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
        d += fabsf(a[i] - b[i]);
        m += fabsf(b[i]);
    }
    sd[threadIdx.x] = d, sm[threadIdx.x] = m;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) sd[threadIdx.x] += sd[threadIdx.x + s], sm[threadIdx.x] += sm[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) part[2 * blockIdx.x] = sd[0], part[2 * blockIdx.x + 1] = sm[0];
}

// h += x * gate[c] (gate NULL: h += x).
static __global__ void gated_add_kernel(float *h, const float *x, const float *gate, int64_t n, int64_t C) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        h[i] += gate ? x[i] * gate[i % C] : x[i];
}

extern "C" int dg_cuda_gelu_tanh(dg_backend *be, dg_tensor *y, const dg_tensor *x) {
    const int64_t n = dg_tensor_numel(x);
    if (n == 0) return DG_OK;
    gelu_tanh_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>((float *)y->data, (const float *)x->data, n);
    DG_CUDA_CHECK_LAUNCH("gelu_tanh_kernel");
    return DG_OK;
}

extern "C" int dg_cuda_silu(dg_backend *be, dg_tensor *y, const dg_tensor *x) {
    const int64_t n = dg_tensor_numel(x);
    if (n == 0) return DG_OK;
    silu_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>((float *)y->data, (const float *)x->data, n);
    DG_CUDA_CHECK_LAUNCH("silu_kernel");
    return DG_OK;
}

extern "C" int dg_cuda_add(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b) {
    const int64_t n = dg_tensor_numel(y);
    if (n == 0) return DG_OK;
    add_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>((float *)y->data, (const float *)a->data,
                                                                   (const float *)b->data, n);
    DG_CUDA_CHECK_LAUNCH("add_kernel");
    return DG_OK;
}

extern "C" int dg_cuda_sub(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b) {
    const int64_t n = dg_tensor_numel(y);
    if (n == 0) return DG_OK;
    sub_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>((float *)y->data, (const float *)a->data,
                                                                   (const float *)b->data, n);
    DG_CUDA_CHECK_LAUNCH("sub_kernel");
    return DG_OK;
}

extern "C" int dg_cuda_abs_diff_sums(dg_backend *be, const dg_tensor *a, const dg_tensor *b, double sums[2]) {
    const int64_t n = dg_tensor_numel(a), chunks = (n + ABS_DIFF_CHUNK - 1) / ABS_DIFF_CHUNK;
    sums[0] = sums[1] = 0.0;
    if (n == 0) return DG_OK;
    DG_CHECK(chunks <= 0x7fffffff, "abs_diff_sums: %lld elements are too many", (long long)n);
    void *dev;
    DG_TRY(dg_cuda_scratch(be, (size_t)chunks * 2 * sizeof(float), &dev));
    float *host = (float *)malloc((size_t)chunks * 2 * sizeof(float));
    DG_CHECK_ALLOC(host);
    abs_diff_sums_kernel<<<(unsigned)chunks, 256, 0, dg_cuda_stream(be)>>>((float *)dev, (const float *)a->data,
                                                                           (const float *)b->data, n);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaMemcpyAsync(host, dev, (size_t)chunks * 2 * sizeof(float), cudaMemcpyDeviceToHost,
                                              dg_cuda_stream(be));
    if (e == cudaSuccess) e = cudaStreamSynchronize(dg_cuda_stream(be));
    if (e != cudaSuccess) {
        free(host);
        return dg_error("abs_diff_sums over %lld elements failed: %s", (long long)n, cudaGetErrorString(e));
    }
    for (int64_t c = 0; c < chunks; c++) sums[0] += host[2 * c], sums[1] += host[2 * c + 1];
    free(host);
    return DG_OK;
}

extern "C" int dg_cuda_modulate(dg_backend *be, dg_tensor *y, const dg_tensor *x, const float *shift,
                                const float *scale) {
    const int64_t n = dg_tensor_numel(x), C = x->shape[x->ndim - 1];
    if (n == 0) return DG_OK;
    modulate_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>((float *)y->data, (const float *)x->data,
                                                                        shift, scale, n, C);
    DG_CUDA_CHECK_LAUNCH("modulate_kernel");
    return DG_OK;
}

extern "C" int dg_cuda_gated_add(dg_backend *be, dg_tensor *h, const dg_tensor *x, const float *gate) {
    const int64_t n = dg_tensor_numel(x), C = x->shape[x->ndim - 1];
    if (n == 0) return DG_OK;
    gated_add_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>((float *)h->data, (const float *)x->data,
                                                                         gate, n, C);
    DG_CUDA_CHECK_LAUNCH("gated_add_kernel");
    return DG_OK;
}

// ---- text-encoder ops ----

static __global__ void mul_kernel(float *y, const float *a, const float *b, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = a[i] * b[i];
}

static __global__ void relu_kernel(float *y, const float *x, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

extern "C" int dg_cuda_mul(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b) {
    const int64_t n = dg_tensor_numel(y);
    if (n == 0) return DG_OK;
    mul_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>((float *)y->data, (const float *)a->data,
                                                                   (const float *)b->data, n);
    DG_CUDA_CHECK_LAUNCH("mul_kernel");
    return DG_OK;
}

extern "C" int dg_cuda_relu(dg_backend *be, dg_tensor *y, const dg_tensor *x) {
    const int64_t n = dg_tensor_numel(y);
    if (n == 0) return DG_OK;
    relu_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>((float *)y->data, (const float *)x->data, n);
    DG_CUDA_CHECK_LAUNCH("relu_kernel");
    return DG_OK;
}
