// y[M, N] = x[M, K] . w[N, K]^T + b[N] through cuBLAS. Row-major y^T = w x^T
// is column-major y = op(w) x with op = transpose, so one GEMM call:
//   gemm(T, N, m=N, n=M, k=K, A=w (lda K), B=x (ldb K), C=y (ldc N)).
// f32 weights: cublasSgemm (no TF32, see backend_cuda.c). bf16/f16 weights:
// x is converted to the weight's type in the backend scratch and
// cublasGemmEx multiplies 16-bit x 16-bit with f32 accumulation and f32
// output; f16 conversion saturates at +-65504 instead of overflowing to inf.
// The bias is written into y first and the GEMM adds to it (beta = 1), as the
// CPU twin does.
#include "core/cuda/cuda_internal.h"

static __global__ void fill_bias_kernel(float *y, const void *b, int bt, int64_t n, int64_t N) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = dg_cuda_load(b, bt, i % N);
}

static __global__ void to_bf16_kernel(__nv_bfloat16 *dst, const float *src, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}

static __global__ void to_f16_kernel(__half *dst, const float *src, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = __float2half_rn(fminf(fmaxf(src[i], -65504.0f), 65504.0f));
}

extern "C" int dg_cuda_linear(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *w,
                              const dg_tensor *b) {
    dg_cuda_ctx *c = (dg_cuda_ctx *)be->ctx;
    const int64_t M = dg_tensor_rows(x), K = w->shape[1], N = w->shape[0];
    DG_CHECK(M <= INT32_MAX && N <= INT32_MAX && K <= INT32_MAX, "linear: %lldx%lldx%lld exceeds cuBLAS int sizes",
             (long long)M, (long long)N, (long long)K);
    if (M == 0 || N == 0) return DG_OK;
    float *yd = (float *)y->data;
    if (b) {
        fill_bias_kernel<<<dg_cuda_blocks(M * N), 256, 0, c->stream>>>(yd, b->data, (int)b->dtype, M * N, N);
        DG_CUDA_CHECK_LAUNCH("fill_bias_kernel");
    }
    const float alpha = 1.0f, beta = b ? 1.0f : 0.0f;
    if (K == 0) { // empty sum: y = bias (or 0)
        if (!b) DG_CUDA_CHECK(cudaMemsetAsync(yd, 0, (size_t)(M * N) * sizeof(float), c->stream));
        return DG_OK;
    }
    if (w->dtype == DG_F32) {
        DG_CUBLAS_CHECK(cublasSgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, (int)M, (int)K, &alpha,
                                    (const float *)w->data, (int)K, (const float *)x->data, (int)K, &beta, yd, (int)N));
        return DG_OK;
    }
    DG_CHECK(w->dtype == DG_BF16 || w->dtype == DG_F16, "linear: weight %s has unsupported dtype %s",
             w->name ? w->name : "", dg_dtype_name(w->dtype));
    void *xs;
    DG_TRY(dg_cuda_scratch(be, (size_t)(M * K) * 2, &xs));
    const int64_t n = M * K;
    cudaDataType_t t;
    if (w->dtype == DG_BF16) {
        to_bf16_kernel<<<dg_cuda_blocks(n), 256, 0, c->stream>>>((__nv_bfloat16 *)xs, (const float *)x->data, n);
        DG_CUDA_CHECK_LAUNCH("to_bf16_kernel");
        t = CUDA_R_16BF;
    } else {
        to_f16_kernel<<<dg_cuda_blocks(n), 256, 0, c->stream>>>((__half *)xs, (const float *)x->data, n);
        DG_CUDA_CHECK_LAUNCH("to_f16_kernel");
        t = CUDA_R_16F;
    }
    DG_CUBLAS_CHECK(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, (int)M, (int)K, &alpha, w->data, t, (int)K,
                                 xs, t, (int)K, &beta, yd, CUDA_R_32F, (int)N, CUBLAS_COMPUTE_32F,
                                 CUBLAS_GEMM_DEFAULT));
    return DG_OK;
}
