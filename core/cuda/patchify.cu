// Patchify / unpatchify on the GPU with the index maps of the CPU twin
// (core/cpu/ops_cpu.c patch_copy): one thread per token element, which is a
// bijection with the volume's elements, so every write has one owner.
//   patchify:   y[n, k], k = c * (pt*ph*pw) + sub   (c slowest: conv weight order)
//   unpatchify: y[n, k], k = sub * C + c            (c fastest: proj_out order)
// with n = (f*Hp + i)*Wp + j and sub = (pt*ph_ + ph)*pw_ + pw.
#include "core/cuda/cuda_internal.h"

static __global__ void patch_kernel(float *tok, float *vol, int64_t C, int64_t F, int64_t H, int64_t W, int p0,
                                    int p1, int p2, int to_tokens, int c_fastest) {
    const int64_t Hp = H / p1, Wp = W / p2, S = (int64_t)p0 * p1 * p2, K = C * S;
    const int64_t total = (F / p0) * Hp * Wp * K;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t n = e / K, k = e % K;
        const int64_t c = c_fastest ? k % C : k / S, sub = c_fastest ? k / C : k % S;
        const int64_t pt = sub / (p1 * p2), ph = (sub / p2) % p1, pw = sub % p2;
        const int64_t f = n / (Hp * Wp), i = (n / Wp) % Hp, j = n % Wp;
        float *v = vol + ((c * F + f * p0 + pt) * H + i * p1 + ph) * W + j * p2 + pw;
        if (to_tokens) tok[e] = *v;
        else *v = tok[e];
    }
}

static int launch(dg_backend *be, float *tok, float *vol, const dg_tensor *v, const int p[3], int to_tokens,
                  int c_fastest) {
    const int64_t total = dg_tensor_numel(v);
    if (total == 0) return DG_OK;
    patch_kernel<<<dg_cuda_blocks(total), 256, 0, dg_cuda_stream(be)>>>(
        tok, vol, v->shape[0], v->shape[1], v->shape[2], v->shape[3], p[0], p[1], p[2], to_tokens, c_fastest);
    DG_CUDA_CHECK_LAUNCH("patch_kernel");
    return DG_OK;
}

extern "C" int dg_cuda_patchify(dg_backend *be, dg_tensor *y, const dg_tensor *x, const int patch[3]) {
    return launch(be, (float *)y->data, (float *)x->data, x, patch, 1, 0);
}

extern "C" int dg_cuda_unpatchify(dg_backend *be, dg_tensor *x, const dg_tensor *y, const int patch[3]) {
    return launch(be, (float *)y->data, (float *)x->data, x, patch, 0, 1);
}
