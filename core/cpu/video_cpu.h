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
                  const dg_tensor *b, const dg_tensor *norm, unsigned flags);
/* The same through im2col + GEMM only: the path of every kernel without AVX-512, callable everywhere
 * so that tests check it too. */
int dg_cpu_conv3d_gemm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                       const dg_tensor *b, const dg_tensor *norm, unsigned flags);

/* The geometry and data of one dg_cpu_conv3d call on raw pointers. */
typedef struct dg_cpu_conv {
    float *y;
    const float *x, *cache, *w, *bias, *norm; /* cache, bias, norm may be NULL */
    int64_t Cin, Cout, kt, kh, kw, T, H, W;
    int up, acc, silu;
} dg_cpu_conv;

/* The direct 3x3 kernel is built with AVX-512 or AVX2+FMA and is the default 3x3 path with AVX-512
 * (core/cpu/conv3x3_direct.c says why not with AVX2). */
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define DG_CPU_CONV_DIRECT 1
/* The 3x3 (x kt) case of dg_cpu_conv3d (core/cpu/conv3x3_direct.c). */
int dg_cpu_conv3x3_direct(dg_backend *be, const dg_cpu_conv *c);
/* dg_cpu_conv3d with the direct kernel for every 3x3 kernel, for the tests. */
int dg_cpu_conv3d_direct(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                         const dg_tensor *b, const dg_tensor *norm, unsigned flags);
#endif

/* The channel norm of a conv's input (F.normalize per position, times sqrt(C) and gamma), in two halves:
 * inv[p] = 1 / max(||x[:, p]||, 1e-12) of x[C, P]; then y[i] = x[i] * inv[i] * scale * gamma
 * (scale = sqrt(C)), SiLU'd if silu, i < n (y may be x). */
void dg_cpu_rms_inv(float *inv, const float *x, int64_t C, int64_t P);
void dg_cpu_rms_apply(float *y, const float *x, const float *inv, int64_t n, float scale, float gamma, int silu);
/* Both halves at once: y[C, P] = the normalised (and SiLU'd) x[C, P]. */
void dg_cpu_rms_normalize(float *y, const float *x, int64_t C, int64_t P, const float *gamma, int silu);
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
