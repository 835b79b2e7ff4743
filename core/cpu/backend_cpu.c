/* CPU backend: host memory, OpenBLAS sgemm, OpenMP loops. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/cpu/ops_cpu.h"
#include "core/cpu/video_cpu.h"
#include "core/error.h"

void openblas_set_num_threads(int n);

static void *cpu_alloc(dg_backend *be, size_t bytes) {
    (void)be;
    /* 64-byte alignment for AVX-512 loads; round the size up as aligned_alloc requires. */
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}

static void cpu_free(dg_backend *be, void *ptr) {
    (void)be;
    free(ptr);
}

static int cpu_copy(dg_backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    memcpy(dst, src, bytes);
    return DG_OK;
}

static void cpu_destroy(dg_backend *be) {
    dg_cpu_ctx *c = be->ctx;
    free(c->scratch);
    free(c->work);
    dg_gemm_bf16_free(c->gemm);
    free(c);
}

static const dg_backend_ops cpu_ops = {
    .name = "cpu",
    .host_memory = 1,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .destroy = cpu_destroy,
    .linear = dg_cpu_linear,
    .layernorm = dg_cpu_layernorm,
    .rmsnorm = dg_cpu_rmsnorm,
    .gelu_tanh = dg_cpu_gelu_tanh,
    .silu = dg_cpu_silu,
    .add = dg_cpu_add,
    .sub = dg_cpu_sub,
    .abs_diff_sums = dg_cpu_abs_diff_sums,
    .modulate = dg_cpu_modulate,
    .gated_add = dg_cpu_gated_add,
    .rope = dg_cpu_rope,
    .patchify = dg_cpu_patchify,
    .unpatchify = dg_cpu_unpatchify,
    .attention = dg_cpu_attention,
    .attention_merge = dg_cpu_attention_merge,
    /* video VAE ops */
    .conv3d = dg_cpu_conv3d,
    .spatial_attention = dg_cpu_spatial_attention,
    .cache_push = dg_cpu_cache_push,
    .channels_to_frames = dg_cpu_channels_to_frames,
    .channels_to_cells = dg_cpu_channels_to_cells,
    .copy_box = dg_cpu_copy_box,
    .blend_edge = dg_cpu_blend_edge,
    .clamp = dg_cpu_clamp,
    .fill = dg_cpu_fill,
    /* text-encoder ops */
    .mul = dg_cpu_mul,
    .relu = dg_cpu_relu,
    .gather_rows = dg_cpu_gather_rows,
    .attention_pos_bias = dg_cpu_attention_pos_bias,
};

int dg_backend_cpu_init(dg_backend *be, int threads) {
    memset(be, 0, sizeof *be);
    be->kind = DG_BACKEND_CPU;
    be->ops = &cpu_ops;
    be->threads = threads > 0 ? threads : omp_get_num_procs();
    omp_set_num_threads(be->threads);
    openblas_set_num_threads(be->threads);
    dg_cpu_ctx *c = calloc(1, sizeof(dg_cpu_ctx));
    DG_CHECK_ALLOC(c);
    /* bf16 weights are computed in bf16 where the CPU can; DG_CPU_BF16=0 keeps the f32 path */
    const char *env = getenv("DG_CPU_BF16");
    c->compute = dg_gemm_bf16_supported() && !(env && !strcmp(env, "0")) ? DG_BF16 : DG_F32;
    be->ctx = c;
    return DG_OK;
}

int dg_backend_cpu_set_dtype(dg_backend *be, dg_dtype t) {
    DG_CHECK(be->kind == DG_BACKEND_CPU, "dtype: only the CPU backend has a choice");
    DG_CHECK(t == DG_F32 || t == DG_BF16, "dtype %s: expected f32 or bf16", dg_dtype_name(t));
    DG_CHECK(t == DG_F32 || dg_gemm_bf16_supported(),
             "dtype bf16: needs a CPU with AVX512-BF16 and a build with oneDNN (f32 runs on any CPU)");
    dg_cpu_ctx *c = be->ctx;
    c->compute = t;
    return DG_OK;
}

dg_dtype dg_backend_cpu_dtype(const dg_backend *be) {
    const dg_cpu_ctx *c = be->ctx;
    return be->kind == DG_BACKEND_CPU ? c->compute : DG_F32;
}
