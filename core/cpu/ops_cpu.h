/* CPU implementations of the backend table (shapes already checked in core/ops.c). */
#ifndef DG_CORE_CPU_OPS_CPU_H
#define DG_CORE_CPU_OPS_CPU_H

#include "core/backend.h"
#include "core/cpu/gemm_bf16.h"

typedef struct dg_cpu_ctx {
    float *scratch; /* f32 copy of a bf16/f16 weight, reused across linears */
    size_t scratch_len;
    float *work; /* video VAE ops' workspace (core/cpu/video_cpu.h), kept between calls */
    size_t work_len;
    dg_dtype compute;   /* DG_BF16: bf16 weights through the bf16 GEMM; DG_F32: converted per call */
    dg_bf16_gemm *gemm; /* made at the first bf16 linear */
} dg_cpu_ctx;

int dg_cpu_linear(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *w, const dg_tensor *b);
int dg_cpu_layernorm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma,
                     const dg_tensor *beta, float eps);
int dg_cpu_rmsnorm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, float eps);
int dg_cpu_gelu_tanh(dg_backend *be, dg_tensor *y, const dg_tensor *x);
int dg_cpu_silu(dg_backend *be, dg_tensor *y, const dg_tensor *x);
int dg_cpu_add(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
int dg_cpu_sub(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
int dg_cpu_abs_diff_sums(dg_backend *be, const dg_tensor *a, const dg_tensor *b, double sums[2]);
int dg_cpu_modulate(dg_backend *be, dg_tensor *y, const dg_tensor *x, const float *shift, const float *scale);
int dg_cpu_gated_add(dg_backend *be, dg_tensor *h, const dg_tensor *x, const float *gate);
int dg_cpu_rope(dg_backend *be, dg_tensor *x, const dg_tensor *cos, const dg_tensor *sin);
int dg_cpu_patchify(dg_backend *be, dg_tensor *y, const dg_tensor *x, const int patch[3]);
int dg_cpu_unpatchify(dg_backend *be, dg_tensor *x, const dg_tensor *y, const int patch[3]);
int dg_cpu_attention_merge(dg_backend *be, dg_tensor *o, dg_tensor *lse, const dg_tensor *o2, const dg_tensor *lse2,
                           float bias, float bias2);
int dg_cpu_attention(dg_backend *be, dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v,
                     int heads, const dg_attn_opts *opts);

/* The attention kernels on raw host memory (layout of core/attention.h), also driven directly by the
 * kernel tests and benchmarks. lse (may be NULL) receives row i, head h's natural-log sum of
 * exp(scores) at lse[i * lse_stride + h] (h counted from the first head of the pointers). */
/* Additive score bias in the dense kernel's log2 units (a bias b becomes b * log2(e)): query i, key j of
 * head h gets rel[h * rel_stride + (nk - 1 - j) + i] + key[j] (key may be NULL). The kernel reads whole
 * blocks of 64 queries, so rel_stride >= nk - 1 + round_up(nq, 64). */
typedef struct dg_attn_bias {
    const float *rel;
    int64_t rel_stride;
    const float *key;
} dg_attn_bias;
/* Dense softmax(q k^T * scale + bias) v: tiled, online softmax (flash-style), all OpenMP threads.
 * bias may be NULL. o must not overlap k or v. */
int dg_attention_dense_cpu(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                           const dg_attn_bias *bias, float *lse, int64_t lse_stride);
/* The dense kernel in bf16 (q, k, v and the probabilities rounded to bf16, f32 accumulation and
 * softmax) for models that run in bf16; only where dg_attention_bf16_cpu_supported() (a build for a
 * CPU with AVX512-BF16), else it refuses. No bias. */
int dg_attention_bf16_cpu_supported(void);
int dg_attention_dense_bf16_cpu(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                                float *lse, int64_t lse_stride);
/* The block-sparse flash engine: same numerics as the dense kernel (online softmax, OpenMP over heads x
 * query blocks); with block_k = 128, every block listed and no permutation it equals the dense kernel
 * bit for bit. Needs
 * nq = nk = l->n. Rows with no allowed key produce zeros (lse -inf). */
int dg_attention_sparse_cpu(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                            const dg_block_layout *l, float *lse, int64_t lse_stride);
/* The engine in bf16, with the dense bf16 kernel's numerics (with block_k = 128, every block listed and
 * no permutation it equals dg_attention_dense_bf16_cpu bit for bit); refused where that kernel is
 * absent. */
int dg_attention_sparse_bf16_cpu(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                                 const dg_block_layout *l, float *lse, int64_t lse_stride);
/* Per-head perturbation post-op (SoftPAG): out_h = (1-u) out_h + u V_h for heads with u != 0 (one weight
 * per head of s). */
void dg_attn_perturb_heads(float *o, const float *v, const dg_attn_shape *s, const float *u);
/* text-encoder ops */
int dg_cpu_mul(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
int dg_cpu_relu(dg_backend *be, dg_tensor *y, const dg_tensor *x);
int dg_cpu_gather_rows(dg_backend *be, dg_tensor *y, const dg_tensor *table, const int32_t *rows);
int dg_cpu_attention_pos_bias(dg_backend *be, dg_tensor *o, const dg_tensor *q, const dg_tensor *k,
                              const dg_tensor *v, const dg_tensor *pos_bias, const dg_tensor *key_bias, int heads,
                              float scale);

#endif
