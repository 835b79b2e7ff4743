/* CPU kernels of the video VAE on channel-major activations [C, T, H, W]
 * (f32, contiguous). They live here until the backend table grows conv ops;
 * each takes dg_tensors and checks the shapes it relies on. */
#ifndef DG_VAE_VAE_CPU_H
#define DG_VAE_VAE_CPU_H

#include <stddef.h>

#include "core/tensor.h"

/* Below this many elements a loop runs on one thread: a parallel region
 * costs more than the work (and much more on an oversubscribed machine). */
#define DG_VAE_PAR_MIN ((int64_t)1 << 16)

/* Growable im2col workspace shared by the convolutions of one decode. */
typedef struct dg_vae_scratch {
    float *p;
    size_t len; /* floats */
} dg_vae_scratch;
void dg_vae_scratch_free(dg_vae_scratch *s);
/* Grow s to at least n floats (contents not kept). */
int dg_vae_scratch_reserve(dg_vae_scratch *s, size_t n);

/* Causal 3D convolution (also 2D: weight [Cout, Cin, kh, kw] means kt = 1).
 * x [Cin, T, H, W]; cache [Cin, kt-1, H, W] holds the frames before x (zeros
 * at the start of a video) and is NULL when kt == 1; weight
 * [Cout, Cin, kt, kh, kw]; bias [Cout] or NULL. Spatial zero padding
 * (kh-1)/2, (kw-1)/2; no temporal padding beyond the cache. upsample2x reads
 * x through a nearest 2x spatial upsample (pixel duplication, which is what
 * 'nearest-exact' does at scale 2) without materialising it.
 * y [Cout, T, H', W'] (H' = H or 2H); accumulate: y += conv(x) + bias
 * instead of y = conv(x) + bias (fuses residual adds). */
int dg_vae_conv3d_cpu(dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                      const dg_tensor *b, int upsample2x, int accumulate, dg_vae_scratch *ws);
/* The same through im2col + GEMM only: the path of CPUs without AVX-512,
 * callable everywhere so that tests check it too. */
int dg_vae_conv3d_gemm_cpu(dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                           const dg_tensor *b, int upsample2x, int accumulate, dg_vae_scratch *ws);

#ifdef __AVX512F__
/* The 3x3 (x kt) case of dg_vae_conv3d_cpu on raw data, already checked by it
 * (vae/conv3x3_avx512.c). */
int dg_vae_conv3x3_avx512(float *y, const float *x, const float *cache, const float *w, const float *bias,
                          int64_t Cin, int64_t Cout, int64_t kt, int64_t T, int64_t H, int64_t W, int up, int acc,
                          dg_vae_scratch *ws);
#endif

/* Wan VAE "RMS" norm over channels: y = x / max(||x||_2, 1e-12) * sqrt(C) * gamma
 * (F.normalize over dim 1), then SiLU when silu != 0. x, y [C, ...] (y may be x);
 * gamma has C elements whatever its rank. */
int dg_vae_rmsnorm_cpu(dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, int silu);

/* Single-head self-attention over the H*W positions of each frame, as
 * WanAttentionBlock: qkv [3C, T, H, W] (q, k, v = channel thirds), out
 * [C, T, H, W]; scale 1/sqrt(C). */
int dg_vae_attention_cpu(dg_tensor *out, const dg_tensor *qkv, dg_vae_scratch *ws);

#endif
