/* Whole generations in the pipeline tests: against a fixture's latents, or refused. */
#ifndef DG_TESTS_PIPELINE_CHECKS_H
#define DG_TESTS_PIPELINE_CHECKS_H

#include <stdlib.h>
#include <string.h>

#include "ditgen.h"
#include "tests/fixture.h"

/* The tiny Wan fixture model (tests/fixtures/wan_tiny) on device (NULL: the CPU); NULL on failure. */
static inline dg_pipeline *wan_tiny_open(const char *device) {
    char path[512];
    dg_pipeline *p = NULL;
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny", DG_TEST_DIR);
    CHECK_OK(dg_pipeline_open(&p, path, device, 0));
    return test_failures ? NULL : p;
}

/* Generate g and compare with io's "<name>.latents" (max abs error <= rel_tol x max|ref|). Returns the
 * latents (the caller frees them; *numel their count), or NULL when the fixture or the run failed. */
static inline float *check_generation(dg_pipeline *p, const dg_safetensors *io, const char *name,
                                      const dg_gen_params *g, double rel_tol, int64_t *numel) {
    char key[64];
    int64_t n, shape[4];
    snprintf(key, sizeof key, "%s.latents", name);
    const float *ref = fixture_f32(io, key, &n);
    if (!ref) return NULL;
    CHECK_OK(dg_pipeline_latent_shape(p, g, shape));
    CHECK(shape[0] * shape[1] * shape[2] * shape[3] == n, "%s: latent size", name);
    float *lat = malloc((size_t)n * sizeof(float));
    if (test_failures || !lat || dg_pipeline_generate(p, g, lat, NULL, NULL, NULL) != DG_OK) {
        CHECK(0, "%s: %s", name, lat ? dg_last_error() : "out of memory");
        free(lat);
        return NULL;
    }
    check_close(name, lat, ref, (size_t)n, rel_tol);
    if (numel) *numel = n;
    return lat;
}

/* A generation the pipeline must refuse before it draws any noise, with want in the message. */
static inline void expect_refused(dg_pipeline *p, dg_gen_params g, const char *want) {
    float lat[1]; /* every check runs before the latents are written */
    int rc = dg_pipeline_generate(p, &g, lat, NULL, NULL, NULL);
    CHECK(rc != 0 && strstr(dg_last_error(), want), "expected an error mentioning '%s', got '%s'", want,
          rc ? dg_last_error() : "success");
}

#endif
