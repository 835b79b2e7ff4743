/* Wall-clock timing shared by the commands and the benchmarks. */
#ifndef DG_CLI_TIMING_H
#define DG_CLI_TIMING_H

#include <stdint.h>

/* Monotonic clock in seconds. */
double cli_now_s(void);
/* Sorts t[0..n) ascending (t[0] is then the best run) and returns the median
 * (the mean of the middle two for even n). n >= 1. */
double cli_median(double *t, int64_t n);

#endif
