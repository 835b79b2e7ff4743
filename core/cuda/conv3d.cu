// Causal 3-D / 2-D convolution on the GPU, the CPU GEMM path's scheme: the
// bias (or bias on top of the residual) is written first, then per block of
// output rows an im2col kernel gathers the taps into the backend scratch and
// one cuBLAS SGEMM adds w . col into y in place. Rows of all frames are one
// flat index q = t*H' + r, so a block of rows is contiguous in every output
// channel (ldc = T*H'*W'). Row-major y[Cout, N] = w[Cout, K] . col[K, N] is
// column-major y^T = col^T w^T: gemm(N, N, m=N, n=Cout, k=K, A=col (lda N),
// B=w (ldb K), C=y (ldc P)). A normalised input: one kernel writes the
// inverse norm of every position, and im2col normalises each tap it gathers.
#include "core/cuda/cuda_internal.h"

// im2col block target: 128 MiB of scratch keeps the GEMMs wide.
#define COL_TARGET_FLOATS ((size_t)32 << 20)

typedef struct conv_geom {
    int64_t Cin, T, H, W, kt, kh, kw, Ho, Wo;
    int up, silu;
    const float *gamma, *inv; // normalised input: gamma [Cin], inv [(kt-1+T)*H*W]; NULL: raw
    float scale;
} conv_geom;

// inv[p] = 1 / max(||x[:, p]||, 1e-12) of x[C, P], squares summed in double as on the CPU.
static __global__ void inv_norm_kernel(float *inv, const float *x, int64_t C, int64_t P) {
    for (int64_t p = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; p < P; p += (int64_t)gridDim.x * blockDim.x) {
        double ss = 0.0;
        for (int64_t c = 0; c < C; c++) {
            const double v = x[c * P + p];
            ss += v * v;
        }
        const float norm = (float)sqrt(ss);
        inv[p] = 1.0f / (norm > 1e-12f ? norm : 1e-12f);
    }
}

static __global__ void conv_bias_kernel(float *y, const float *b, int64_t Cout, int64_t P, int acc) {
    const int64_t n = Cout * P;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float bv = b ? b[i / P] : 0.0f;
        y[i] = acc ? y[i] + bv : bv;
    }
}

// col[k][n] for rows [q0, q0+nq): k = ((ci*kt + dt)*kh + dy)*kw + dx (the
// weight's order), n = (q-q0)*Wo + c; tap (dt, dy, dx) reads frame t+dt of
// the virtual sequence [cache, x] through the optional nearest 2x upsample,
// zero outside the frame.
static __global__ void im2col_kernel(float *col, const float *x, const float *cache, conv_geom g, int64_t q0,
                                     int64_t nq) {
    const int64_t N = nq * g.Wo, K = g.Cin * g.kt * g.kh * g.kw, nc = g.kt - 1, HW = g.H * g.W;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < K * N; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t k = i / N, n = i % N;
        const int64_t dx = k % g.kw, dy = k / g.kw % g.kh, dt = k / (g.kw * g.kh) % g.kt, ci = k / (g.kw * g.kh * g.kt);
        const int64_t q = q0 + n / g.Wo, c = n % g.Wo, t = q / g.Ho;
        const int64_t r = q % g.Ho + dy - (g.kh - 1) / 2, cc = c + dx - (g.kw - 1) / 2, f = t + dt;
        float v = 0.0f;
        if (r >= 0 && r < g.Ho && cc >= 0 && cc < g.Wo) {
            const float *src = f < nc ? cache + (ci * nc + f) * HW : x + (ci * g.T + f - nc) * HW;
            const int64_t p = (g.up ? r / 2 : r) * g.W + (g.up ? cc / 2 : cc);
            v = src[p];
            if (g.gamma) {
                v = v * g.inv[f * HW + p] * g.scale * g.gamma[ci];
                if (g.silu) v = v / (1.0f + expf(-v));
            }
        }
        col[i] = v;
    }
}

