/* Reading float32 reference tensors from a safetensors fixture in tests. */
#ifndef DG_TESTS_FIXTURE_H
#define DG_TESTS_FIXTURE_H

#include <stdio.h>

#include "core/error.h"
#include "io/safetensors.h"
#include "tests/test.h"

/* The F32 tensor `name` (NULL and a failed check when absent or not F32). */
static inline const float *fixture_f32(const dg_safetensors *st, const char *name, int64_t *numel) {
    const dg_st_tensor *t = dg_safetensors_find(st, name);
    CHECK(t != NULL, "fixture tensor '%s' missing", name);
    if (!t) return NULL;
    CHECK(t->dtype == DG_F32, "fixture tensor '%s' is not F32", name);
    if (numel) *numel = (int64_t)(t->nbytes / 4);
    return t->dtype == DG_F32 ? t->data : NULL;
}

/* Open tests/fixtures/<name> (a failed check when it cannot be read). */
static inline int fixture_open(dg_safetensors *st, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/%s", DG_TEST_DIR, name);
    int rc = dg_safetensors_open(st, path);
    CHECK(rc == 0, "fixture %s: %s", name, dg_last_error());
    return rc;
}

/* Compare n floats against a reference; tolerance relative to max|ref|. */
static inline void check_close(const char *what, const float *got, const float *ref, size_t n, double rel_tol) {
    double err, scale;
    test_max_err(got, ref, n, &err, &scale);
    int ok = err <= rel_tol * (scale > 0 ? scale : 1.0);
    printf("%-28s max_abs_err %.3g  scale %.3g  (%s)\n", what, err, scale, ok ? "ok" : "FAIL");
    CHECK(ok, "%s: max abs error %g exceeds %g x %g", what, err, rel_tol, scale);
}

#endif
