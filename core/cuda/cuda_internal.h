/* Shared by the CUDA backend's C file and its .cu op families: the backend
 * context, the check macros and the extern "C" op entry points (one .cu per
 * family). Included from C11 and from CUDA C++. */
#ifndef DG_CORE_CUDA_CUDA_INTERNAL_H
#define DG_CORE_CUDA_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/backend.h"
#include "core/error.h"

typedef struct dg_cuda_ctx {
    int device;
    cudaStream_t stream; /* created blocking: ordered with the legacy default stream */
    cublasHandle_t blas;
    void *scratch;       /* device scratch (activations converted for bf16/f16 GEMMs), grown on demand */
    size_t scratch_bytes;
} dg_cuda_ctx;

/* A failing CUDA runtime call: record "file:line: call failed: reason", return DG_ERR. */
#define DG_CUDA_CHECK(call)                                                                       \
    do {                                                                                          \
        cudaError_t dg_e_ = (call);                                                               \
        if (dg_e_ != cudaSuccess)                                                                 \
            return dg_error("%s:%d: %s failed: %s", __FILE__, __LINE__, #call,                    \
                            cudaGetErrorString(dg_e_));                                           \
    } while (0)

#define DG_CUBLAS_CHECK(call)                                                                     \
    do {                                                                                          \
        cublasStatus_t dg_s_ = (call);                                                            \
        if (dg_s_ != CUBLAS_STATUS_SUCCESS)                                                       \
            return dg_error("%s:%d: %s failed: %s", __FILE__, __LINE__, #call,                    \
                            cublasGetStatusString(dg_s_));                                        \
    } while (0)

/* After a kernel launch: a bad launch configuration names the kernel. */
#define DG_CUDA_CHECK_LAUNCH(kernel)                                                              \
    do {                                                                                          \
        cudaError_t dg_e_ = cudaGetLastError();                                                   \
        if (dg_e_ != cudaSuccess)                                                                 \
            return dg_error("%s:%d: launching %s failed: %s", __FILE__, __LINE__, kernel,         \
                            cudaGetErrorString(dg_e_));                                           \
    } while (0)

/* Device scratch of at least `bytes` (contents undefined; valid until the next call). */
int dg_cuda_scratch(dg_backend *be, size_t bytes, void **out);

/* The backend table's arithmetic (shapes already checked in core/ops.c). */
int dg_cuda_linear(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *w, const dg_tensor *b);
int dg_cuda_layernorm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma,
                      const dg_tensor *beta, float eps);
int dg_cuda_rmsnorm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, float eps);
int dg_cuda_gelu_tanh(dg_backend *be, dg_tensor *y, const dg_tensor *x);
int dg_cuda_silu(dg_backend *be, dg_tensor *y, const dg_tensor *x);
int dg_cuda_add(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
int dg_cuda_modulate(dg_backend *be, dg_tensor *y, const dg_tensor *x, const float *shift, const float *scale);
int dg_cuda_gated_add(dg_backend *be, dg_tensor *h, const dg_tensor *x, const float *gate);
int dg_cuda_rope(dg_backend *be, dg_tensor *x, const dg_tensor *cos, const dg_tensor *sin);
int dg_cuda_patchify(dg_backend *be, dg_tensor *y, const dg_tensor *x, const int patch[3]);
int dg_cuda_unpatchify(dg_backend *be, dg_tensor *x, const dg_tensor *y, const int patch[3]);
/* text-encoder ops */
int dg_cuda_mul(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
int dg_cuda_relu(dg_backend *be, dg_tensor *y, const dg_tensor *x);
int dg_cuda_gather_rows(dg_backend *be, dg_tensor *y, const dg_tensor *table, const int32_t *rows);
int dg_cuda_attention_pos_bias(dg_backend *be, dg_tensor *o, const dg_tensor *q, const dg_tensor *k,
                               const dg_tensor *v, const dg_tensor *pos_bias, const dg_tensor *key_bias, int heads,
                               float scale);

#ifdef __cplusplus
}
#endif

#ifdef __CUDACC__
#include <cuda_bf16.h>
#include <cuda_fp16.h>

static inline cudaStream_t dg_cuda_stream(dg_backend *be) { return ((dg_cuda_ctx *)be->ctx)->stream; }

/* Element i of a vector stored as f32, bf16 or f16 (gamma, beta, bias). */
static __device__ __forceinline__ float dg_cuda_load(const void *p, int dtype, int64_t i) {
    if (dtype == DG_BF16) return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    if (dtype == DG_F16) return __half2float(((const __half *)p)[i]);
    return ((const float *)p)[i];
}

/* Blocks for a grid-stride loop over n elements at 256 threads. */
static inline unsigned dg_cuda_blocks(int64_t n) {
    int64_t b = (n + 255) / 256;
    return (unsigned)(b < 1 ? 1 : b > 65536 ? 65536 : b);
}
#endif

#endif
