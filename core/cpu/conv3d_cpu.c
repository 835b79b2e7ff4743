/* Causal 3D / 2D convolution on the CPU. 3x3 kernels go to the direct
 * AVX-512 kernel (conv3x3_avx512.c) where the build has AVX-512; the rest,
 * and everything elsewhere: im2col over blocks of output rows, one
 * cblas_sgemm per block. Rows of all frames of a chunk are one flat index
 * q = t*H' + r, so a block of rows is contiguous in every output channel and
 * the GEMM writes y in place (ldc = T*H'*W'). */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/cpu/video_cpu.h"

/* Target im2col block: 32 MiB keeps the workspace small while the GEMM stays
 * wide (N = rows x W' of a few thousand columns). */
#define COL_TARGET_FLOATS ((size_t)8 << 20)

/* direct: whether the direct 3x3 kernel may be used where it applies. */
static int conv3d(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                  const dg_tensor *b, int up, int acc, int direct) {
    const int64_t Cin = x->shape[0], T = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int64_t Cout = w->shape[0], kt = w->ndim == 5 ? w->shape[2] : 1;
    const int64_t kh = w->shape[w->ndim - 2], kw = w->shape[w->ndim - 1];
    const int64_t Ho = up ? 2 * H : H, Wo = up ? 2 * W : W, ph = (kh - 1) / 2, pw = (kw - 1) / 2;
    const int64_t HWo = Ho * Wo, P = T * HWo, K = Cin * kt * kh * kw, Q = T * Ho;
    float *yd = y->data;
    const float *bd = b ? b->data : NULL;
#ifdef __AVX512F__
    if (direct && kh == 3 && kw == 3 && P > 0 && Cout > 0)
        return dg_cpu_conv3x3_avx512(be, yd, x->data, cache ? cache->data : NULL, w->data, bd, Cin, Cout, kt, T, H, W,
                                     up, acc);
#else
    (void)direct;
#endif

    /* Bias first (or on top of the residual), so every GEMM accumulates. */
    #pragma omp parallel for if (Cout * P > DG_CPU_PAR_MIN)
    for (int64_t co = 0; co < Cout; co++) {
        float *yc = yd + co * P, bv = bd ? bd[co] : 0.0f;
        if (!acc)
            for (int64_t i = 0; i < P; i++) yc[i] = bv;
        else if (bv != 0.0f)
            for (int64_t i = 0; i < P; i++) yc[i] += bv;
    }
    if (P == 0 || Cout == 0) return DG_OK;

    /* A pointwise conv is a plain GEMM over the input. */
    if (K == Cin && !up) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Cout, (int)P, (int)Cin, 1.0f, w->data, (int)K,
                    x->data, (int)P, 1.0f, yd, (int)P);
        return DG_OK;
    }

    size_t row_floats = (size_t)K * Wo;
    int64_t qb = (int64_t)(COL_TARGET_FLOATS / row_floats);
    if (qb < 1) qb = 1;
    if (qb > Q) qb = Q;
    float *col;
    DG_TRY(dg_cpu_work(be, row_floats * qb, &col));
    const float *xd = x->data, *cd = cache ? cache->data : NULL;
    const int64_t nc = kt - 1, HW = H * W;

    for (int64_t q0 = 0; q0 < Q; q0 += qb) {
        const int64_t nq = q0 + qb <= Q ? qb : Q - q0, N = nq * Wo;
        /* col[k][n], k = ((ci*kt + dt)*kh + dy)*kw + dx (the weight's order), n = (q-q0)*Wo + c */
        #pragma omp parallel for schedule(static) if (K * N > DG_CPU_PAR_MIN)
        for (int64_t k = 0; k < K; k++) {
            const int64_t dx = k % kw, dy = (k / kw) % kh, dt = (k / (kw * kh)) % kt, ci = k / (kw * kh * kt);
            float *dst = col + k * N;
            for (int64_t qi = 0; qi < nq; qi++, dst += Wo) {
                const int64_t q = q0 + qi, t = q / Ho, r = q % Ho + dy - ph, f = t + dt;
                if (r < 0 || r >= Ho) {
                    memset(dst, 0, (size_t)Wo * sizeof(float));
                    continue;
                }
                /* frame f of the virtual sequence [cache frames, x frames] */
                const float *src = f < nc ? cd + (ci * nc + f) * HW : xd + (ci * T + f - nc) * HW;
                src += (up ? r >> 1 : r) * W;
                /* valid output columns [c0, c1): 0 <= c + dx - pw < Wo */
                int64_t c0 = pw - dx, c1 = Wo + pw - dx;
                c0 = c0 < 0 ? 0 : c0 > Wo ? Wo : c0;
                c1 = c1 > Wo ? Wo : c1 < c0 ? c0 : c1;
                for (int64_t c = 0; c < c0; c++) dst[c] = 0.0f;
                if (up)
                    for (int64_t c = c0; c < c1; c++) dst[c] = src[(c + dx - pw) >> 1];
                else
                    memcpy(dst + c0, src + c0 + dx - pw, (size_t)(c1 - c0) * sizeof(float));
                for (int64_t c = c1; c < Wo; c++) dst[c] = 0.0f;
            }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Cout, (int)N, (int)K, 1.0f, w->data, (int)K, col,
                    (int)N, 1.0f, yd + q0 * Wo, (int)P);
    }
    return DG_OK;
}

int dg_cpu_conv3d(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                  const dg_tensor *b, int up, int acc) {
    return conv3d(be, y, x, cache, w, b, up, acc, 1);
}

int dg_cpu_conv3d_gemm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                       const dg_tensor *b, int up, int acc) {
    return conv3d(be, y, x, cache, w, b, up, acc, 0);
}
