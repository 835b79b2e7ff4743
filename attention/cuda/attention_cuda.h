/* Attention on the GPU: FlashAttention-2 style forward with bf16 tensor-core
 * products (mma.sync m16n8k16) and f32 softmax/accumulation.
 *
 * All float pointers are device pointers in the layout of attention.h
 * (tokens-major, heads interleaved, strides in floats). q, k, v and o must be
 * 16-byte aligned and q_stride, kv_stride multiples of 4 (true for tensors
 * from the CUDA backend and its arena); head_dim a multiple of 4 up to 128
 * (64 and 128 are the kernel's sizes; smaller ones run zero-padded to the
 * next). o must not overlap k or v (o == q is fine).
 *
 * Numerics: q (pre-multiplied by scale*log2 e), k, v and the softmax
 * probabilities are rounded to bf16 inside the kernel; scores, the running
 * max/sum and the output accumulate in f32. Expect ~1e-3 relative error
 * against the f32 CPU kernels, not float rounding.
 *
 * Stream: the kernels run on the legacy default stream, which is ordered with
 * the CUDA backend's stream (created blocking), so backend ops before and
 * after a call see its inputs and output in order. Calls return before the
 * kernel ends; launch errors are reported here, faults at the next sync
 * (e.g. a backend download). Nothing is allocated except, for the sparse
 * variant, a stream-ordered copy of the layout (see below). */
#ifndef DG_ATTENTION_CUDA_ATTENTION_CUDA_H
#define DG_ATTENTION_CUDA_ATTENTION_CUDA_H

#ifdef __cplusplus
extern "C" {
#endif

#include "attention/attention.h"
#include "attention/method.h"

/* Dense softmax(q k^T * scale) v, any nq and nk >= 1 (cross-attention). */
int dg_attention_dense_cuda(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s);

/* Block-sparse variant: l is the HOST layout (attention/method.h); its arrays
 * (perm, CSR key-block lists, partial-block masks) are copied to the device
 * on every call (cudaMallocAsync/cudaMemcpyAsync, freed stream-ordered), so
 * the caller needs no GPU copy. Same numerics as the dense kernel; needs
 * nq = nk = l->n; rows with no allowed key produce zeros. */
int dg_attention_sparse_cuda(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                             const dg_block_layout *l);

/* SoftPAG post-op (attention/perturb.c): o_h = (1-u) o_h + u v_h for the heads
 * with u[h] != 0; o, v on the device, u on the HOST (one weight per head).
 * Heads with u = 0 are not touched. */
int dg_attn_perturb_heads_cuda(float *o, const float *v, const dg_attn_shape *s, const float *u);

#ifdef __cplusplus
}
#endif

#endif
