/* Masks that are a product of per-axis predicates on video tokens, plus the
 * joint-attention text rule: allow(q, k) = A_t[t_q][t_k] & A_h[h_q][h_k] &
 * A_w[w_q][w_k] for video q and k; a video query also sees every text key and
 * a text query sees every key (spec §6 rule 3; all text_tokens count as valid:
 * the caller passes only the valid ones). Sliding-tile, neighborhood and
 * Efficient-vDiT tile attention are all of this form, so they share the
 * layout builder here: per-block bounding boxes and per-axis prefix sums
 * classify a block pair in O(1), and only mixed blocks are evaluated pair by
 * pair. Attending every valid text key in the same softmax is equivalent to
 * the LSE merge of a separate text attention (spec §6 rule 4). */
#ifndef DG_ATTENTION_SEPARABLE_H
#define DG_ATTENTION_SEPARABLE_H

#include <stdint.h>

#include "attention/method.h"

typedef struct dg_attn_sep {
    dg_attn_geometry g;
    int n[3];            /* T, H, W */
    uint8_t *table[3];   /* table[a][q * n[a] + k]: the axis predicate, filled by the method */
    int32_t *psum[3];    /* (n+1)^2 prefix sums of each table */
    int32_t *coord;      /* per original token: t, h, w (-1 for text): allow() without divisions */
    int32_t *blocks;     /* per query block then per key block: video box lo[3], hi[3], video count, text count */
    int block_q, block_k;
    int64_t n_qblocks;
} dg_attn_sep;

/* Allocate the per-axis tables (all zero) for geometry g. */
int dg_attn_sep_init(dg_attn_sep *s, const dg_attn_geometry *g);
void dg_attn_sep_free(dg_attn_sep *s);
/* The predicate on original token indices. */
int dg_attn_sep_allow(const dg_attn_sep *s, int64_t i, int64_t j);
/* Once the tables are filled: build layout l with the given permutation
 * (NULL = raster order; copied) and block sizes. */
int dg_attn_sep_build(dg_attn_sep *s, dg_block_layout *l, const int32_t *perm, int block_q, int block_k);

/* Methods built on these tables (sta, natten, vdit_tile) keep a dg_attn_sep
 * as the FIRST member of their params struct and share the steps below. */
/* Drop the previous layout and tables; fresh zeroed tables for g. */
int dg_attn_sep_method_begin(dg_attn_method *m, const dg_attn_geometry *g);
/* Once the tables are filled: the layout in tile-major order of `tile`
 * (NULL: raster order), 128-token blocks; records the geometry. */
int dg_attn_sep_method_finish(dg_attn_method *m, const dg_attn_geometry *g, const int tile[3]);
int dg_attn_sep_method_allow(const dg_attn_method *m, int64_t i, int64_t j);
void dg_attn_sep_method_destroy(dg_attn_method *m);

/* Tile-major order (spec §1(c), §3.2(c)): tiles in raster order, tokens in
 * raster order inside each tile; text tokens stay where they are. Tiles need
 * not divide the axes: border tiles are then smaller, and tiles of a multiple
 * of 128 tokens come before the others (block alignment for the engine).
 * *perm is malloc'd. */
int dg_attn_tile_perm(const dg_attn_geometry *g, const int tile[3], int32_t **perm);

/* Parse an array of 1..3 integers in [lo, hi] naming the trailing axes
 * (w; h, w; t, h, w) into out[3]; missing leading entries are set to fill,
 * *count gets the array length. Absent key: out untouched, *count = 0. */
int dg_attn_parse_axes(const char *ctx, const dg_attn_params *params, const char *key, int lo, int hi, int fill, int out[3],
                       int *count);

#endif
