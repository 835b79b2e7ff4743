/* CPU implementations of the backend table (shapes already checked in core/ops.c). */
#ifndef DG_CORE_CPU_OPS_CPU_H
#define DG_CORE_CPU_OPS_CPU_H

#include "core/backend.h"

typedef struct dg_cpu_ctx {
    float *scratch; /* f32 copy of a bf16/f16 weight, reused across linears */
    size_t scratch_len;
} dg_cpu_ctx;

int dg_cpu_linear(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *w, const dg_tensor *b);
int dg_cpu_layernorm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma,
                     const dg_tensor *beta, float eps);
int dg_cpu_rmsnorm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, float eps);
int dg_cpu_gelu_tanh(dg_backend *be, dg_tensor *y, const dg_tensor *x);
int dg_cpu_silu(dg_backend *be, dg_tensor *y, const dg_tensor *x);
int dg_cpu_add(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
int dg_cpu_modulate(dg_backend *be, dg_tensor *y, const dg_tensor *x, const float *shift, const float *scale);
int dg_cpu_gated_add(dg_backend *be, dg_tensor *h, const dg_tensor *x, const float *gate);
int dg_cpu_rope(dg_backend *be, dg_tensor *x, const dg_tensor *cos, const dg_tensor *sin);
int dg_cpu_patchify(dg_backend *be, dg_tensor *y, const dg_tensor *x, const int patch[3]);
int dg_cpu_unpatchify(dg_backend *be, dg_tensor *x, const dg_tensor *y, const int patch[3]);
/* text-encoder ops */
int dg_cpu_mul(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b);
int dg_cpu_relu(dg_backend *be, dg_tensor *y, const dg_tensor *x);
int dg_cpu_gather_rows(dg_backend *be, dg_tensor *y, const dg_tensor *table, const int32_t *rows);
int dg_cpu_attention_pos_bias(dg_backend *be, dg_tensor *o, const dg_tensor *q, const dg_tensor *k,
                              const dg_tensor *v, const dg_tensor *pos_bias, const dg_tensor *key_bias, int heads,
                              float scale);

#endif
