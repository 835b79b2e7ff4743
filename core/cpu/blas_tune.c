#include "core/cpu/blas_tune.h"

#include <stddef.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

char *openblas_get_corename(void);
int openblas_get_parallel(void);

const char *dg_blas_corename(void) { return openblas_get_corename(); }

const char *dg_blas_threading(void) {
    switch (openblas_get_parallel()) {
    case 0: return "sequential";
    case 1: return "pthreads";
    default: return "openmp";
    }
}

const char *dg_blas_better_coretype(void) {
    static const char *const legacy[] = {"Prescott", "Katmai", "Coppermine", "Northwood", "Core2", "Penryn",
                                         "Dunnington", "Nehalem", "Atom", "Sandybridge", "Unknown"};
    const char *cur = openblas_get_corename();
    int is_legacy = cur == NULL;
    for (size_t i = 0; cur && i < sizeof legacy / sizeof *legacy; i++)
        if (!strcasecmp(cur, legacy[i])) is_legacy = 1;
    if (!is_legacy) return NULL;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

void dg_blas_tune_process(char **argv) {
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : dg_blas_better_coretype();
    if (core && setenv("OPENBLAS_CORETYPE", core, 1) == 0) execv("/proc/self/exe", argv);
}
