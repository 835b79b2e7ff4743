// Data movement of the video VAE ops on the GPU: one thread per output
// element (grid-stride loops, 64-bit indices), the index maps of the CPU
// twins in core/cpu/video_copy_cpu.c.
#include "core/cuda/cuda_internal.h"

#define GRID_STRIDE(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

// dst[C, nc, HW] = frames [T0 + j] (j < nc) of the virtual sequence [cache (nc frames), x (T frames)].
static __global__ void cache_gather_kernel(float *dst, const float *cache, const float *x, int64_t C, int64_t nc,
                                           int64_t T, int64_t HW) {
    GRID_STRIDE(i, C * nc * HW) {
        const int64_t p = i % HW, j = i / HW % nc, c = i / (HW * nc), f = T + j;
        dst[i] = f < nc ? cache[(c * nc + f) * HW + p] : x[(c * T + f - nc) * HW + p];
    }
}

extern "C" int dg_cuda_cache_push(dg_backend *be, dg_tensor *cache, const dg_tensor *x) {
    const int64_t C = x->shape[0], nc = cache->shape[1], T = x->shape[1], HW = x->shape[2] * x->shape[3];
    const int64_t n = C * nc * HW;
    if (n == 0) return DG_OK;
    cudaStream_t s = dg_cuda_stream(be);
    float *cd = (float *)cache->data;
    if (T >= nc) { // only x is read: gather straight into the cache
        cache_gather_kernel<<<dg_cuda_blocks(n), 256, 0, s>>>(cd, cd, (const float *)x->data, C, nc, T, HW);
        DG_CUDA_CHECK_LAUNCH("cache_gather_kernel");
        return DG_OK;
    }
    // the new cache reads old cache frames that other threads overwrite: gather into scratch, then copy
    void *tmp;
    DG_TRY(dg_cuda_scratch(be, (size_t)n * sizeof(float), &tmp));
    cache_gather_kernel<<<dg_cuda_blocks(n), 256, 0, s>>>((float *)tmp, cd, (const float *)x->data, C, nc, T, HW);
    DG_CUDA_CHECK_LAUNCH("cache_gather_kernel");
    DG_CUDA_CHECK(cudaMemcpyAsync(cd, tmp, (size_t)n * sizeof(float), cudaMemcpyDeviceToDevice, s));
    return DG_OK;
}

// y[c, u] = x[(u % g)*C + c, u / g] per frame plane of HW.
static __global__ void channels_to_frames_kernel(float *y, const float *x, int64_t C, int64_t g, int64_t T,
                                                 int64_t HW) {
    GRID_STRIDE(i, C * g * T * HW) {
        const int64_t p = i % HW, u = i / HW % (g * T), c = i / (HW * g * T);
        y[i] = x[(((u % g) * C + c) * T + u / g) * HW + p];
    }
}

extern "C" int dg_cuda_channels_to_frames(dg_backend *be, dg_tensor *y, const dg_tensor *x) {
    const int64_t C = y->shape[0], T = x->shape[1], g = x->shape[0] / C, HW = x->shape[2] * x->shape[3];
    const int64_t n = C * g * T * HW;
    if (n == 0) return DG_OK;
    channels_to_frames_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>((float *)y->data,
                                                                                (const float *)x->data, C, g, T, HW);
    DG_CUDA_CHECK_LAUNCH("channels_to_frames_kernel");
    return DG_OK;
}

// y[c, u, oh, ow] (+)= x[(c*ft*fs*fs + a*fs*fs + s) / r, t, oh/fs, ow/fs], ft*t + a = u + drop.
static __global__ void channels_to_cells_kernel(float *y, const float *x, int64_t C, int64_t To, int64_t Ho,
                                                int64_t Wo, int64_t T, int64_t r, int ft, int fs, int drop, int cm,
                                                int acc) {
    GRID_STRIDE(i, C * To * Ho * Wo) {
        const int64_t ow = i % Wo, oh = i / Wo % Ho, u = i / (Wo * Ho) % To, c = i / (Wo * Ho * To);
        const int64_t a = (u + drop) % ft, t = (u + drop) / ft, ii = oh % fs, j = ow % fs;
        const int64_t s = cm ? j * fs + ii : ii * fs + j, src = (c * ft * fs * fs + a * fs * fs + s) / r;
        const float v = x[((src * T + t) * (Ho / fs) + oh / fs) * (Wo / fs) + ow / fs];
        y[i] = acc ? y[i] + v : v;
    }
}

