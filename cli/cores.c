#define _GNU_SOURCE
#include "cli/cores.h"

#include <sched.h>
#include <stdio.h>

/* /sys/devices/system/cpu/cpuN/topology/NAME as an integer, or -1. */
static long topology(int cpu, const char *name) {
    char path[128];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, name);
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = -1;
        fclose(f);
    }
    return v;
}

int cli_physical_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    long seen[CPU_SETSIZE][2];
    int n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set)) continue;
        long pkg = topology(cpu, "physical_package_id"), core = topology(cpu, "core_id");
        if (core < 0) return CPU_COUNT(&set); /* no topology: every allowed CPU */
        int dup = 0;
        for (int i = 0; i < n && !dup; i++) dup = seen[i][0] == pkg && seen[i][1] == core;
        if (!dup) seen[n][0] = pkg, seen[n][1] = core, n++;
    }
    return n > 0 ? n : 1;
}
