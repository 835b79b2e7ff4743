/* The backend table (ggml-style vtable). Model code allocates and computes
 * through a dg_backend and never touches tensor memory directly, so the same
 * model code runs on the CPU backend and, later, the CUDA one. Shape checks
 * live in core/ops.c; backends implement only the arithmetic. */
#ifndef DG_CORE_BACKEND_H
#define DG_CORE_BACKEND_H

#include <stddef.h>

#include "core/attention.h"
#include "core/tensor.h"

typedef enum { DG_BACKEND_CPU = 0, DG_BACKEND_CUDA = 1 } dg_backend_kind;

typedef struct dg_backend dg_backend;

/* Flags of the conv3d op. */
enum { DG_CONV_UPSAMPLE2X = 1, DG_CONV_ACCUMULATE = 2, DG_CONV_SILU = 4 };

typedef struct dg_backend_ops {
    const char *name;
    /* The backend's buffers are plain host memory, so a host array can be used in place as a tensor
     * (no upload or download); models use it to skip copies, never to pick kernels. */
    int host_memory;
    void *(*alloc)(dg_backend *be, size_t bytes);
    void (*free)(dg_backend *be, void *ptr);
    int (*upload)(dg_backend *be, void *dst, const void *host_src, size_t bytes);
    int (*download)(dg_backend *be, void *host_dst, const void *src, size_t bytes);
    /* Between two buffers of this backend, queued in order with the ops. */
    int (*copy)(dg_backend *be, void *dst, const void *src, size_t bytes);
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
    int (*sub)(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
    /* sums[0] = sum |a - b|, sums[1] = sum |b| over every element (host doubles), summed in fixed
     * chunks so the result does not depend on the thread count: a step cache's decision must not. */
    int (*abs_diff_sums)(dg_backend *be, const dg_tensor *a, const dg_tensor *b, double sums[2]);
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
    /* o[nq, heads*hd] = softmax(q k^T * scale) v per head (q, o [nq, heads*hd]; k, v [nk, heads*hd]),
     * dense or over opts->layout's blocks, then the optional SoftPAG blend; opts->lse receives the rows'
     * log-sum-exp. Online softmax (flash), f32 accumulation. */
    int (*attention)(dg_backend *be, dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v,
                     int heads, const dg_attn_opts *opts);
    /* Merge two partial attentions of the same queries over disjoint key sets, each group's logits
     * shifted by a constant bias: o = (w o + w2 o2) / (w + w2) per row and head with
     * w = exp(lse + bias), w2 = exp(lse2 + bias2); lse becomes log(w + w2). o, o2 [n, heads*hd];
     * lse, lse2 [n, heads]; a row with no key in either group stays 0 (lse -inf). */
    int (*attention_merge)(dg_backend *be, dg_tensor *o, dg_tensor *lse, const dg_tensor *o2, const dg_tensor *lse2,
                           float bias, float bias2);
    /* The backend's copy of a block layout (made once per prepared size) and its release; NULL when the
     * attention kernels read the host layout. */
    int (*layout_upload)(dg_backend *be, const dg_block_layout *l, void **copy);
    void (*layout_release)(dg_backend *be, void *copy);
    /* video VAE ops */
    /* Activations are channel-major [C, T, H, W] f32. */
    /* y[Cout,T,H',W'] = (+= if DG_CONV_ACCUMULATE) b + causal conv of v([cache[Cin,kt-1,H,W] (NULL iff kt=1),
     * x[Cin,T,H,W]]) by w[Cout,Cin,(kt,)kh,kw], odd kh, kw zero-padded. v: with a norm (gamma [Cin]),
     * x / max(||x||_2, 1e-12) * sqrt(Cin) * gamma per position (over dim 0), then SiLU if DG_CONV_SILU
     * (so a cache holds raw frames too);
     * DG_CONV_UPSAMPLE2X: read as nearest-2x upsampled (H' = 2H). Normalising as the input is read
     * spares writing and reading the normalised activation. */
    int (*conv3d)(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                  const dg_tensor *b, const dg_tensor *norm, unsigned flags);
    /* Single-head softmax attention among the H*W positions of each frame, scale 1/sqrt(C):
     * qkv[3C,T,H,W] (q, k, v = channel thirds) -> out[C,T,H,W]. */
    int (*spatial_attention)(dg_backend *be, dg_tensor *out, const dg_tensor *qkv);
    /* Causal feature cache: cache[C,n,H,W] = the last n frames of [cache, x[C,T,H,W]] along dim 1. */
    int (*cache_push)(dg_backend *be, dg_tensor *cache, const dg_tensor *x);
    /* Channel groups become frames: x[g*C,T,H,W] -> y[C,g*T,H,W], y[c, g*t+i] = x[i*C+c, t]. */
    int (*channels_to_frames)(dg_backend *be, dg_tensor *y, const dg_tensor *x);
    /* Channel groups become space-time cells (the Wan2.2 VAE's DupUp3D shortcut and unpatchify):
     * x[Cx,T,H,W] -> y[C, ft*T - drop, fs*H, fs*W] (+= if accumulate); y[c, ft*t+a-drop, fs*h+i, fs*w+j] =
     * x[(c*ft*fs*fs + a*fs*fs + s) / r, t, h, w] with s = i*fs + j (j*fs + i when col_major) and
     * r = C*ft*fs*fs / Cx (each x channel repeated r times). */
    int (*channels_to_cells)(dg_backend *be, dg_tensor *y, const dg_tensor *x, const int cells[4], int accumulate);
    /* dst[dst_at + i] = src[src_at + i] for i in the 4-D box `size` (bounds checked by dg_copy_box). */
    int (*copy_box)(dg_backend *be, dg_tensor *dst, const int64_t dst_at[4], const dg_tensor *src,
                    const int64_t src_at[4], const int64_t size[4]);
    /* Linear cross-fade along `axis` over its first n entries: y[..i..] = a[..L-n+i..] * (1 - i/n) + y[..i..] * i/n,
     * a shaped as y except along axis (L >= n entries there; its last n are used). */
    int (*blend_edge)(dg_backend *be, dg_tensor *y, const dg_tensor *a, int axis, int64_t n);
    /* y = min(max(x, lo), hi). */
    int (*clamp)(dg_backend *be, dg_tensor *y, const dg_tensor *x, float lo, float hi);
    /* Every element of y = value. */
    int (*fill)(dg_backend *be, dg_tensor *y, float value);
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
/* The CPU backend's compute type for bf16 linear weights: DG_BF16 runs them through a bf16 GEMM
 * (f32 accumulation; the default where the CPU has AVX512-BF16 and the build has oneDNN, unless
 * the environment sets DG_CPU_BF16=0), DG_F32 converts them to f32 per call. DG_BF16 is refused
 * where unsupported. f16 weights always take the f32 path. */
int dg_backend_cpu_set_dtype(dg_backend *be, dg_dtype t);
dg_dtype dg_backend_cpu_dtype(const dg_backend *be);
/* CUDA backend on `device` (one stream, one cuBLAS handle; tensors in device
 * memory). Defined only in builds with CUDA (DG_HAVE_CUDA); DG_ERR naming the
 * failing call when there is no such device. */
int dg_backend_cuda_init(dg_backend *be, int device);
/* The CUDA backend's table, readable without a device (tests check that it is complete); CUDA builds only. */
const dg_backend_ops *dg_backend_cuda_ops(void);
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
