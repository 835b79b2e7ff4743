#include "bench/lib/image_metrics.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"

double dg_psnr_u8(const uint8_t *a, const uint8_t *b, size_t n) {
    uint64_t se = 0; /* exact: at most 255^2 per byte */
    for (size_t i = 0; i < n; i++) {
        int d = (int)a[i] - (int)b[i];
        se += (uint64_t)(d * d);
    }
    if (se == 0) return INFINITY;
    double mse = (double)se / (double)n;
    return 10.0 * log10(255.0 * 255.0 / mse);
}

double dg_psnr_f32(const float *a, const float *b, size_t n, double max_range) {
    if (!(max_range > 0)) return NAN;
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        se += d * d;
    }
    if (se != se) return NAN;
    if (se == 0) return INFINITY;
    return 10.0 * log10(max_range * max_range / (se / (double)n));
}

/* Normalized 1-D Gaussian; the 2-D window is its outer product (separable). */
static void gauss_window(double g[DG_SSIM_WIN]) {
    double sum = 0, c = (DG_SSIM_WIN - 1) / 2.0;
    for (int i = 0; i < DG_SSIM_WIN; i++) sum += g[i] = exp(-(i - c) * (i - c) / (2 * 1.5 * 1.5));
    for (int i = 0; i < DG_SSIM_WIN; i++) g[i] /= sum;
}

/* SSIM of one frame. buf holds 7 planes of H*W doubles (2 luma + 5 moments). */
static double ssim_frame(const uint8_t *a, const uint8_t *b, int H, int W, double *buf) {
    const double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
    size_t plane = (size_t)H * W;
    double *x = buf, *y = buf + plane, *m = buf + 2 * plane; /* m: 5 planes, horizontally filtered */
    for (size_t i = 0; i < plane; i++) {
        const uint8_t *p = a + 3 * i, *q = b + 3 * i;
        x[i] = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        y[i] = 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2];
    }
    double g[DG_SSIM_WIN];
    gauss_window(g);
    int Wv = W - DG_SSIM_WIN + 1, Hv = H - DG_SSIM_WIN + 1;
    for (int r = 0; r < H; r++) {
        for (int c = 0; c < Wv; c++) {
            double s[5] = {0};
            for (int k = 0; k < DG_SSIM_WIN; k++) {
                double u = x[(size_t)r * W + c + k], v = y[(size_t)r * W + c + k];
                s[0] += g[k] * u, s[1] += g[k] * v, s[2] += g[k] * u * u, s[3] += g[k] * v * v, s[4] += g[k] * u * v;
            }
            for (int j = 0; j < 5; j++) m[j * plane + (size_t)r * W + c] = s[j];
        }
    }
    double total = 0;
    for (int r = 0; r < Hv; r++) {
        for (int c = 0; c < Wv; c++) {
            double s[5] = {0};
            for (int k = 0; k < DG_SSIM_WIN; k++)
                for (int j = 0; j < 5; j++) s[j] += g[k] * m[j * plane + (size_t)(r + k) * W + c];
            double mx = s[0], my = s[1];
            double vx = s[2] - mx * mx, vy = s[3] - my * my, cxy = s[4] - mx * my;
            total += (2 * mx * my + C1) * (2 * cxy + C2) / ((mx * mx + my * my + C1) * (vx + vy + C2));
        }
    }
    return total / ((double)Hv * Wv);
}

int dg_ssim_rgb(const uint8_t *a, const uint8_t *b, int F, int H, int W, double *ssim) {
    DG_CHECK(a && b && ssim, "ssim: NULL argument");
    DG_CHECK(F > 0 && H >= DG_SSIM_WIN && W >= DG_SSIM_WIN && H <= 65536 && W <= 65536,
             "ssim: frames %dx%d (x%d) must be at least %dx%d", W, H, F, DG_SSIM_WIN, DG_SSIM_WIN);
    size_t plane = (size_t)H * W;
    double *buf = malloc(7 * plane * sizeof(double));
    DG_CHECK_ALLOC(buf);
    double sum = 0;
    for (int f = 0; f < F; f++) sum += ssim_frame(a + (size_t)f * plane * 3, b + (size_t)f * plane * 3, H, W, buf);
    free(buf);
    *ssim = sum / F;
    return DG_OK;
}
