/* Minimal test harness: CHECK records a failure and goes on; tests end with
 * `return TEST_END();`. Exit 77 means skipped (ctest SKIP_RETURN_CODE). */
#ifndef DG_TESTS_TEST_H
#define DG_TESTS_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int test_failures = 0;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
            test_failures++;                                                    \
        }                                                                       \
    } while (0)

/* A call returning DG_OK; prints the library's error on failure. */
#define CHECK_OK(call)                                                          \
    do {                                                                        \
        if ((call) != 0) {                                                      \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, dg_last_error()); \
            test_failures++;                                                    \
        }                                                                       \
    } while (0)

#define TEST_SKIP(...)                                                          \
    do {                                                                        \
        printf("skipped: ");                                                    \
        printf(__VA_ARGS__);                                                    \
        printf("\n");                                                           \
        return 77;                                                              \
    } while (0)

#define TEST_END() (test_failures ? (fprintf(stderr, "%d check(s) failed\n", test_failures), 1) : (printf("passed\n"), 0))

/* max |a-b| and max |b| over n floats. */
static inline void test_max_err(const float *a, const float *b, size_t n, double *max_err, double *max_ref) {
    double e = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > e || d != d) e = d;
        if (fabs((double)b[i]) > r) r = fabs((double)b[i]);
    }
    *max_err = e;
    *max_ref = r;
}

#endif
