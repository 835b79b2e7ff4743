/* Times dense CUDA flash attention (attention/cuda) on one shape, with CUDA
 * events around each call. Driven by bench/bench_cuda_attention.py, which
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

#include <cuda_runtime_api.h>

#include "core/cpu/blas_tune.h"
#include "attention/cuda/attention_cuda.h"
#include "core/error.h"

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

#define CU(call)                                                                                      \
    do {                                                                                              \
        cudaError_t e_ = (call);                                                                      \
        if (e_ != cudaSuccess) {                                                                      \
            fprintf(stderr, "cuda_attention_bench: %s failed: %s\n", #call, cudaGetErrorString(e_)); \
            return 1;                                                                                 \
        }                                                                                             \
    } while (0)

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
    dg_attn_shape s = {nq, nk, heads, hd, width, width, 1.0f / sqrtf((float)hd)};
    float *h = malloc((size_t)(nqf + 2 * nkf) * sizeof(float));
    float *times = malloc((size_t)reps * sizeof(float));
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
    float *q, *k, *v, *o;
    CU(cudaMalloc((void **)&q, (size_t)nqf * sizeof(float)));
    CU(cudaMalloc((void **)&o, (size_t)nqf * sizeof(float)));
    CU(cudaMalloc((void **)&k, (size_t)nkf * sizeof(float)));
    CU(cudaMalloc((void **)&v, (size_t)nkf * sizeof(float)));
    CU(cudaMemcpy(q, h, (size_t)nqf * sizeof(float), cudaMemcpyHostToDevice));
    CU(cudaMemcpy(k, h + nqf, (size_t)nkf * sizeof(float), cudaMemcpyHostToDevice));
    CU(cudaMemcpy(v, h + nqf + nkf, (size_t)nkf * sizeof(float), cudaMemcpyHostToDevice));
    cudaEvent_t e0, e1;
    CU(cudaEventCreate(&e0));
    CU(cudaEventCreate(&e1));
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        CU(cudaEventRecord(e0, 0));
        if (dg_attention_dense_cuda(o, q, k, v, &s) != DG_OK) {
            fprintf(stderr, "cuda_attention_bench: %s\n", dg_last_error());
            return 1;
        }
        CU(cudaEventRecord(e1, 0));
        CU(cudaEventSynchronize(e1));
        if (r >= 0) CU(cudaEventElapsedTime(&times[r], e0, e1));
    }
    if (argc == 8) {
        CU(cudaMemcpy(h, o, (size_t)nqf * sizeof(float), cudaMemcpyDeviceToHost));
        FILE *f = fopen(argv[7], "wb");
        if (!f || fwrite(h, sizeof(float), (size_t)nqf, f) != (size_t)nqf) {
            fprintf(stderr, "cuda_attention_bench: cannot write %s\n", argv[7]);
            return 1;
        }
        fclose(f);
    }
    qsort(times, (size_t)reps, sizeof(float), cmp_float);
    const double flop = 4.0 * (double)nq * (double)nk * hd * heads;
    printf("seq=%lld kv_seq=%lld heads=%d head_dim=%d median_ms=%.3f best_ms=%.3f tflops=%.1f\n", (long long)nq,
           (long long)nk, heads, hd, times[reps / 2], times[0], flop / (times[reps / 2] * 1e-3) / 1e12);
    cudaFree(q), cudaFree(k), cudaFree(v), cudaFree(o);
    free(h), free(times);
    return 0;
}
