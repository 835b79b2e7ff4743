/* What the backend's attention op works on: the shape of a call on raw
 * memory, the block layout of the sparse engine, and the options of one call.
 *
 * Memory layout: tokens-major with heads interleaved, q[n*q_stride + h*head_dim + c]
 * (the natural output of a linear projection [N, heads*head_dim]); same for
 * k, v and o. Attention methods (attention/) only build block layouts; the
 * kernels that walk them live with their backend (core/cpu, core/cuda). */
#ifndef DG_CORE_ATTENTION_H
#define DG_CORE_ATTENTION_H

#include <stdint.h>

#include "core/dtype.h"

typedef struct dg_backend dg_backend;
typedef struct dg_tensor dg_tensor;

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

/* Block-sparse plan for the engine: tokens are optionally permuted (perm[i] =
 * original index of permuted position i), cut into query blocks of block_q
 * (a multiple of 64, at most 256) and key blocks of block_k (1..128) permuted
 * positions; for each query block, a CSR list of key blocks to visit, in
 * increasing order. A visited block may be partial: then its mask starts at
 * masks + mask_offset[entry] and holds, key-major, for each key j < block_k,
 * block_q/64 words whose bit i says whether query 64*w + i of the block may
 * see key j (word index j * (block_q/64) + w); mask_offset[entry] = -1 means
 * every pair is allowed. Rows and columns past n are never visited.
 * A backend whose kernels cannot read host memory keeps its own copy, made
 * once by dg_block_layout_upload and released with the layout. */
typedef struct dg_block_layout {
    int64_t n;
    int block_q, block_k;
    int32_t *perm;           /* NULL: identity; owned by the layout */
    int64_t n_qblocks, n_kblocks;
    int64_t *row_start;      /* [n_qblocks + 1] */
    int32_t *kblock;         /* [row_start[n_qblocks]] */
    int64_t *mask_offset;    /* [row_start[n_qblocks]], -1 = full block */
    uint64_t *masks;
    int64_t allowed_pairs;   /* exact count of allowed (query, key) pairs */
    dg_backend *device_backend; /* the backend holding device_copy, NULL when none */
    void *device_copy;
} dg_block_layout;

/* How a block of permuted queries [q0, q1) meets permuted keys [k0, k1). */
enum { DG_BLOCK_NONE = 0, DG_BLOCK_FULL = 1, DG_BLOCK_PARTIAL = 2 };

void dg_block_layout_free(dg_block_layout *l);
/* Build a layout. allow(ctx, i, j) is the predicate over ORIGINAL token
 * indices. classify(ctx, q0, q1, k0, k1) (may be NULL: everything PARTIAL)
 * answers per block from cheap bounds: NONE and FULL must be exact, PARTIAL
 * means "evaluate allow() on every pair" (such a block may still turn out
 * empty or full). perm (may be NULL) is copied. Cost: one classify per block
 * pair plus block_q*block_k allow() calls per PARTIAL block. Query blocks
 * are built in parallel (OpenMP): allow and classify must only read ctx. */
int dg_block_layout_build(dg_block_layout *l, int64_t n, int block_q, int block_k, const int32_t *perm,
                          int (*allow)(const void *ctx, int64_t i, int64_t j),
                          int (*classify)(const void *ctx, int64_t q0, int64_t q1, int64_t k0, int64_t k1),
                          const void *ctx);
/* Build a layout from a predicate alone (O(n^2) allow() calls: for tests and
 * small geometries). */
int dg_block_layout_from_predicate(dg_block_layout *l, int64_t n, int block_q, int block_k, const int32_t *perm,
                                   int (*allow)(const void *ctx, int64_t i, int64_t j), const void *ctx);
/* Density = allowed pairs / n^2. */
double dg_block_layout_density(const dg_block_layout *l);
/* Make the layout usable by be's attention op: a device copy where the
 * backend needs one (made once; replaced when the layout moves to another
 * backend), nothing on the CPU. */
int dg_block_layout_upload(dg_block_layout *l, dg_backend *be);

/* One attention call (dg_attention in core/ops.h). */
typedef struct dg_attn_opts {
    float scale;                   /* softmax scale; 0: 1/sqrt(head_dim) */
    int head_begin, head_count;    /* the heads computed; head_count 0: every head */
    const dg_block_layout *layout; /* NULL: dense; else uploaded to the op's backend, nq = nk = layout->n */
    /* The queries are rows [query_offset, query_offset + nq) of the key sequence (sequence parallelism:
     * a rank's own tokens against every token); the perturbation blends in those rows of v. */
    int64_t query_offset;
    /* SoftPAG: o_h = (1-u[h]) o_h + u[h] v_h after the attention, for the computed heads with u[h] != 0
     * (u indexed by absolute head, host memory); NULL: none. Self-attention only. */
    const float *perturb;
    /* Optional [nq, heads] f32 tensor on the op's backend: the natural-log sum of exp(scores) of each
     * row and computed head (-inf for a row that sees no key), so partial attentions over disjoint key
     * sets can be merged exactly. Written before the perturbation, which does not change it. */
    dg_tensor *lse;
    /* DG_BF16 for a model that runs in bf16: q, k, v and the probabilities rounded to bf16, products
     * accumulated in f32, where the backend has such a kernel (the CPU: the dense kernel and the
     * block-sparse engine on a build for AVX512-BF16; methods with an algorithm of their own, agent
     * attention, compute f32); elsewhere, and with DG_F32 (the default), f32. */
    dg_dtype dtype;
} dg_attn_opts;

/* One attention call on raw memory, as a backend's kernels take it: the shape of the computed heads
 * (opts' head range, default scale 1/sqrt(head_dim)) and the tensors' pointers offset to its first
 * head (lse to its first column). Shapes as dg_attention checked them. */
typedef struct dg_attn_raw {
    dg_attn_shape s;
    int head_begin;
    float *o, *lse;
    const float *q, *k, *v;
} dg_attn_raw;
dg_attn_raw dg_attn_raw_of(dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v, int heads,
                           const dg_attn_opts *opts);

#endif
