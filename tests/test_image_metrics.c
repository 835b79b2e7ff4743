/* PSNR and SSIM against closed forms and an independent direct (non-separable,
 * 2-D window) double implementation of Wang et al. 2004 on BT.601 luma. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "bench/lib/image_metrics.h"
#include "test.h"

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Direct SSIM of one H x W RGB frame: every valid 11x11 window, 2-D Gaussian
 * weights normalized over the window, moments summed straight from luma. */
static double ssim_direct(const uint8_t *a, const uint8_t *b, int H, int W) {
    double w[11][11], ws = 0;
    for (int i = 0; i < 11; i++)
        for (int j = 0; j < 11; j++) ws += w[i][j] = exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / 4.5);
    double C1 = 2.55 * 2.55, C2 = 7.65 * 7.65, sum = 0;
    int n = 0;
    for (int r = 0; r + 11 <= H; r++) {
        for (int c = 0; c + 11 <= W; c++) {
            double mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
            for (int i = 0; i < 11; i++) {
                for (int j = 0; j < 11; j++) {
                    const uint8_t *p = a + 3 * ((r + i) * W + c + j), *q = b + 3 * ((r + i) * W + c + j);
                    double x = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
                    double y = 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2];
                    double k = w[i][j] / ws;
                    mx += k * x, my += k * y, xx += k * x * x, yy += k * y * y, xy += k * x * y;
                }
            }
            double vx = xx - mx * mx, vy = yy - my * my, cv = xy - mx * my;
            sum += (2 * mx * my + C1) * (2 * cv + C2) / ((mx * mx + my * my + C1) * (vx + vy + C2));
            n++;
        }
    }
    return sum / n;
}

int main(void) {
    enum { H = 16, W = 16, N = H * W * 3 };
    uint8_t a[2 * N], b[2 * N], c[N];
    uint32_t s = 7;
    /* a smooth gradient plus texture, so windows have structure */
    for (int i = 0; i < N; i++) a[i] = (uint8_t)(40 + (i / 3) % W * 6 + (i / (3 * W)) * 4 + lcg(&s) % 30);
    for (int i = 0; i < N; i++) a[N + i] = (uint8_t)(lcg(&s) % 200);

    /* PSNR: a constant offset d gives MSE = d^2 exactly */
    for (int i = 0; i < N; i++) b[i] = (uint8_t)(a[i] + 5);
    double p = dg_psnr_u8(a, b, N);
    CHECK(fabs(p - 20 * log10(255.0 / 5)) < 1e-9, "psnr offset 5: %.12f", p);
    CHECK(dg_psnr_u8(b, a, N) == p, "psnr not symmetric");
    CHECK(isinf(dg_psnr_u8(a, a, N)) && dg_psnr_u8(a, a, N) > 0, "identical images must give +inf");
    /* one byte off by 128: MSE = 128^2 / N */
    memcpy(c, a, N);
    c[17] = a[17] < 128 ? (uint8_t)(a[17] + 128) : (uint8_t)(a[17] - 128);
    p = dg_psnr_u8(a, c, N);
    CHECK(fabs(p - 10 * log10((double)N / (128.0 * 128 / (255.0 * 255)))) < 1e-9, "psnr one byte: %.12f", p);

    float fa[64], fb[64];
    for (int i = 0; i < 64; i++) fa[i] = (float)i / 8, fb[i] = fa[i] + 0.5f;
    p = dg_psnr_f32(fa, fb, 64, 2.0);
    CHECK(fabs(p - 20 * log10(2.0 / 0.5)) < 1e-9, "float psnr: %.12f", p);
    CHECK(isinf(dg_psnr_f32(fa, fa, 64, 2.0)), "float psnr of identical data must be inf");
    CHECK(isnan(dg_psnr_f32(fa, fb, 64, 0.0)), "float psnr with zero range must be NaN");

    /* SSIM */
    double v, v2;
    CHECK_OK(dg_ssim_rgb(a, a, 1, H, W, &v));
    CHECK(fabs(v - 1) < 1e-12, "ssim of identical images %.15f", v);
    for (int i = 0; i < N; i++) {
        int n = (int)a[i] + (int)(lcg(&s) % 41) - 20;
        b[i] = (uint8_t)(n < 0 ? 0 : n > 255 ? 255 : n);
    }
    CHECK_OK(dg_ssim_rgb(a, b, 1, H, W, &v));
    CHECK_OK(dg_ssim_rgb(b, a, 1, H, W, &v2));
    CHECK(v < 0.99 && v > 0, "ssim with noise %.6f", v);
    CHECK(fabs(v - v2) < 1e-12, "ssim not symmetric: %.15f vs %.15f", v, v2);
    double ref = ssim_direct(a, b, H, W);
    CHECK(fabs(v - ref) < 1e-9, "ssim %.12f vs direct %.12f", v, ref);
    /* more noise, lower SSIM */
    for (int i = 0; i < N; i++) c[i] = (uint8_t)(lcg(&s) % 256);
    CHECK_OK(dg_ssim_rgb(a, c, 1, H, W, &v2));
    CHECK(v2 < v, "ssim of pure noise %.6f not below mild noise %.6f", v2, v);
    CHECK(fabs(v2 - ssim_direct(a, c, H, W)) < 1e-9, "ssim vs direct on noise");

    /* constant images: variances vanish, SSIM = (2 x y + C1) / (x^2 + y^2 + C1) */
    memset(b, 100, N), memset(c, 150, N);
    CHECK_OK(dg_ssim_rgb(b, c, 1, H, W, &v));
    double C1 = 2.55 * 2.55, want = (2 * 100.0 * 150 + C1) / (100.0 * 100 + 150.0 * 150 + C1);
    CHECK(fabs(v - want) < 1e-9, "ssim of constants %.12f, want %.12f", v, want);

    /* two frames: the mean of the per-frame values; a non-square frame */
    memcpy(b, a, 2 * N);
    for (int i = N; i < 2 * N; i++) b[i] = (uint8_t)(a[i] ^ (lcg(&s) & 15));
    CHECK_OK(dg_ssim_rgb(a, b, 2, H, W, &v));
    want = (1.0 + ssim_direct(a + N, b + N, H, W)) / 2;
    CHECK(fabs(v - want) < 1e-9, "two-frame ssim %.12f, want %.12f", v, want);
    CHECK_OK(dg_ssim_rgb(a, b, 1, 12, 32, &v)); /* 1152 bytes: spans both halves */
    want = ssim_direct(a, b, 12, 32);
    CHECK(fabs(v - want) < 1e-9, "12x32 ssim %.12f, want %.12f", v, want);

    CHECK(dg_ssim_rgb(a, b, 1, 10, 40, &v) == DG_ERR, "a frame smaller than the window must be refused");
    CHECK(strstr(dg_last_error(), "11x11") != NULL, "error should name the window: %s", dg_last_error());
    return TEST_END();
}
