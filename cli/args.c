#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int cli_parse_int(const char *flag, const char *val, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (!*val || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "ditgen: %s expects an integer in %lld..%lld, got '%s'\n", flag, (long long)lo,
                (long long)hi, val);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *flag, const char *val, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (!*val || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "ditgen: %s expects a number in %g..%g, got '%s'\n", flag, lo, hi, val);
        return -1;
    }
    *out = v;
    return 0;
}
