/* The VAE decode split by latent frames under mpirun -np N (ctest runs N = 1, 2, 3): with the whole
 * causal history as warm-up (vae_halo 0, the default) every rank's video equals the one-process decode
 * (max abs error <= 1e-6, pixels in [-1, 1]); with warm-ups of 1..4 latent frames the mean and max
 * errors are printed (the table in docs/parallel.md), and a longer warm-up lowers the mean error; a
 * negative warm-up is refused. */
#include <math.h>
#include <string.h>

#include "tests/test.h"
#include "tests/pipeline_checks.h"

enum { F = 9, LH = 4, LW = 4 };

/* The max abs error of the split decode with this warm-up; *mean its mean abs error. */
static double split_error(dg_pipeline *p, const float *z, const int64_t shape[4], const float *whole, int64_t n,
                          int halo, double *mean) {
    float *frames = malloc((size_t)n * sizeof(float));
    const dg_parallel_opts exact = {.mode = "exact", .vae_halo = halo};
    CHECK_OK(dg_pipeline_set_parallel(p, &exact));
    CHECK_OK(dg_pipeline_decode(p, z, shape, 0, frames));
    double e = 0, r;
    if (!test_failures) test_max_err(frames, whole, (size_t)n, &e, &r);
    double sum = 0;
    for (int64_t i = 0; i < n && !test_failures; i++) sum += fabs((double)frames[i] - whole[i]);
    *mean = sum / (double)n;
    free(frames);
    return e;
}

int main(void) {
    dg_pipeline *p = wan_tiny_open(NULL);
    if (!p) return TEST_END();
    const dg_model_info *info = dg_pipeline_info(p);
    const int64_t shape[4] = {info->in_channels, F, LH, LW};
    const int64_t nz = shape[0] * F * LH * LW, To = 1 + (int64_t)info->temporal_factor * (F - 1);
    const int64_t n = 3 * To * LH * info->spatial_factor * LW * info->spatial_factor;
    float *z = malloc((size_t)nz * sizeof(float)), *whole = malloc((size_t)n * sizeof(float));
    uint64_t st = 12345;
    for (int64_t i = 0; i < nz; i++) { /* the same pseudo-random latents on every rank */
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        z[i] = (float)((double)(st >> 11) / 9007199254740992.0 * 4.0 - 2.0);
    }
    CHECK_OK(dg_pipeline_set_parallel(p, NULL));
    CHECK_OK(dg_pipeline_decode(p, z, shape, 0, whole));
    int rank, size;
    CHECK_OK(dg_pipeline_set_parallel(p, &(dg_parallel_opts){.mode = "exact"}));
    dg_pipeline_rank(p, &rank, &size);
    double mean[5], exact_mean;
    const double exact = split_error(p, z, shape, whole, n, 0, &exact_mean);
    printf("rank %d of %d: whole history   max err %.3g\n", rank, size, exact);
    CHECK(exact <= 1e-6, "rank %d: the split decode with the whole history differs by %g", rank, exact);
    double err[5];
    for (int h = 1; h <= 4; h++) {
        err[h] = split_error(p, z, shape, whole, n, h, &mean[h]);
        printf("rank %d of %d: warm-up %d latent frames  mean err %.3g  max err %.3g\n", rank, size, h, mean[h],
               err[h]);
    }
    if (size > 1)
        CHECK(mean[4] < mean[1], "rank %d: a longer warm-up does not reduce the error (%g, %g)", rank, mean[1],
              mean[4]);
    CHECK(dg_pipeline_set_parallel(p, &(dg_parallel_opts){.mode = "exact", .vae_halo = -1}) == DG_ERR,
          "a negative VAE warm-up is refused");
    free(z), free(whole);
    dg_pipeline_close(p);
    return TEST_END();
}
