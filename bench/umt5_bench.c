/* Timing driver for bench/bench_umt5.py (built by that script, not by CMake):
 *   umt5_bench DIR IO.safetensors THREADS REPS
 * Encodes IO's `ids` (F32, exact integers; all-ones mask) with the encoder in
 * DIR: one warm-up, then REPS timed runs. Prints one JSON line with the
 * median seconds and the max abs error against IO's `out`. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/timing.h"
#include "core/cpu/blas_tune.h"
#include "core/backend.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "text/t5_encoder.h"

int main(int argc, char **argv) {
    dg_blas_tune_process(argv); /* OpenBLAS kernels suited to this CPU, as ditgen does */
    if (argc != 5) {
        fprintf(stderr, "usage: %s DIR IO.safetensors THREADS REPS\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[3]), reps = atoi(argv[4]);
    dg_backend be;
    dg_t5_encoder e;
    dg_safetensors io;
    if (reps < 1 || reps > 100 || dg_backend_cpu_init(&be, threads) || dg_safetensors_open(&io, argv[2]) ||
        dg_t5_load(&e, &be, argv[1])) {
        fprintf(stderr, "umt5_bench: %s\n", reps < 1 || reps > 100 ? "REPS outside 1..100" : dg_last_error());
        return 1;
    }
    const dg_st_tensor *ids_t = dg_safetensors_find(&io, "ids"), *ref_t = dg_safetensors_find(&io, "out");
    if (!ids_t || !ref_t || ids_t->dtype != DG_F32 || ref_t->dtype != DG_F32) {
        fprintf(stderr, "umt5_bench: %s needs F32 'ids' and 'out'\n", argv[2]);
        return 1;
    }
    int L = (int)(ids_t->nbytes / 4);
    int32_t *ids = malloc((size_t)L * sizeof *ids);
    float *out = malloc((size_t)L * e.cfg.d_model * sizeof *out);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!ids || !out || !t || ref_t->nbytes != (size_t)L * e.cfg.d_model * 4) {
        fprintf(stderr, "umt5_bench: out of memory or 'out' is not [%d, %d]\n", L, e.cfg.d_model);
        return 1;
    }
    for (int i = 0; i < L; i++) ids[i] = (int32_t)((const float *)ids_t->data)[i];
    for (int r = -1; r < reps; r++) {
        double t0 = cli_now_s();
        if (dg_t5_encode(&e, ids, NULL, L, out)) {
            fprintf(stderr, "umt5_bench: %s\n", dg_last_error());
            return 1;
        }
        if (r >= 0) t[r] = cli_now_s() - t0;
    }
    const double median = cli_median(t, reps);
    const float *ref = ref_t->data;
    double err = 0, scale = 0;
    for (size_t i = 0; i < (size_t)L * e.cfg.d_model; i++) {
        err = fmax(err, fabs((double)out[i] - ref[i]));
        scale = fmax(scale, fabs((double)ref[i]));
    }
    printf("{\"seconds\": %.6f, \"tokens\": %d, \"max_abs_err\": %.3g, \"max_abs_ref\": %.3g}\n", median, L, err,
           scale);
    free(ids), free(out), free(t);
    dg_t5_free(&e);
    dg_safetensors_close(&io);
    dg_backend_free(&be);
    return 0;
}
