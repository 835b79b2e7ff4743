/* OpenBLAS kernel selection. OpenBLAS 0.3.21 (Debian 12) does not recognise
 * newer CPUs such as Sapphire Rapids and falls back to its SSE3 "Prescott"
 * kernels, about 6x slower. The choice is made when the library loads, so the
 * only fix is OPENBLAS_CORETYPE in the environment before the process starts. */
#ifndef DG_CORE_CPU_BLAS_TUNE_H
#define DG_CORE_CPU_BLAS_TUNE_H

/* The kernel family OpenBLAS is using ("Prescott", "SkylakeX", ...). */
const char *dg_blas_corename(void);
/* How OpenBLAS runs its threads: "openmp" (it shares ditgen's OpenMP pool), "pthreads" (its own
 * threads, which spin against OpenMP's between calls: 1.3-6x slower on 2 cores, worst for small
 * models; Debian's libopenblas-openmp-dev avoids it) or "sequential". */
const char *dg_blas_threading(void);
/* A better OPENBLAS_CORETYPE for this CPU when OpenBLAS picked a legacy one
 * ("SkylakeX" with AVX-512, "Haswell" with AVX2+FMA), else NULL. */
const char *dg_blas_better_coretype(void);

/* For programs' main(): when OpenBLAS picked legacy kernels and
 * OPENBLAS_CORETYPE is unset, set it and re-exec the program once (the
 * choice is made at load time). Returns only when no restart happened. */
void dg_blas_tune_process(char **argv);

#endif
