/* The CPU linear with a bf16 weight, both compute types, against OpenBLAS sgemm on the same values
 * in f32, at the Wan2.1 1.3B and umT5-XXL widths (cmake --build build --target linear_bench):
 *   linear_bench THREADS REPS
 * Per shape: one warm-up, REPS timed runs each, medians; prints one row per shape with
 *   f32:  f32 weight, OpenBLAS sgemm (the baseline);
 *   bf16->f32: bf16 weight widened per call, then sgemm (the f32 path, DG_CPU_BF16=0);
 *   bf16: bf16 weight through the bf16 GEMM (x rounded to bf16 per call, f32 accumulation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/timing.h"
#include "core/backend.h"
#include "core/cpu/blas_tune.h"
#include "core/error.h"
#include "core/ops.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of reps runs of y = x w^T (+ b) after one warm-up. */
static int time_linear(dg_tensor *y, const dg_tensor *x, const dg_tensor *w, const dg_tensor *b, int reps,
                       double *median) {
    double t[100];
    for (int r = 0; r <= reps; r++) {
        double t0 = cli_now_s();
        if (dg_linear(y, x, w, b)) return DG_ERR;
        if (r) t[r - 1] = cli_now_s() - t0;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    *median = t[reps / 2];
    return DG_OK;
}

int main(int argc, char **argv) {
    dg_blas_tune_process(argv); /* OpenBLAS kernels suited to this CPU, as ditgen does */
    if (argc != 3) {
        fprintf(stderr, "usage: %s THREADS REPS\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[1]), reps = atoi(argv[2]);
    dg_backend be;
    if (reps < 1 || reps > 100 || dg_backend_cpu_init(&be, threads)) {
        fprintf(stderr, "linear_bench: %s\n", reps < 1 || reps > 100 ? "REPS outside 1..100" : dg_last_error());
        return 1;
    }
    const int has_bf16 = dg_backend_cpu_set_dtype(&be, DG_BF16) == DG_OK;
    /* M tokens x K in -> N out: Wan 832x480x9 (4680 tokens) q/k/v/o, ffn up and down, cross-attn k/v
     * over 512 text slots; umT5-XXL over 512 tokens: q/k/v/o, gated-gelu wi, wo */
    static const struct {
        const char *what;
        int64_t M, N, K;
    } shapes[] = {
        {"wan qkvo", 4680, 1536, 1536},  {"wan ffn up", 4680, 8960, 1536}, {"wan ffn down", 4680, 1536, 8960},
        {"wan ctx k/v", 512, 1536, 4096}, {"umt5 qkvo", 512, 4096, 4096},  {"umt5 wi", 512, 10240, 4096},
        {"umt5 wo", 512, 4096, 10240},
    };
    printf("linear_bench: %d threads, median of %d, OpenBLAS %s kernels, bf16 GEMM %s\n", threads, reps,
           dg_blas_corename(), has_bf16 ? "on" : "unavailable");
    printf("%-13s %5s %6s %6s | %9s %9s %9s | %8s %8s\n", "shape", "M", "N", "K", "f32 ms", "bf16>f32", "bf16 ms",
           "f32/bf16", "GFLOP/s");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t M = shapes[s].M, N = shapes[s].N, K = shapes[s].K;
        const int64_t xs[2] = {M, K}, ws[2] = {N, K}, ys[2] = {M, N}, bs[1] = {N};
        dg_tensor x, w, w16, b, y;
        if (dg_tensor_alloc(&x, &be, DG_F32, 2, xs) || dg_tensor_alloc(&w, &be, DG_F32, 2, ws) ||
            dg_tensor_alloc(&w16, &be, DG_BF16, 2, ws) || dg_tensor_alloc(&b, &be, DG_F32, 1, bs) ||
            dg_tensor_alloc(&y, &be, DG_F32, 2, ys)) {
            fprintf(stderr, "linear_bench: %s\n", dg_last_error());
            return 1;
        }
        float *xd = x.data, *wd = w.data, *bd = b.data;
        uint64_t st = 12345;
        for (int64_t i = 0; i < M * K; i++) xd[i] = (float)((st = st * 6364136223846793005ull + 1) >> 40) * 0x1p-24f - 0.5f;
        for (int64_t i = 0; i < N * K; i++) wd[i] = (float)((st = st * 6364136223846793005ull + 1) >> 40) * 0x1p-27f;
        for (int64_t i = 0; i < N; i++) bd[i] = 0.1f;
        dg_convert_from_f32(w16.data, DG_BF16, wd, (size_t)(N * K));
        dg_convert_to_f32(wd, w16.data, DG_BF16, (size_t)(N * K)); /* the same values in both */
        double t32 = 0, t16to32 = 0, t16 = 0;
        int rc = time_linear(&y, &x, &w, &b, reps, &t32);
        if (!rc) rc = dg_backend_cpu_set_dtype(&be, DG_F32) || time_linear(&y, &x, &w16, &b, reps, &t16to32);
        if (!rc && has_bf16) rc = dg_backend_cpu_set_dtype(&be, DG_BF16) || time_linear(&y, &x, &w16, &b, reps, &t16);
        if (rc) {
            fprintf(stderr, "linear_bench: %s\n", dg_last_error());
            return 1;
        }
        const double flop = 2.0 * (double)M * (double)N * (double)K;
        printf("%-13s %5lld %6lld %6lld | %9.1f %9.1f %9.1f | %8.2f %8.0f\n", shapes[s].what, (long long)M,
               (long long)N, (long long)K, t32 * 1e3, t16to32 * 1e3, t16 * 1e3, has_bf16 ? t32 / t16 : 0.0,
               has_bf16 ? flop / t16 * 1e-9 : flop / t32 * 1e-9);
        fflush(stdout);
        dg_tensor_free(&x), dg_tensor_free(&w), dg_tensor_free(&w16), dg_tensor_free(&b), dg_tensor_free(&y);
    }
    dg_backend_free(&be);
    return 0;
}
