/* Parity driver for bench/bench_wan_step.py --check (built by that script, not by CMake's default
 * target):
 *   wan_forward_check TRANSFORMER_DIR IO.safetensors THREADS
 * Runs one transformer forward on IO's `x` [C, F, H, W], `context` [L, text_dim] and `t` [1] (all
 * F32) with the CPU's default compute dtype (bf16 weights in bf16 where the CPU has it), and prints
 * one JSON line with the max abs error and the relative RMS error against IO's `out` (diffusers in
 * the checkpoint's dtype) and, when present, `out_f32` (diffusers in f32 on the same weights). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/backend.h"
#include "core/cpu/blas_tune.h"
#include "core/error.h"
#include "dit/wan.h"
#include "io/safetensors.h"

/* max |a - b|, RMS(a - b) / RMS(b) over n floats */
static void compare(const float *a, const float *b, size_t n, double *max_err, double *rel_rms) {
    double e = 0, se = 0, sb = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)a[i] - b[i];
        e = fmax(e, fabs(d)), se += d * d, sb += (double)b[i] * b[i];
    }
    *max_err = e, *rel_rms = sb > 0 ? sqrt(se / sb) : 0;
}

static const dg_st_tensor *f32_tensor(const dg_safetensors *io, const char *name, size_t n, const char *path) {
    const dg_st_tensor *t = dg_safetensors_find(io, name);
    if (t && (t->dtype != DG_F32 || (n && t->nbytes != n * sizeof(float)))) {
        dg_error("%s: '%s' must be F32 with %zu values", path, name, n);
        return NULL;
    }
    return t;
}

int main(int argc, char **argv) {
    dg_blas_tune_process(argv); /* OpenBLAS kernels suited to this CPU, as ditgen does */
    if (argc != 4) {
        fprintf(stderr, "usage: %s TRANSFORMER_DIR IO.safetensors THREADS\n", argv[0]);
        return 2;
    }
    dg_backend be;
    dg_wan_model m;
    dg_safetensors io;
    if (dg_backend_cpu_init(&be, atoi(argv[3])) || dg_safetensors_open(&io, argv[2]) ||
        dg_wan_load(&m, &be, argv[1])) {
        fprintf(stderr, "wan_forward_check: %s\n", dg_last_error());
        return 1;
    }
    const dg_st_tensor *x = dg_safetensors_find(&io, "x"), *ctx = dg_safetensors_find(&io, "context");
    const dg_st_tensor *t = dg_safetensors_find(&io, "t");
    if (!x || !ctx || !t || x->ndim != 4 || x->shape[0] != m.cfg.in_channels || ctx->ndim != 2 ||
        x->dtype != DG_F32 || ctx->dtype != DG_F32 || t->dtype != DG_F32 || t->nbytes < sizeof(float)) {
        fprintf(stderr, "wan_forward_check: %s needs F32 x [%d,F,H,W], context [L,D] and t\n", argv[2],
                m.cfg.in_channels);
        return 1;
    }
    const size_t n = x->nbytes / sizeof(float) / x->shape[0] * m.cfg.out_channels;
    const dg_st_tensor *ref = f32_tensor(&io, "out", n, argv[2]), *ref32 = f32_tensor(&io, "out_f32", n, argv[2]);
    dg_tensor xin, cin, out;
    dg_wan_sized s;
    const int64_t oshape[4] = {m.cfg.out_channels, x->shape[1], x->shape[2], x->shape[3]};
    if (!ref || dg_tensor_view(&xin, &be, DG_F32, 4, x->shape, (void *)x->data) ||
        dg_tensor_view(&cin, &be, DG_F32, 2, ctx->shape, (void *)ctx->data) ||
        dg_tensor_alloc(&out, &be, DG_F32, 4, oshape) ||
        dg_wan_sized_init(&s, &m, (int)x->shape[1], (int)x->shape[2], (int)x->shape[3], (int)ctx->shape[0], NULL, 0,
                          NULL) ||
        dg_wan_forward(&m, &s, &xin, *(const float *)t->data, &cin, &out, NULL, NULL)) {
        fprintf(stderr, "wan_forward_check: %s\n", ref ? dg_last_error() : "IO has no F32 'out' of the output's size");
        return 1;
    }
    double e, r, e32 = 0, r32 = 0, scale = 0;
    compare(out.data, ref->data, n, &e, &r);
    if (ref32) compare(out.data, ref32->data, n, &e32, &r32);
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(((const float *)ref->data)[i]));
    printf("{\"weights\": \"%s\", \"attention\": \"%s\", \"max_abs_ref\": %.4g, \"max_abs_err\": %.4g, "
           "\"rel_rms_err\": %.4g",
           dg_dtype_name(m.blocks[0].self_attn.q_w.dtype), dg_dtype_name(s.attn_dtype), scale, e, r);
    if (ref32) printf(", \"max_abs_err_f32\": %.4g, \"rel_rms_err_f32\": %.4g", e32, r32);
    printf("}\n");
    dg_wan_sized_free(&s);
    dg_tensor_free(&out);
    dg_wan_free(&m);
    dg_safetensors_close(&io);
    dg_backend_free(&be);
    return 0;
}
