/* The video VAE's 3x3x3 causal convolution (dg_conv3d, CPU backend) at the
 * Wan VAE decoder's widths: the direct kernel (AVX-512, or AVX2 where it is
 * built but not the default; the default path where neither), the im2col +
 * GEMM path, and, as the ceiling, OpenBLAS sgemm on a matrix product with the
 * same FLOPs (M = Cout, N = output positions, K = 27 Cin) in the same process.
 * Each as plain conv and as a residual block's conv (input normalised + SiLU'd
 * as it is read, at gamma 1).
 *   cmake --build build --target vae_conv_bench && ./build/vae_conv_bench [THREADS]
 * Warm-up 1, median of 5. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/timing.h"
#include "core/backend.h"
#include "core/cpu/blas_tune.h"
#include "core/error.h"
#include "core/cpu/video_cpu.h"
#include "core/ops.h"

enum { REPS = 5 };

static float *filled(size_t n) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; p && i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    return p;
}

typedef struct conv_io {
    dg_tensor x, y, w, b, cache;
} conv_io;

/* Median seconds of one path; which: 0 direct (default without it), 1 GEMM path, 2 plain sgemm; norm: the
 * input normalised + SiLU'd as it is read. */
static double time_path(conv_io *c, int which, const dg_tensor *norm, const float *A, const float *B, float *C, int M,
                        int N, int K) {
    const unsigned flags = norm ? DG_CONV_SILU : 0;
    double t[REPS];
    for (int r = -1; r < REPS; r++) {
        double t0 = cli_now_s();
        int rc = 0;
#ifdef DG_CPU_CONV_DIRECT
        if (which == 0) rc = dg_cpu_conv3d_direct(c->y.backend, &c->y, &c->x, &c->cache, &c->w, &c->b, norm, flags);
#else
        if (which == 0) rc = dg_conv3d(&c->y, &c->x, &c->cache, &c->w, &c->b, norm, flags);
#endif
        else if (which == 1) rc = dg_cpu_conv3d_gemm(c->y.backend, &c->y, &c->x, &c->cache, &c->w, &c->b, norm, flags);
        else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
        if (rc) {
            fprintf(stderr, "vae_conv_bench: %s\n", dg_last_error());
            exit(1);
        }
        if (r >= 0) t[r] = cli_now_s() - t0;
    }
    return cli_median(t, REPS);
}

int main(int argc, char **argv) {
    dg_blas_tune_process(argv); /* OpenBLAS kernels suited to this CPU, as ditgen does */
    const int threads = argc > 1 ? atoi(argv[1]) : 0;
    dg_backend be;
    if (dg_backend_cpu_init(&be, threads)) {
        fprintf(stderr, "vae_conv_bench: %s\n", dg_last_error());
        return 1;
    }
    /* Cin = Cout, frames, height, width: the decoder's stages at a 16x26 latent */
    const int64_t cases[][4] = {{96, 4, 128, 208}, {192, 4, 64, 104}, {384, 2, 32, 52}};
#ifdef DG_CPU_CONV_DIRECT
    const char *first = "direct";
#else
    const char *first = "default";
#endif
    printf("%-27s %10s %10s %10s %9s %9s\n", "conv 3x3x3 (C, TxHxW)", first, "im2col", "sgemm", "1st/gemm",
           "1st/sgemm");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const int64_t C = cases[i][0], T = cases[i][1], H = cases[i][2], W = cases[i][3];
        int64_t xs[4] = {C, T, H, W}, ws[5] = {C, C, 3, 3, 3}, bs[1] = {C}, cs[4] = {C, 2, H, W};
        float *x = filled((size_t)(C * T * H * W)), *y = filled((size_t)(C * T * H * W));
        float *w = filled((size_t)(C * C * 27)), *b = filled((size_t)C), *cache = filled((size_t)(C * 2 * H * W));
        const int M = (int)C, N = (int)(T * H * W), K = (int)(27 * C);
        float *B = filled((size_t)K * N), *Cm = filled((size_t)M * N), *g = malloc((size_t)C * sizeof(float));
        if (!x || !y || !w || !b || !cache || !B || !Cm || !g) {
            fprintf(stderr, "vae_conv_bench: out of memory\n");
            return 1;
        }
        for (int64_t j = 0; j < C; j++) g[j] = 1.0f;
        conv_io c;
        dg_tensor G;
        if (dg_tensor_view(&G, &be, DG_F32, 1, bs, g) || dg_tensor_view(&c.x, &be, DG_F32, 4, xs, x) ||
            dg_tensor_view(&c.y, &be, DG_F32, 4, xs, y) || dg_tensor_view(&c.w, &be, DG_F32, 5, ws, w) || dg_tensor_view(&c.b, &be, DG_F32, 1, bs, b) ||
            dg_tensor_view(&c.cache, &be, DG_F32, 4, cs, cache)) {
            fprintf(stderr, "vae_conv_bench: %s\n", dg_last_error());
            return 1;
        }
        const double flop = 2.0 * M * (double)N * K;
        for (int normed = 0; normed < 2; normed++) {
            const dg_tensor *norm = normed ? &G : NULL;
            double td = time_path(&c, 0, norm, NULL, NULL, NULL, 0, 0, 0);
            double tg = time_path(&c, 1, norm, NULL, NULL, NULL, 0, 0, 0);
            double ts = time_path(&c, 2, NULL, w, B, Cm, M, N, K);
            char name[64];
            snprintf(name, sizeof name, "%lld, %lldx%lldx%lld%s", (long long)C, (long long)T, (long long)H,
                     (long long)W, normed ? " norm+silu" : "");
            printf("%-27s %7.0f GF %7.0f GF %7.0f GF %9.2f %9.2f\n", name, flop / td * 1e-9, flop / tg * 1e-9,
                   flop / ts * 1e-9, tg / td, ts / td);
        }
        free(x), free(y), free(w), free(b), free(cache), free(B), free(Cm), free(g);
    }
    dg_backend_free(&be);
    return 0;
}
