#include "cli/preview.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "io/frames.h"
#include "io/png.h"

#define PROBE 8 /* latent cells per side of the probe the projection is fitted on */

/* Solves the n x n system a x = b in place (Gaussian elimination, partial pivoting); a is
 * regularised by the caller, so no pivot is zero. */
static void solve(double *a, double *b, int n) {
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(a[r * n + c]) > fabs(a[piv * n + c])) piv = r;
        for (int k = 0; k < n; k++) {
            double t = a[c * n + k];
            a[c * n + k] = a[piv * n + k], a[piv * n + k] = t;
        }
        double t = b[c];
        b[c] = b[piv], b[piv] = t;
        for (int r = c + 1; r < n; r++) {
            double f = a[r * n + c] / a[c * n + c];
            for (int k = c; k < n; k++) a[r * n + k] -= f * a[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        for (int k = c + 1; k < n; k++) b[c] -= a[c * n + k] * b[k];
        b[c] /= a[c * n + c];
    }
}

/* The projection a VAE model's previews use, derived from the model's own decoder rather than
 * stored per model: PROBE x PROBE cells of N(0, 1) latents (the normalised latent space x0 lives
 * in) are decoded once, each cell's pixels averaged, and RGB regressed on the channels plus a bias
 * by ridge least squares. One small decode per run; it fits any VAE without a table of factors. */
static int fit(cli_preview *pv) {
    const int C = (int)pv->shape[0], s = dg_pipeline_info(pv->p)->spatial_factor;
    const int64_t probe[4] = {C, 1, PROBE, PROBE};
    const int cells = PROBE * PROBE, px = PROBE * s, K = C + 1;
    float *z = malloc((size_t)C * cells * sizeof(float)), *rgb = malloc((size_t)3 * px * px * sizeof(float));
    double *a = calloc((size_t)K * K, sizeof(double)), *b = calloc((size_t)3 * K, sizeof(double));
    int rc = z && rgb && a && b ? DG_OK : dg_error("out of memory for the preview projection");
    if (rc == DG_OK) {
        dg_rng rng;
        dg_rng_init(&rng, 0);
        dg_randn(&rng, z, (size_t)C * cells);
        rc = dg_pipeline_decode(pv->p, z, probe, 0, rgb);
    }
    for (int i = 0; rc == DG_OK && i < cells; i++) {
        double x[CLI_PREVIEW_MAX_CHANNELS + 1], y[3] = {0};
        for (int c = 0; c < C; c++) x[c] = z[(size_t)c * cells + i];
        x[C] = 1.0;
        const int cy = i / PROBE, cx = i % PROBE;
        for (int ch = 0; ch < 3; ch++) {
            for (int dy = 0; dy < s; dy++)
                for (int dx = 0; dx < s; dx++) y[ch] += rgb[((size_t)ch * px + cy * s + dy) * px + cx * s + dx];
            y[ch] /= (double)s * s;
        }
        for (int r = 0; r < K; r++) {
            for (int k = 0; k < K; k++) a[r * K + k] += x[r] * x[k];
            for (int ch = 0; ch < 3; ch++) b[ch * K + r] += x[r] * y[ch];
        }
    }
    for (int ch = 0; rc == DG_OK && ch < 3; ch++) {
        double *m = malloc((size_t)K * K * sizeof(double));
        if (!m) {
            rc = dg_error("out of memory for the preview projection");
            break;
        }
        memcpy(m, a, (size_t)K * K * sizeof(double));
        for (int r = 0; r < K; r++) m[r * K + r] += 1e-2 * cells; /* ridge: the 64 cells barely outnumber K */
        solve(m, b + ch * K, K);
        for (int k = 0; k < K; k++) pv->w[ch][k] = (float)b[ch * K + k];
        free(m);
    }
    free(z), free(rgb), free(a), free(b);
    return rc;
}

static int write_preview(cli_preview *pv, const float *x0) {
    const dg_model_info *info = dg_pipeline_info(pv->p);
    const int C = (int)pv->shape[0], h = (int)pv->shape[2], w = (int)pv->shape[3];
    const int s = info->pixel_space ? 1 : info->spatial_factor, H = h * s, W = w * s;
    const size_t cell_stride = (size_t)pv->shape[1] * h * w; /* between channels of x0; frame 0 first */
    DG_CHECK(info->pixel_space || info->has_vae, "no VAE to show latents with");
    DG_CHECK(C <= CLI_PREVIEW_MAX_CHANNELS, "%d latent channels (at most %d)", C, CLI_PREVIEW_MAX_CHANNELS);
    if (!info->pixel_space && !pv->fitted) {
        DG_TRY(fit(pv));
        pv->fitted = 1;
    }
    float *img = malloc((size_t)3 * H * W * sizeof(float));
    uint8_t *rgb = malloc((size_t)3 * H * W);
    int rc = img && rgb ? DG_OK : dg_error("out of memory for a %dx%d preview", W, H);
    for (int y = 0; rc == DG_OK && y < H; y++)
        for (int x = 0; x < W; x++) {
            const size_t cell = (size_t)(y / s) * w + x / s;
            for (int ch = 0; ch < 3; ch++) {
                float v;
                if (info->pixel_space) {
                    v = x0[ch * cell_stride + cell];
                } else {
                    v = pv->w[ch][C];
                    for (int c = 0; c < C; c++) v += pv->w[ch][c] * x0[c * cell_stride + cell];
                }
                img[((size_t)ch * H + y) * W + x] = v;
            }
        }
    if (rc == DG_OK) rc = dg_frames_from_float(rgb, img, 3, 1, H, W);
    if (rc == DG_OK) rc = dg_png_write(pv->path, rgb, W, H, NULL);
    free(img), free(rgb);
    return rc;
}

void cli_preview_write(void *user, int step, int steps, const float *x0) {
    cli_preview *pv = user;
    (void)step, (void)steps;
    if (pv->failed) return;
    if (write_preview(pv, x0) != DG_OK) {
        fprintf(stderr, "\nditgen: preview '%s' not written: %s (generation goes on)\n", pv->path, dg_last_error());
        pv->failed = 1;
    }
}
