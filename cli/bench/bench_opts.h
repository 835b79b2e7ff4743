/* One option parser for the `ditgen bench` subcommands: each describes its options in a table
 * (long name, short letter, kind, where the value goes, its range or choices) and gets the same
 * checks and the same one-line messages (cli_error, with the subcommand's context). */
#ifndef DG_CLI_BENCH_OPTS_H
#define DG_CLI_BENCH_OPTS_H

#include <stdint.h>
#include <stdio.h>

/* The most tokens one benchmarked attention call takes (--seq, --kv-seq, a --geometry). */
#define BENCH_MAX_TOKENS (1 << 20)

typedef enum {
    BENCH_OPT_INT,    /* int *, in lo..hi */
    BENCH_OPT_INT64,  /* int64_t *, in lo..hi */
    BENCH_OPT_DOUBLE, /* double *, in dlo..dhi */
    BENCH_OPT_STRING, /* const char ** (points into argv) */
    BENCH_OPT_CHOICE, /* int *: the index of the value in choices */
    BENCH_OPT_CUSTOM, /* parse(flag, value, out) */
} bench_opt_kind;

typedef struct bench_opt {
    const char *name; /* the long flag without its dashes; NULL ends the table */
    char short_name;  /* 0: none */
    bench_opt_kind kind;
    void *out;
    int64_t lo, hi;
    double dlo, dhi;
    const char *const *choices; /* NULL-terminated */
    int (*parse)(const char *flag, const char *value, void *out); /* 0, or -1 after one cli_error line */
    int required;                                                 /* refused when not given */
} bench_opt;

/* Table rows; extra designators (.required = 1) may follow. */
#define BENCH_INT(nm, sh, o, l, h, ...) \
    {.name = nm, .short_name = sh, .kind = BENCH_OPT_INT, .out = o, .lo = l, .hi = h, __VA_ARGS__}
#define BENCH_INT64(nm, sh, o, l, h, ...) \
    {.name = nm, .short_name = sh, .kind = BENCH_OPT_INT64, .out = o, .lo = l, .hi = h, __VA_ARGS__}
#define BENCH_DOUBLE(nm, sh, o, l, h, ...) \
    {.name = nm, .short_name = sh, .kind = BENCH_OPT_DOUBLE, .out = o, .dlo = l, .dhi = h, __VA_ARGS__}
#define BENCH_STRING(nm, sh, o, ...) {.name = nm, .short_name = sh, .kind = BENCH_OPT_STRING, .out = o, __VA_ARGS__}
#define BENCH_CHOICE(nm, sh, o, names, ...) \
    {.name = nm, .short_name = sh, .kind = BENCH_OPT_CHOICE, .out = o, .choices = names, __VA_ARGS__}
#define BENCH_CUSTOM(nm, sh, o, fn, ...) \
    {.name = nm, .short_name = sh, .kind = BENCH_OPT_CUSTOM, .out = o, .parse = fn, __VA_ARGS__}
#define BENCH_END {.name = NULL}

/* argv[0] is the subcommand's name. Returns 0 to run, 1 after usage(stdout) for -h/--help, -1 after
 * one line on stderr (an unknown option, a missing value, a value out of range, a stray argument, a
 * required option not given). */
int bench_opts_parse(int argc, char **argv, const bench_opt *opts, void (*usage)(FILE *));

#endif
