/* The default thread count: one per physical core this process may run on. Hyperthread siblings
 * share a core's units, and on a shared machine a thread per logical CPU contends (measured: with
 * one core busy, 2 threads ran 4x slower than 1). */
#ifndef DG_CLI_CORES_H
#define DG_CLI_CORES_H

/* Physical cores (distinct package/core ids) among the CPUs in this process's affinity mask; the
 * affinity mask's size where the topology is not readable; at least 1. */
int cli_physical_cores(void);

#endif