extern "C" int dg_cuda_channels_to_cells(dg_backend *be, dg_tensor *y, const dg_tensor *x, const int cells[4],
                                         int accumulate) {
    const int64_t C = y->shape[0], To = y->shape[1], Ho = y->shape[2], Wo = y->shape[3], n = C * To * Ho * Wo;
    const int64_t r = C * cells[0] * cells[1] * cells[1] / x->shape[0];
    if (n == 0) return DG_OK;
    channels_to_cells_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>(
        (float *)y->data, (const float *)x->data, C, To, Ho, Wo, x->shape[1], r, cells[0], cells[1], cells[2],
        cells[3], accumulate);
    DG_CUDA_CHECK_LAUNCH("channels_to_cells_kernel");
    return DG_OK;
}

typedef struct box4 {
    int64_t dshape[4], sshape[4], dat[4], sat[4], size[4];
} box4;

static __global__ void copy_box_kernel(float *dst, const float *src, box4 b) {
    GRID_STRIDE(i, b.size[0] * b.size[1] * b.size[2] * b.size[3]) {
        int64_t r = i, di = 0, si = 0, idx[4];
        for (int d = 3; d >= 0; d--) {
            idx[d] = r % b.size[d];
            r /= b.size[d];
        }
        for (int d = 0; d < 4; d++) {
            di = di * b.dshape[d] + b.dat[d] + idx[d];
            si = si * b.sshape[d] + b.sat[d] + idx[d];
        }
        dst[di] = src[si];
    }
}

extern "C" int dg_cuda_copy_box(dg_backend *be, dg_tensor *dst, const int64_t dst_at[4], const dg_tensor *src,
                                const int64_t src_at[4], const int64_t size[4]) {
    box4 b;
    int64_t n = 1;
    for (int d = 0; d < 4; d++) {
        b.dshape[d] = dst->shape[d], b.sshape[d] = src->shape[d];
        b.dat[d] = dst_at[d], b.sat[d] = src_at[d], b.size[d] = size[d];
        n *= size[d];
    }
    if (n == 0) return DG_OK;
    copy_box_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>((float *)dst->data, (const float *)src->data,
                                                                      b);
    DG_CUDA_CHECK_LAUNCH("copy_box_kernel");
    return DG_OK;
}

// y viewed as [outer, Ly, inner], a as [outer, La, inner]; entries i < n along the middle dim.
static __global__ void blend_edge_kernel(float *y, const float *a, int64_t outer, int64_t Ly, int64_t La,
                                         int64_t inner, int64_t n) {
    GRID_STRIDE(e, outer * n * inner) {
        const int64_t j = e % inner, i = e / inner % n, o = e / (inner * n);
        // the weights in double, then rounded, as diffusers' y / blend_extent
        const float wy = (float)((double)i / n), wa = (float)(1.0 - (double)i / n);
        float *yp = y + (o * Ly + i) * inner + j;
        *yp = a[(o * La + La - n + i) * inner + j] * wa + *yp * wy;
    }
}

extern "C" int dg_cuda_blend_edge(dg_backend *be, dg_tensor *y, const dg_tensor *a, int axis, int64_t n) {
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= y->shape[d];
    for (int d = axis + 1; d < y->ndim; d++) inner *= y->shape[d];
    if (outer * n * inner == 0) return DG_OK;
    blend_edge_kernel<<<dg_cuda_blocks(outer * n * inner), 256, 0, dg_cuda_stream(be)>>>(
        (float *)y->data, (const float *)a->data, outer, y->shape[axis], a->shape[axis], inner, n);
    DG_CUDA_CHECK_LAUNCH("blend_edge_kernel");
    return DG_OK;
}

static __global__ void clamp_kernel(float *y, const float *x, int64_t n, float lo, float hi) {
    GRID_STRIDE(i, n) y[i] = fminf(fmaxf(x[i], lo), hi);
}

extern "C" int dg_cuda_clamp(dg_backend *be, dg_tensor *y, const dg_tensor *x, float lo, float hi) {
    const int64_t n = dg_tensor_numel(y);
    if (n == 0) return DG_OK;
    clamp_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>((float *)y->data, (const float *)x->data, n, lo,
                                                                   hi);
    DG_CUDA_CHECK_LAUNCH("clamp_kernel");
    return DG_OK;
}

static __global__ void fill_kernel(float *y, int64_t n, float value) {
    GRID_STRIDE(i, n) y[i] = value;
}

extern "C" int dg_cuda_fill(dg_backend *be, dg_tensor *y, float value) {
    const int64_t n = dg_tensor_numel(y);
    if (n == 0) return DG_OK;
    fill_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>((float *)y->data, n, value);
    DG_CUDA_CHECK_LAUNCH("fill_kernel");
    return DG_OK;
}
