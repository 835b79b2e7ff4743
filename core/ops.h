/* Ops on backend tensors. Each wrapper checks dtypes and shapes (naming the
 * tensors in the error) and dispatches to the backend table. Activations are
 * float32; weights may be f32, bf16 or f16. In-place use (y == x) is allowed
 * for the elementwise ops. */
#ifndef DG_CORE_OPS_H
#define DG_CORE_OPS_H

#include "core/backend.h"

/* dst = src: same shape, dtype and backend. */
int dg_tensor_copy(dg_tensor *dst, const dg_tensor *src);
int dg_linear(dg_tensor *y, const dg_tensor *x, const dg_tensor *w, const dg_tensor *b);
int dg_layernorm(dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, const dg_tensor *beta, float eps);
int dg_rmsnorm(dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, float eps);
int dg_gelu_tanh(dg_tensor *y, const dg_tensor *x);
int dg_silu(dg_tensor *y, const dg_tensor *x);
int dg_add(dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
int dg_sub(dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
/* sums[0] = sum |a - b|, sums[1] = sum |b| (see dg_backend_ops.abs_diff_sums). */
int dg_abs_diff_sums(const dg_tensor *a, const dg_tensor *b, double sums[2]);
int dg_modulate(dg_tensor *y, const dg_tensor *x, const float *shift, const float *scale);
int dg_gated_add(dg_tensor *h, const dg_tensor *x, const float *gate);
int dg_rope(dg_tensor *x, const dg_tensor *cos, const dg_tensor *sin);
int dg_patchify(dg_tensor *y, const dg_tensor *x, const int patch[3]);
int dg_unpatchify(dg_tensor *x, const dg_tensor *y, const int patch[3]);
/* See dg_backend_ops.attention_merge. */
int dg_attention_merge(dg_tensor *o, dg_tensor *lse, const dg_tensor *o2, const dg_tensor *lse2, float bias,
                       float bias2);
/* Attention of heads query/key/value rows (see dg_attn_opts; opts NULL = dense, every head):
 * q, o [nq, C], k, v [nk, C], C = heads * head_dim. Checks the shapes, the head range, that a
 * layout fits nq = nk = layout->n and is uploaded to this backend, and the lse tensor. */
int dg_attention(dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v, int heads,
                 const dg_attn_opts *opts);
/* video VAE ops (semantics in core/backend.h) */
int dg_conv3d(dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w, const dg_tensor *b,
              const dg_tensor *norm, unsigned flags);
int dg_spatial_attention(dg_tensor *out, const dg_tensor *qkv);
int dg_cache_push(dg_tensor *cache, const dg_tensor *x);
int dg_channels_to_frames(dg_tensor *y, const dg_tensor *x);
/* cells = {ft, fs, drop, col_major} (see dg_backend_ops.channels_to_cells). */
int dg_channels_to_cells(dg_tensor *y, const dg_tensor *x, const int cells[4], int accumulate);
int dg_copy_box(dg_tensor *dst, const int64_t dst_at[4], const dg_tensor *src, const int64_t src_at[4],
                const int64_t size[4]);
int dg_blend_edge(dg_tensor *y, const dg_tensor *a, int axis, int64_t n);
int dg_clamp(dg_tensor *y, const dg_tensor *x, float lo, float hi);
int dg_fill(dg_tensor *y, float value);
/* text-encoder ops (semantics in core/backend.h) */
int dg_mul(dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
int dg_relu(dg_tensor *y, const dg_tensor *x);
int dg_gather_rows(dg_tensor *y, const dg_tensor *table, const int32_t *rows);
int dg_attention_pos_bias(dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v,
                          const dg_tensor *pos_bias, const dg_tensor *key_bias, int heads, float scale);

/* Host-side helpers shared by models (tiny tensors, not worth a kernel). */
/* diffusers get_timestep_embedding(flip_sin_to_cos=True, shift=0) for one t. */
void dg_timestep_sinusoid(float *out, int dim, float t, int flip_sin_to_cos, float freq_shift);
/* cos/sin tables [N, d] for interleaved 3-axis RoPE over a (F,H,W) grid with
 * axis widths dims[3] (sum = d), theta base. Frequencies in float64 as diffusers. */
int dg_rope3d_tables(float *cos_out, float *sin_out, int F, int H, int W, const int dims[3], double theta);
/* One token's row of those tables at position pos (t, h, w; any integers). */
void dg_rope3d_row(float *cos_out, float *sin_out, const int64_t pos[3], const int dims[3], double theta);

#endif
