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

int cli_frame_pattern(const char *flag, const char *path) {
    int conversions = 0, percents = 0;
    for (const char *c = path; *c; c++) {
        if (*c != '%') continue;
        percents++;
        if (c[1] == '%') {
            c++;
            continue;
        }
        const char *d = c + 1;
        if (*d == '0') d++;
        int width_digits = 0;
        while (*d >= '0' && *d <= '9') d++, width_digits++;
        if (*d != 'd' || width_digits > 2) {
            fprintf(stderr, "ditgen: %s '%s': the only conversion a frame pattern may hold is %%d (or %%03d; "
                            "%%%% for a literal %%)\n", flag, path);
            return -1;
        }
        conversions++;
        c = d;
    }
    if (conversions > 1) {
        fprintf(stderr, "ditgen: %s '%s': a frame pattern holds one %%d, not %d\n", flag, path, conversions);
        return -1;
    }
    if (percents && !conversions) {
        fprintf(stderr, "ditgen: %s '%s': %%%% is a literal %% only in a frame pattern (with %%03d); a "
                        "single-file path may not hold '%%'\n", flag, path);
        return -1;
    }
    return conversions;
}
