/* Image comparison metrics for judging an approximation against a reference:
 * PSNR on 8-bit RGB or on floats, and SSIM (Wang et al. 2004) on luma. */
#ifndef DG_BENCH_IMAGE_METRICS_H
#define DG_BENCH_IMAGE_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* SSIM window: 11x11 Gaussian, sigma 1.5 (the paper's choice). */
#define DG_SSIM_WIN 11

/* PSNR in dB of n bytes with MAX = 255: 10*log10(255^2 / MSE). Identical
 * inputs give +INFINITY (callers decide how to print it). */
double dg_psnr_u8(const uint8_t *a, const uint8_t *b, size_t n);

/* PSNR in dB of n floats with MAX = max_range (e.g. the reference's max-min).
 * Identical inputs give +INFINITY; NaN when max_range <= 0 or a value is NaN. */
double dg_psnr_f32(const float *a, const float *b, size_t n, double max_range);

/* Mean SSIM of F frames of H*W interleaved RGB bytes, computed per frame on
 * BT.601 luma (0.299 R + 0.587 G + 0.114 B, kept in double) with
 * K1 = 0.01, K2 = 0.03, L = 255 and the Gaussian window placed only where it
 * fits (no padding), then averaged over windows and over frames. Frames
 * smaller than the window are refused. */
int dg_ssim_rgb(const uint8_t *a, const uint8_t *b, int F, int H, int W, double *ssim);

#endif
