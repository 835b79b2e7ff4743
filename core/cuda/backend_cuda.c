/* CUDA backend: device memory from cudaMalloc, one blocking stream, one cuBLAS
 * handle. Ops are queued on the stream and return at once; download waits for
 * the stream, so a failing kernel may only be reported there. No caching
 * allocator: models allocate their weights and one activation arena up front
 * (see core/arena.h), so cudaMalloc is not on the per-step path. */
#include <stdlib.h>
#include <string.h>

#include "core/cuda/cuda_internal.h"

static void *cuda_alloc(dg_backend *be, size_t bytes) {
    (void)be;
    void *p = NULL;
    /* cudaMalloc returns 256-byte aligned memory: more than the kernels' 16-byte vector loads need. */
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
        cudaGetLastError(); /* an out-of-memory error is not sticky; clear it */
        return NULL;
    }
    return p;
}

static void cuda_free(dg_backend *be, void *ptr) {
    (void)be;
    cudaFree(ptr);
}

static int cuda_upload(dg_backend *be, void *dst, const void *host_src, size_t bytes) {
    dg_cuda_ctx *c = be->ctx;
    DG_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, c->stream));
    DG_CUDA_CHECK(cudaStreamSynchronize(c->stream)); /* the host buffer may be freed on return */
    return DG_OK;
}

static int cuda_download(dg_backend *be, void *host_dst, const void *src, size_t bytes) {
    dg_cuda_ctx *c = be->ctx;
    DG_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    DG_CUDA_CHECK(cudaStreamSynchronize(c->stream));
    return DG_OK;
}

static int cuda_copy(dg_backend *be, void *dst, const void *src, size_t bytes) {
    dg_cuda_ctx *c = be->ctx;
    DG_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->stream));
    return DG_OK;
}

static int cuda_sync(dg_backend *be) {
    dg_cuda_ctx *c = be->ctx;
    DG_CUDA_CHECK(cudaStreamSynchronize(c->stream));
    return DG_OK;
}

int dg_backend_cuda_memory(dg_backend *be, size_t *used, size_t *total) {
    DG_CHECK(be->kind == DG_BACKEND_CUDA, "device memory: not a CUDA backend");
    size_t free_b = 0;
    DG_CUDA_CHECK(cudaMemGetInfo(&free_b, total));
    *used = *total - free_b;
    return DG_OK;
}

static void cuda_destroy(dg_backend *be) {
    dg_cuda_ctx *c = be->ctx;
    if (c->stream) cudaStreamSynchronize(c->stream);
    cudaFree(c->scratch);
    if (c->blas) cublasDestroy(c->blas);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c);
}

int dg_cuda_scratch(dg_backend *be, size_t bytes, void **out) {
    dg_cuda_ctx *c = be->ctx;
    if (c->scratch_bytes < bytes) {
        /* cudaFree waits for the device, so queued kernels still reading the old buffer finish first. */
        DG_CUDA_CHECK(cudaFree(c->scratch));
        c->scratch = NULL;
        c->scratch_bytes = 0;
        DG_CUDA_CHECK(cudaMalloc(&c->scratch, bytes));
        c->scratch_bytes = bytes;
    }
    *out = c->scratch;
    return DG_OK;
}

static const dg_backend_ops cuda_ops = {
    .name = "cuda",
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .copy = cuda_copy,
    .destroy = cuda_destroy,
    .sync = cuda_sync,
    .linear = dg_cuda_linear,
    .layernorm = dg_cuda_layernorm,
    .rmsnorm = dg_cuda_rmsnorm,
    .gelu_tanh = dg_cuda_gelu_tanh,
    .silu = dg_cuda_silu,
    .add = dg_cuda_add,
    .sub = dg_cuda_sub,
    .abs_diff_sums = dg_cuda_abs_diff_sums,
    .modulate = dg_cuda_modulate,
    .gated_add = dg_cuda_gated_add,
    .rope = dg_cuda_rope,
    .patchify = dg_cuda_patchify,
    .unpatchify = dg_cuda_unpatchify,
    .attention = dg_cuda_attention,
    .attention_merge = dg_cuda_attention_merge,
    .layout_upload = dg_cuda_layout_upload,
    .layout_release = dg_cuda_layout_release,
    /* video VAE ops */
    .conv3d = dg_cuda_conv3d,
    .spatial_attention = dg_cuda_spatial_attention,
    .cache_push = dg_cuda_cache_push,
    .channels_to_frames = dg_cuda_channels_to_frames,
    .channels_to_cells = dg_cuda_channels_to_cells,
    .copy_box = dg_cuda_copy_box,
    .blend_edge = dg_cuda_blend_edge,
    .clamp = dg_cuda_clamp,
    .fill = dg_cuda_fill,
    /* text-encoder ops */
    .mul = dg_cuda_mul,
    .relu = dg_cuda_relu,
    .gather_rows = dg_cuda_gather_rows,
    .attention_pos_bias = dg_cuda_attention_pos_bias,
};

const dg_backend_ops *dg_backend_cuda_ops(void) { return &cuda_ops; }

static int init_ctx(dg_cuda_ctx *c, int device) {
    int count = 0;
    DG_CUDA_CHECK(cudaGetDeviceCount(&count));
    DG_CHECK(device >= 0 && device < count, "cuda: device %d does not exist (%d device(s) found)", device, count);
    DG_CUDA_CHECK(cudaSetDevice(device));
    c->device = device;
    DG_CUDA_CHECK(cudaStreamCreate(&c->stream));
    DG_CUBLAS_CHECK(cublasCreate(&c->blas));
    DG_CUBLAS_CHECK(cublasSetStream(c->blas, c->stream));
    /* Plain f32 GEMMs (no TF32) so f32 weights match the CPU backend to float rounding. */
    DG_CUBLAS_CHECK(cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH));
    return DG_OK;
}

int dg_backend_cuda_init(dg_backend *be, int device) {
    memset(be, 0, sizeof *be);
    dg_cuda_ctx *c = calloc(1, sizeof *c);
    DG_CHECK_ALLOC(c);
    be->kind = DG_BACKEND_CUDA;
    be->ops = &cuda_ops;
    be->threads = 1;
    be->ctx = c;
    if (init_ctx(c, device) != DG_OK) {
        cuda_destroy(be);
        be->ctx = NULL;
        return DG_ERR;
    }
    return DG_OK;
}
