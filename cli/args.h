/* Strict flag-value parsing shared by the subcommands: the whole string must
 * be a number in range, else one line on stderr naming the flag. */
#ifndef DG_CLI_ARGS_H
#define DG_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* What the error lines name before the message: "generate" gives "ditgen generate: ...",
 * "batch: jobs.json job 3" gives "ditgen batch: jobs.json job 3: ...", NULL gives "ditgen: ...".
 * The string is not copied. */
void cli_error_context(const char *ctx);
/* One line on stderr with the context's prefix. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The option getopt_long just refused, for its message: "--name", or "-x" for a short option
 * (also one inside a cluster like -xp, where argv does not point at it). */
const char *cli_refused_option(char **argv);

/* s ends with suffix (".png", ".safetensors", ...). */
int cli_ends_with(const char *s, const char *suffix);

int cli_parse_int(const char *flag, const char *val, int64_t lo, int64_t hi, int64_t *out);
/* Under mpirun, "cuda" becomes the GPU of this process's rank on its node (cuda:<local rank>, written to
 * buf); any other device is returned as it is. */
const char *cli_rank_device(const char *device, char *buf, size_t size);
int cli_parse_double(const char *flag, const char *val, double lo, double hi, double *out);

/* An output path used as a per-frame pattern goes to snprintf, so it is checked first: 1 if it
 * holds exactly one %d conversion (optionally %0Nd, N < 100; %% is a literal percent), 0 if it
 * holds no '%' at all, -1 (one line on stderr naming the flag) for anything else. */
int cli_frame_pattern(const char *flag, const char *path);

#endif
