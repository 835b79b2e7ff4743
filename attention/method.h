/* Pluggable attention methods (see ../shared/specs/sparse-attention.md and
 * ../shared/design/architecture.md "One attention interface, one sparse engine").
 *
 * Every method is created from its name and JSON parameters, prepared once per
 * token geometry, then run on the Q, K, V of one layer (all heads). Mask-based
 * methods (GRAT, radial, tile, neighborhood) only build a dg_block_layout and
 * share the block-sparse flash engine; agent attention is its own algorithm.
 * Each method also exposes its exact predicate allow(i, j) so tests can compare
 * the fast path with a dense reference masked straight from the spec. */
#ifndef DG_ATTENTION_METHOD_H
#define DG_ATTENTION_METHOD_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "attention/attention.h"

/* Token geometry of one self-attention call. Video tokens are raster ordered,
 * n = (t*H + h)*W + w; text tokens (joint attention, FLUX/Hunyuan) sit before
 * (text_first) or after the video tokens. Wan self-attention has none. */
typedef struct dg_attn_geometry {
    int T, H, W;
    int text_tokens;
    int text_first;
    int heads, head_dim;
} dg_attn_geometry;

static inline int64_t dg_attn_geometry_tokens(const dg_attn_geometry *g) {
    return (int64_t)g->T * g->H * g->W + g->text_tokens;
}

/* Block-sparse plan for the engine: tokens are optionally permuted (perm[i] =
 * original index of permuted position i), cut into query blocks of block_q
 * (a multiple of 64, at most 256) and key blocks of block_k (1..128) permuted
 * positions; for each query block, a CSR list of key blocks to visit, in
 * increasing order. A visited block may be partial: then its mask starts at
 * masks + mask_offset[entry] and holds, key-major, for each key j < block_k,
 * block_q/64 words whose bit i says whether query 64*w + i of the block may
 * see key j (word index j * (block_q/64) + w); mask_offset[entry] = -1 means
 * every pair is allowed. Rows and columns past n are never visited. */
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

/* The block-sparse flash engine: same numerics as dg_attention_dense_cpu
 * (online softmax, OpenMP over heads x query blocks); with block_k = 128 and
 * every block listed it equals the dense kernel bit for bit. Needs nq = nk =
 * l->n. Rows with no allowed key produce zeros. */
int dg_attention_sparse_cpu(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                            const dg_block_layout *l);

typedef struct dg_attn_method dg_attn_method;

typedef struct dg_attn_method_ops {
    const char *name;
    /* (Re)build for a geometry; refuses geometries the method cannot take, naming the field. */
    int (*prepare)(dg_attn_method *m, const dg_attn_geometry *g);
    int (*run)(dg_attn_method *m, float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s);
    /* Fraction of (query, key) pairs attended, for the prepared geometry. */
    double (*density)(const dg_attn_method *m);
    /* The spec's predicate on original token indices (NULL for agent attention). */
    int (*allow)(const dg_attn_method *m, int64_t i, int64_t j);
    void (*destroy)(dg_attn_method *m);
} dg_attn_method_ops;

struct dg_attn_method {
    const dg_attn_method_ops *ops;
    dg_attn_geometry geom;
    dg_block_layout layout; /* mask-based methods */
    void *params;           /* method-private */
};

/* Create by name ("dense", "grat", "radial", "sta", "vdit_tile", "natten",
 * "agent") from a JSON object of parameters (NULL = defaults). Unknown names,
 * unknown keys and out-of-range values are refused with the reason; ctx names
 * the file/field for messages. */
int dg_attn_method_create(dg_attn_method **m, const char *name, const cJSON *params, const char *ctx);
void dg_attn_method_free(dg_attn_method *m);

/* Run a prepared method on device pointers (CUDA backend tensors): mask-based
 * methods through the CUDA block-sparse engine with their layout, "dense"
 * through the CUDA dense kernel; agent attention is refused (CPU only). */
int dg_attn_method_run_cuda(dg_attn_method *m, float *o, const float *q, const float *k, const float *v,
                            const dg_attn_shape *s);

/* Per-head perturbation post-op (SoftPAG): out_h = (1-u) out_h + u V_h for heads with u != 0.
 * u has one weight per head. */
void dg_attn_perturb_heads(float *o, const float *v, const dg_attn_shape *s, const float *u);

#endif
