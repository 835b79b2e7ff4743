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
    cudaStream_t stream; /* every op and kernel of the backend runs on it */
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
int dg_cuda_sub(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
int dg_cuda_abs_diff_sums(dg_backend *be, const dg_tensor *a, const dg_tensor *b, double sums[2]);
int dg_cuda_modulate(dg_backend *be, dg_tensor *y, const dg_tensor *x, const float *shift, const float *scale);
int dg_cuda_gated_add(dg_backend *be, dg_tensor *h, const dg_tensor *x, const float *gate);
int dg_cuda_rope(dg_backend *be, dg_tensor *x, const dg_tensor *cos, const dg_tensor *sin);
int dg_cuda_patchify(dg_backend *be, dg_tensor *y, const dg_tensor *x, const int patch[3]);
int dg_cuda_unpatchify(dg_backend *be, dg_tensor *x, const dg_tensor *y, const int patch[3]);
/* Tensor-core flash attention (bf16 products, f32 softmax and accumulation: ~1e-3 relative error
 * against the f32 CPU kernels); head_dim a multiple of 4 up to 128. */
int dg_cuda_attention(dg_backend *be, dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v,
                      int heads, const dg_attn_opts *opts);
int dg_cuda_attention_merge(dg_backend *be, dg_tensor *o, dg_tensor *lse, const dg_tensor *o2, const dg_tensor *lse2,
                            float bias, float bias2);
int dg_cuda_layout_upload(dg_backend *be, const dg_block_layout *l, void **copy);
void dg_cuda_layout_release(dg_backend *be, void *copy);
/* o_h = (1-u[h]) o_h + u[h] v_h on device memory for the heads of s with u[h] != 0 (u on the host). */
int dg_cuda_perturb_heads(dg_backend *be, float *o, const float *v, const dg_attn_shape *s, const float *u);
/* video VAE ops */
int dg_cuda_conv3d(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                   const dg_tensor *b, const dg_tensor *norm, unsigned flags);
int dg_cuda_spatial_attention(dg_backend *be, dg_tensor *out, const dg_tensor *qkv);
int dg_cuda_cache_push(dg_backend *be, dg_tensor *cache, const dg_tensor *x);
int dg_cuda_channels_to_frames(dg_backend *be, dg_tensor *y, const dg_tensor *x);
int dg_cuda_channels_to_cells(dg_backend *be, dg_tensor *y, const dg_tensor *x, const int cells[4], int accumulate);
int dg_cuda_copy_box(dg_backend *be, dg_tensor *dst, const int64_t dst_at[4], const dg_tensor *src,
                     const int64_t src_at[4], const int64_t size[4]);
int dg_cuda_blend_edge(dg_backend *be, dg_tensor *y, const dg_tensor *a, int axis, int64_t n);
int dg_cuda_clamp(dg_backend *be, dg_tensor *y, const dg_tensor *x, float lo, float hi);
int dg_cuda_fill(dg_backend *be, dg_tensor *y, float value);
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
