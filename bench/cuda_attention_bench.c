/* Times the CUDA backend's dense flash attention op on one shape, the stream
 * drained around each call. Driven by bench/bench_cuda_attention.py, which
 * documents the build command:
 *   cuda_attention_bench NQ NK HEADS HEAD_DIM REPS [QKV.f32 OUT.f32]
 * Inputs are random in [-1, 1) unless QKV.f32 is given: raw f32 q [NQ, H*D]
 * then k and v [NK, H*D] (tokens-major, heads interleaved); the output of the
 * last run goes to OUT.f32 [NQ, H*D] for a parity check. Prints one line of
 * key=value: median and best milliseconds, and TFLOP/s counting 4*NQ*NK*D*H. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/timing.h"
#include "core/backend.h"
#include "core/cpu/blas_tune.h"
#include "core/error.h"
#include "core/ops.h"

static int fail(const char *what) {
    fprintf(stderr, "cuda_attention_bench: %s: %s\n", what, dg_last_error());
    return 1;
}

int main(int argc, char **argv) {
    dg_blas_tune_process(argv); /* OpenBLAS kernels suited to this CPU, as ditgen does */
    if (argc != 6 && argc != 8) {
        fprintf(stderr, "usage: %s NQ NK HEADS HEAD_DIM REPS [QKV.f32 OUT.f32]\n", argv[0]);
        return 2;
    }
    const int64_t nq = atoll(argv[1]), nk = atoll(argv[2]);
    const int heads = atoi(argv[3]), hd = atoi(argv[4]), reps = atoi(argv[5]);
    if (nq < 1 || nk < 1 || heads < 1 || hd < 1 || reps < 1) {
        fprintf(stderr, "cuda_attention_bench: sizes and REPS must be >= 1\n");
        return 2;
    }
    const int64_t width = (int64_t)heads * hd, nqf = nq * width, nkf = nk * width;
    float *h = malloc((size_t)(nqf + 2 * nkf) * sizeof(float));
    double *times = malloc((size_t)reps * sizeof(double));
    if (!h || !times) {
        fprintf(stderr, "cuda_attention_bench: out of memory\n");
        return 1;
    }
    if (argc == 8) {
        FILE *f = fopen(argv[6], "rb");
        size_t got = f ? fread(h, sizeof(float), (size_t)(nqf + 2 * nkf), f) : 0;
        if (f) fclose(f);
        if (got != (size_t)(nqf + 2 * nkf)) {
            fprintf(stderr, "cuda_attention_bench: %s: expected %lld floats\n", argv[6], (long long)(nqf + 2 * nkf));
            return 1;
        }
    } else {
        uint64_t st = 0x9E3779B97F4A7C15ull;
        for (int64_t i = 0; i < nqf + 2 * nkf; i++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            h[i] = (float)((double)(st >> 40) / (double)(1 << 23) - 1.0);
        }
    }
    dg_backend be;
    dg_tensor q, k, v, o;
    const int64_t qs[2] = {nq, width}, ks[2] = {nk, width};
    if (dg_backend_cuda_init(&be, 0)) return fail("device");
    if (dg_tensor_alloc(&q, &be, DG_F32, 2, qs) || dg_tensor_alloc(&o, &be, DG_F32, 2, qs) ||
        dg_tensor_alloc(&k, &be, DG_F32, 2, ks) || dg_tensor_alloc(&v, &be, DG_F32, 2, ks) ||
        dg_tensor_upload(&q, h) || dg_tensor_upload(&k, h + nqf) || dg_tensor_upload(&v, h + nqf + nkf))
        return fail("inputs");
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        double t0 = cli_now_s();
        if (dg_attention(&o, &q, &k, &v, heads, NULL) || dg_backend_sync(&be)) return fail("attention");
        if (r >= 0) times[r] = (cli_now_s() - t0) * 1e3;
    }
    if (argc == 8) {
        if (dg_tensor_download(&o, h)) return fail("download");
        FILE *f = fopen(argv[7], "wb");
        if (!f || fwrite(h, sizeof(float), (size_t)nqf, f) != (size_t)nqf) {
            fprintf(stderr, "cuda_attention_bench: cannot write %s\n", argv[7]);
            return 1;
        }
        fclose(f);
    }
    const double med = cli_median(times, reps);
    double best = times[0];
    for (int r = 1; r < reps; r++) best = times[r] < best ? times[r] : best;
    const double flop = 4.0 * (double)nq * (double)nk * hd * heads;
    printf("seq=%lld kv_seq=%lld heads=%d head_dim=%d median_ms=%.3f best_ms=%.3f tflops=%.1f\n", (long long)nq,
           (long long)nk, heads, hd, med, best, flop / (med * 1e-3) / 1e12);
    dg_tensor_free(&q), dg_tensor_free(&k), dg_tensor_free(&v), dg_tensor_free(&o);
    dg_backend_free(&be);
    free(h), free(times);
    return 0;
}
