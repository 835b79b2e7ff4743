/* Attention kernels on the CPU. Layout: tokens-major with heads interleaved,
 * i.e. q[n*q_stride + h*head_dim + c] (the natural output of a linear
 * projection [N, heads*head_dim]); same for k, v and o. */
#ifndef DG_ATTENTION_ATTENTION_H
#define DG_ATTENTION_ATTENTION_H

#include <stdint.h>

typedef struct dg_attn_shape {
    int64_t nq, nk;    /* query and key/value token counts */
    int heads, head_dim;
    int64_t q_stride;  /* floats between consecutive tokens of q and o */
    int64_t kv_stride; /* floats between consecutive tokens of k and v */
    float scale;       /* softmax scale, usually 1/sqrt(head_dim) */
} dg_attn_shape;

/* DG_OK when the shape is usable (counts >= 1, strides cover heads*head_dim,
 * finite scale); otherwise DG_ERR naming the bad field. */
int dg_attn_shape_check(const dg_attn_shape *s);

/* Dense softmax(q k^T * scale) v: tiled, online softmax (flash-style), all
 * OpenMP threads. No mask. o must not overlap k or v. Returns DG_OK or
 * DG_ERR (bad shape, OOM). */
int dg_attention_dense_cpu(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s);

/* Slow, obvious reference (full score matrix per head, double accumulation)
 * used by tests. */
int dg_attention_reference(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s);

#endif
