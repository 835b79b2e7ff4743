#include "cli/args.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *error_ctx;

void cli_error_context(const char *ctx) { error_ctx = ctx; }

void cli_error(const char *fmt, ...) {
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (error_ctx) fprintf(stderr, "ditgen %s: %s\n", error_ctx, msg);
    else fprintf(stderr, "ditgen: %s\n", msg);
}

int cli_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

const char *cli_refused_option(char **argv) {
    static char shortopt[3] = "-?";
    if (optopt > 0 && optopt < 128) {
        shortopt[1] = (char)optopt;
        return shortopt;
    }
    return argv[optind - 1];
}

int cli_parse_int(const char *flag, const char *val, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (!*val || *end || errno || v < lo || v > hi) {
        cli_error("%s expects an integer in %lld..%lld, got '%s'", flag, (long long)lo, (long long)hi, val);
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
        cli_error("%s expects a number in %g..%g, got '%s'", flag, lo, hi, val);
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
            cli_error("%s '%s': the only conversion a frame pattern may hold is %%d (or %%03d; %%%% for a "
                      "literal %%)", flag, path);
            return -1;
        }
        conversions++;
        c = d;
    }
    if (conversions > 1) {
        cli_error("%s '%s': a frame pattern holds one %%d, not %d", flag, path, conversions);
        return -1;
    }
    if (percents && !conversions) {
        cli_error("%s '%s': %%%% is a literal %% only in a frame pattern (with %%03d); a single-file path "
                  "may not hold '%%'", flag, path);
        return -1;
    }
    return conversions;
}

const char *cli_rank_device(const char *device, char *buf, size_t size) {
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (!device || strcmp(device, "cuda") || !local) return device;
    snprintf(buf, size, "cuda:%d", atoi(local));
    return buf;
}
