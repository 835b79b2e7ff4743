/* Wall-clock timing shared by the commands and the benchmarks. */
#ifndef DG_CLI_TIMING_H
#define DG_CLI_TIMING_H

#include <stdint.h>

/* Monotonic clock in seconds. */
double cli_now_s(void);
/* Sorts t[0..n) ascending (t[0] is then the best run) and returns the median
 * (the mean of the middle two for even n). n >= 1. */
double cli_median(double *t, int64_t n);

/* Seconds spent per stage of a command, summed over its generations, for the closing total line. */
typedef struct cli_stages {
    double load, encode, denoise, decode, write;
} cli_stages;
extern cli_stages cli_stage_s;

/* "1:05" / "1:02:05" (h:mm:ss past an hour): the progress bar's ETA. */
void cli_format_duration(double seconds, char *buf, int size);

#endif
