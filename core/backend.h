/* The backend table (ggml-style vtable). Model code allocates and computes
 * through a dg_backend and never touches tensor memory directly, so the same
 * model code runs on the CPU backend and, later, the CUDA one. Shape checks
 * live in core/ops.c; backends implement only the arithmetic. */
#ifndef DG_CORE_BACKEND_H
#define DG_CORE_BACKEND_H

#include <stddef.h>

#include "core/tensor.h"

typedef enum { DG_BACKEND_CPU = 0, DG_BACKEND_CUDA = 1 } dg_backend_kind;

typedef struct dg_backend dg_backend;

typedef struct dg_backend_ops {
    const char *name;
    void *(*alloc)(dg_backend *be, size_t bytes);
    void (*free)(dg_backend *be, void *ptr);
    int (*upload)(dg_backend *be, void *dst, const void *host_src, size_t bytes);
    int (*download)(dg_backend *be, void *host_dst, const void *src, size_t bytes);
    /* Release the backend's private state (be->ctx and what it holds); called by dg_backend_free. */
    void (*destroy)(dg_backend *be);
    /* Wait for the queued work to finish (timers, memory figures); NULL when ops run synchronously. */
    int (*sync)(dg_backend *be);
    /* y[M,out] = x[M,in] . w[out,in]^T + b[out]; w may be f32, bf16 or f16. */
    int (*linear)(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *w, const dg_tensor *b);
    /* Row-wise over the last dim; gamma/beta may be NULL (no affine). */
    int (*layernorm)(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma,
                     const dg_tensor *beta, float eps);
    int (*rmsnorm)(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, float eps);
    int (*gelu_tanh)(dg_backend *be, dg_tensor *y, const dg_tensor *x);
    int (*silu)(dg_backend *be, dg_tensor *y, const dg_tensor *x);
    int (*add)(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
    /* y = x * (1 + scale) + shift, scale/shift of length C broadcast over rows. */
    int (*modulate)(dg_backend *be, dg_tensor *y, const dg_tensor *x, const float *shift, const float *scale);
    /* h += x * gate (gate of length C, NULL = 1). */
    int (*gated_add)(dg_backend *be, dg_tensor *h, const dg_tensor *x, const float *gate);
    /* In-place interleaved-pair rotary embedding on x[N, heads, d] with cos/sin[N, d]. */
    int (*rope)(dg_backend *be, dg_tensor *x, const dg_tensor *cos, const dg_tensor *sin);
    /* x[C,F,H,W] -> y[N, C*pt*ph*pw], token n = (f*Hp+i)*Wp+j, c slowest (conv weight order). */
    int (*patchify)(dg_backend *be, dg_tensor *y, const dg_tensor *x, const int patch[3]);
    /* y[N, pt*ph*pw*C] (C fastest) -> x[C,F,H,W]. */
    int (*unpatchify)(dg_backend *be, dg_tensor *x, const dg_tensor *y, const int patch[3]);
    /* text-encoder ops */
    /* y = a * b elementwise. */
    int (*mul)(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
    /* y = max(x, 0). */
    int (*relu)(dg_backend *be, dg_tensor *y, const dg_tensor *x);
    /* y[r, :] = table[rows[r], :] as f32 (table f32, bf16 or f16); rows: host memory, in range. */
    int (*gather_rows)(dg_backend *be, dg_tensor *y, const dg_tensor *table, const int32_t *rows);
    /* Per head h of q, o [nq, heads*d] and k, v [nk, heads*d]: o_i = sum_j p_ij v_j with p_i =
     * softmax_j((scale q_i.k_j + pos_bias[j - i + nq - 1, h]) + key_bias[j]); pos_bias [nq+nk-1, heads]
     * (T5 relative-position bias, gathered from its bucket table) and key_bias [nk] (padding: 0 or
     * -FLT_MAX) may be NULL. */
    int (*attention_pos_bias)(dg_backend *be, dg_tensor *o, const dg_tensor *q, const dg_tensor *k,
                              const dg_tensor *v, const dg_tensor *pos_bias, const dg_tensor *key_bias, int heads,
                              float scale);
} dg_backend_ops;

struct dg_backend {
    dg_backend_kind kind;
    const dg_backend_ops *ops;
    int threads;
    void *ctx; /* backend-private state */
};

/* CPU backend: OpenBLAS GEMM, OpenMP threads (threads <= 0: all cores). */
int dg_backend_cpu_init(dg_backend *be, int threads);
/* CUDA backend on `device` (one stream, one cuBLAS handle; tensors in device
 * memory). Defined only in builds with CUDA (DG_HAVE_CUDA); DG_ERR naming the
 * failing call when there is no such device. */
int dg_backend_cuda_init(dg_backend *be, int device);
/* By name: NULL or "cpu" (threads as dg_backend_cpu_init), "cuda" or "cuda:N".
 * Unknown names, and cuda in a build without CUDA, are refused. */
int dg_backend_init_device(dg_backend *be, const char *device, int threads);
/* Device memory in use on the backend's GPU (all processes) and its total;
 * refused on other backends and in builds without CUDA. */
int dg_backend_cuda_memory(dg_backend *be, size_t *used, size_t *total);
int dg_backend_sync(dg_backend *be);
void dg_backend_free(dg_backend *be);

/* Allocate a tensor in backend memory (caller frees with dg_tensor_free). */
int dg_tensor_alloc(dg_tensor *t, dg_backend *be, dg_dtype dtype, int ndim, const int64_t *shape);
void dg_tensor_free(dg_tensor *t);
int dg_tensor_upload(dg_tensor *t, const void *host);
int dg_tensor_download(const dg_tensor *t, void *host);

#endif
