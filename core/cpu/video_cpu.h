/* CPU implementations of the video VAE ops of the backend table (shapes
 * already checked in core/ops.c), on channel-major f32 activations
 * [C, T, H, W], and the workspace they share. */
#ifndef DG_CORE_CPU_VIDEO_CPU_H
#define DG_CORE_CPU_VIDEO_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

/* Below this many elements a loop runs on one thread: a parallel region
 * costs more than the work (and much more on an oversubscribed machine). */
#define DG_CPU_PAR_MIN ((int64_t)1 << 16)

/* The backend's workspace (im2col blocks, packed weights, attention scores)
 * of at least n floats; contents undefined, valid until the next call. */
int dg_cpu_work(dg_backend *be, size_t n, float **out);

int dg_cpu_conv3d(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                  const dg_tensor *b, int upsample2x, int accumulate);
/* The same through im2col + GEMM only: the path of CPUs without AVX-512,
 * callable everywhere so that tests check it too. */
int dg_cpu_conv3d_gemm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                       const dg_tensor *b, int upsample2x, int accumulate);
#ifdef __AVX512F__
/* The 3x3 (x kt) case of dg_cpu_conv3d on raw data (core/cpu/conv3x3_avx512.c). */
int dg_cpu_conv3x3_avx512(dg_backend *be, float *y, const float *x, const float *cache, const float *w,
                          const float *bias, int64_t Cin, int64_t Cout, int64_t kt, int64_t T, int64_t H, int64_t W,
                          int up, int acc);
#endif

int dg_cpu_channel_rmsnorm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, int silu);
int dg_cpu_spatial_attention(dg_backend *be, dg_tensor *out, const dg_tensor *qkv);
int dg_cpu_cache_push(dg_backend *be, dg_tensor *cache, const dg_tensor *x);
int dg_cpu_channels_to_frames(dg_backend *be, dg_tensor *y, const dg_tensor *x);
int dg_cpu_channels_to_cells(dg_backend *be, dg_tensor *y, const dg_tensor *x, const int cells[4], int accumulate);
int dg_cpu_copy_box(dg_backend *be, dg_tensor *dst, const int64_t dst_at[4], const dg_tensor *src,
                    const int64_t src_at[4], const int64_t size[4]);
int dg_cpu_blend_edge(dg_backend *be, dg_tensor *y, const dg_tensor *a, int axis, int64_t n);
int dg_cpu_clamp(dg_backend *be, dg_tensor *y, const dg_tensor *x, float lo, float hi);
int dg_cpu_fill(dg_backend *be, dg_tensor *y, float value);

#endif
