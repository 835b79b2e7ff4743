#include "cli/bench/bench_opts.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"

#define BENCH_MAX_OPTS 32

/* "text or json", "text, csv or json" */
static void choice_list(const char *const *choices, char *buf, size_t size) {
    buf[0] = 0;
    for (int i = 0; choices[i]; i++) {
        size_t n = strlen(buf);
        const char *sep = i == 0 ? "" : choices[i + 1] ? ", " : " or ";
        snprintf(buf + n, size - n, "%s%s", sep, choices[i]);
    }
}

static int parse_value(const bench_opt *o, const char *flag, const char *val) {
    int64_t v;
    switch (o->kind) {
    case BENCH_OPT_INT:
        if (cli_parse_int(flag, val, o->lo, o->hi, &v)) return -1;
        *(int *)o->out = (int)v;
        return 0;
    case BENCH_OPT_INT64: return cli_parse_int(flag, val, o->lo, o->hi, (int64_t *)o->out);
    case BENCH_OPT_DOUBLE: return cli_parse_double(flag, val, o->dlo, o->dhi, (double *)o->out);
    case BENCH_OPT_STRING: *(const char **)o->out = val; return 0;
    case BENCH_OPT_CUSTOM: return o->parse(flag, val, o->out);
    case BENCH_OPT_CHOICE:
        for (int i = 0; o->choices[i]; i++)
            if (!strcmp(o->choices[i], val)) {
                *(int *)o->out = i;
                return 0;
            }
        char list[256];
        choice_list(o->choices, list, sizeof list);
        cli_error("%s must be %s, got '%s'", flag, list, val);
        return -1;
    }
    return -1;
}

int bench_opts_parse(int argc, char **argv, const bench_opt *opts, void (*usage)(FILE *)) {
    struct option longs[BENCH_MAX_OPTS + 2];
    char shorts[2 * BENCH_MAX_OPTS + 4] = ":h", given[BENCH_MAX_OPTS] = {0};
    int n = 0;
    for (; opts[n].name; n++) {
        if (n == BENCH_MAX_OPTS) {
            cli_error("more than %d options in one bench table", BENCH_MAX_OPTS);
            return -1;
        }
        longs[n] = (struct option){opts[n].name, required_argument, 0, 256 + n};
        if (opts[n].short_name) {
            size_t k = strlen(shorts);
            shorts[k] = opts[n].short_name, shorts[k + 1] = ':', shorts[k + 2] = 0;
        }
    }
    longs[n] = (struct option){"help", no_argument, 0, 'h'};
    longs[n + 1] = (struct option){0, 0, 0, 0};
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, shorts, longs, NULL)) != -1;) {
        int i = c - 256;
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        if (c == ':') {
            cli_error("%s needs a value", argv[optind - 1]);
            return -1;
        }
        for (int k = 0; c < 256 && c != '?' && k < n; k++)
            if (opts[k].short_name == c) i = k;
        if (i < 0 || i >= n) {
            cli_error("unknown option '%s' (see ditgen bench %s --help)", cli_refused_option(argv), argv[0]);
            return -1;
        }
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", opts[i].name);
        if (parse_value(&opts[i], flag, optarg)) return -1;
        given[i] = 1;
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s'", argv[optind]);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (opts[i].required && !given[i]) {
            cli_error("--%s is required (try --help)", opts[i].name);
            return -1;
        }
    return 0;
}
