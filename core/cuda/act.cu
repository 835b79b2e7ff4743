// Elementwise ops on the GPU (grid-stride loops, 64-bit indices), the same
// formulas as the CPU twins in core/cpu/ops_cpu.c. In-place use (y == x) is
// fine: every element is read and written by the same thread.
#include "core/cuda/cuda_internal.h"

static __global__ void gelu_tanh_kernel(float *y, const float *x, int64_t n) {
    const float k = 0.7978845608028654f; // sqrt(2/pi)
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
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