extern "C" int dg_cuda_conv3d(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache,
                              const dg_tensor *w, const dg_tensor *b, const dg_tensor *norm, unsigned flags) {
    dg_cuda_ctx *ctx = (dg_cuda_ctx *)be->ctx;
    const int up = (flags & DG_CONV_UPSAMPLE2X) != 0, acc = (flags & DG_CONV_ACCUMULATE) != 0;
    conv_geom g;
    g.Cin = x->shape[0], g.T = x->shape[1], g.H = x->shape[2], g.W = x->shape[3];
    g.kt = w->ndim == 5 ? w->shape[2] : 1, g.kh = w->shape[w->ndim - 2], g.kw = w->shape[w->ndim - 1];
    g.Ho = up ? 2 * g.H : g.H, g.Wo = up ? 2 * g.W : g.W, g.up = up;
    g.silu = (flags & DG_CONV_SILU) != 0, g.gamma = norm ? (const float *)norm->data : NULL, g.inv = NULL;
    g.scale = sqrtf((float)g.Cin);
    const int64_t Cout = w->shape[0], P = g.T * g.Ho * g.Wo, K = g.Cin * g.kt * g.kh * g.kw, Q = g.T * g.Ho;
    DG_CHECK(P <= INT32_MAX && K <= INT32_MAX && Cout <= INT32_MAX,
             "conv3d %s: %lldx%lldx%lld exceeds cuBLAS int sizes", w->name ? w->name : "", (long long)Cout,
             (long long)K, (long long)P);
    if (P == 0 || Cout == 0) return DG_OK;
    float *yd = (float *)y->data;
    const float *wd = (const float *)w->data, *xd = (const float *)x->data;
    conv_bias_kernel<<<dg_cuda_blocks(Cout * P), 256, 0, ctx->stream>>>(yd, b ? (const float *)b->data : NULL, Cout,
                                                                          P, acc);
    DG_CUDA_CHECK_LAUNCH("conv_bias_kernel");
    const float one = 1.0f;
    if (K == g.Cin && !up && !norm) { // pointwise: a plain GEMM over the input
        DG_CUBLAS_CHECK(cublasSgemm(ctx->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)P, (int)Cout, (int)K, &one, xd, (int)P,
                                    wd, (int)K, &one, yd, (int)P));
        return DG_OK;
    }
    const size_t row_floats = (size_t)K * g.Wo;
    int64_t qb = (int64_t)(COL_TARGET_FLOATS / row_floats);
    qb = qb < 1 ? 1 : qb > Q ? Q : qb;
    const int64_t nc = g.kt - 1, HW = g.H * g.W, ninv = norm ? (nc + g.T) * HW : 0;
    void *col;
    DG_TRY(dg_cuda_scratch(be, (row_floats * qb + (size_t)ninv) * sizeof(float), &col));
    const float *cd = cache ? (const float *)cache->data : NULL;
    if (norm) {
        float *inv = (float *)col + row_floats * qb;
        if (nc) {
            inv_norm_kernel<<<dg_cuda_blocks(nc * HW), 256, 0, ctx->stream>>>(inv, cd, g.Cin, nc * HW);
            DG_CUDA_CHECK_LAUNCH("inv_norm_kernel");
        }
        inv_norm_kernel<<<dg_cuda_blocks(g.T * HW), 256, 0, ctx->stream>>>(inv + nc * HW, xd, g.Cin, g.T * HW);
        DG_CUDA_CHECK_LAUNCH("inv_norm_kernel");
        g.inv = inv;
    }
    for (int64_t q0 = 0; q0 < Q; q0 += qb) {
        const int64_t nq = q0 + qb <= Q ? qb : Q - q0, N = nq * g.Wo;
        im2col_kernel<<<dg_cuda_blocks(K * N), 256, 0, ctx->stream>>>((float *)col, xd, cd, g, q0, nq);
        DG_CUDA_CHECK_LAUNCH("im2col_kernel");
        DG_CUBLAS_CHECK(cublasSgemm(ctx->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)N, (int)Cout, (int)K, &one,
                                    (const float *)col, (int)N, wd, (int)K, &one, yd + q0 * g.Wo, (int)P));
    }
    return DG_OK;
}
