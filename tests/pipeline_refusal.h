/* A generation the pipeline must refuse before it draws any noise, with want in the message. */
#ifndef DG_TESTS_PIPELINE_REFUSAL_H
#define DG_TESTS_PIPELINE_REFUSAL_H

#include <string.h>

#include "ditgen.h"
#include "tests/test.h"

static inline void expect_refused(dg_pipeline *p, dg_gen_params g, const char *want) {
    float lat[1]; /* every check runs before the latents are written */
    int rc = dg_pipeline_generate(p, &g, lat, NULL, NULL, NULL);
    CHECK(rc != 0 && strstr(dg_last_error(), want), "expected an error mentioning '%s', got '%s'", want,
          rc ? dg_last_error() : "success");
}

#endif
