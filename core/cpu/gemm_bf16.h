/* y = x w^T (+ b) with a bf16 weight, computed in bf16 with f32 accumulation through oneDNN's
 * matmul (AMX or AVX512-BF16 kernels) instead of converting the whole weight to f32 per call.
 * x is f32 in memory and rounded to bf16 per call (M*K work, small next to the M*N*K product).
 * Present only in builds with oneDNN (DG_HAVE_DNNL) on CPUs with AVX512-BF16 or AMX-BF16;
 * otherwise the CPU linear keeps its f32 sgemm path. */
#ifndef DG_CORE_CPU_GEMM_BF16_H
#define DG_CORE_CPU_GEMM_BF16_H

#include <stdint.h>

typedef struct dg_bf16_gemm dg_bf16_gemm;

/* 1 when this build and this CPU can run the bf16 GEMM. */
int dg_gemm_bf16_supported(void);
/* Engine, stream and a small cache of matmul primitives; refused when unsupported. */
int dg_gemm_bf16_init(dg_bf16_gemm **g);
void dg_gemm_bf16_free(dg_bf16_gemm *g);
/* y [M, N] f32 = x [M, K] f32 (rounded to bf16) . w [N, K] bf16 ^T + b [N] f32 (may be NULL). */
int dg_gemm_bf16(dg_bf16_gemm *g, float *y, const float *x, const uint16_t *w, const float *b, int64_t M,
                 int64_t N, int64_t K, const char *name);

#endif
