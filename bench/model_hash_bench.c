/* Timing driver for bench/model_hash.sh (built on demand: cmake --build build --target model_hash_bench):
 *   model_hash_bench WEIGHTS.safetensors REPS
 * The model hash (SHA-256 over the transformer's weights) with no cache: one warm-up (the file
 * then sits in the page cache), REPS timed runs; then the cached lookup. Prints one JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/timing.h"
#include "core/error.h"
#include "io/model_hash.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int reps = argc == 3 ? atoi(argv[2]) : 0;
    if (reps < 1 || reps > 50) {
        fprintf(stderr, "usage: %s WEIGHTS.safetensors REPS (1..50)\n", argv[0]);
        return 2;
    }
    char hash[DG_MODEL_HASH_LEN + 1], cache[4200];
    double t[50], c[50];
    snprintf(cache, sizeof cache, "%s.hashcache", argv[1]);
    unlink(cache);
    if (dg_model_hash(argv[1], NULL, hash)) goto fail;
    for (int r = 0; r < reps; r++) {
        double t0 = cli_now_s();
        if (dg_model_hash(argv[1], NULL, hash)) goto fail;
        t[r] = cli_now_s() - t0;
    }
    if (dg_model_hash(argv[1], cache, hash)) goto fail; /* fills the cache */
    for (int r = 0; r < reps; r++) {
        double t0 = cli_now_s();
        if (dg_model_hash(argv[1], cache, hash)) goto fail;
        c[r] = cli_now_s() - t0;
    }
    unlink(cache);
    qsort(t, (size_t)reps, sizeof *t, cmp_d);
    qsort(c, (size_t)reps, sizeof *c, cmp_d);
    printf("{\"hash\": \"%s\", \"uncached_s\": %.3f, \"cached_s\": %.6f}\n", hash, t[reps / 2], c[reps / 2]);
    return 0;
fail:
    fprintf(stderr, "model_hash_bench: %s\n", dg_last_error());
    return 1;
}
