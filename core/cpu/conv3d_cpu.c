/* Causal 3D / 2D convolution on the CPU. 3x3 kernels go to the direct
 * kernel (conv3x3_direct.c) where the build has AVX-512; the rest,
 * and everything elsewhere: im2col over blocks of output rows, one
 * cblas_sgemm per block. Rows of all frames of a chunk are one flat index
 * q = t*H' + r, so a block of rows is contiguous in every output channel and
 * the GEMM writes y in place (ldc = T*H'*W'). A normalised input is
 * normalised into the workspace first on this path (the direct kernel does
 * it as it reads). */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/cpu/video_cpu.h"

/* Target im2col block: 32 MiB keeps the workspace small while the GEMM stays
 * wide (N = rows x W' of a few thousand columns). */
#define COL_TARGET_FLOATS ((size_t)8 << 20)

static int conv_gemm(dg_backend *be, const dg_cpu_conv *c) {
    const int64_t Cin = c->Cin, T = c->T, H = c->H, W = c->W, Cout = c->Cout, kt = c->kt, kh = c->kh, kw = c->kw;
    const int64_t Ho = c->up ? 2 * H : H, Wo = c->up ? 2 * W : W, ph = (kh - 1) / 2, pw = (kw - 1) / 2;
    const int64_t HWo = Ho * Wo, P = T * HWo, K = Cin * kt * kh * kw, Q = T * Ho, nc = kt - 1, HW = H * W;
    float *yd = c->y;

    /* Bias first (or on top of the residual), so every GEMM accumulates. */
    #pragma omp parallel for if (Cout * P > DG_CPU_PAR_MIN)
    for (int64_t co = 0; co < Cout; co++) {
        float *yc = yd + co * P, bv = c->bias ? c->bias[co] : 0.0f;
        if (!c->acc)
            for (int64_t i = 0; i < P; i++) yc[i] = bv;
        else if (bv != 0.0f)
            for (int64_t i = 0; i < P; i++) yc[i] += bv;
    }
    if (P == 0 || Cout == 0) return DG_OK;

    /* Workspace: [normalised x | normalised cache | im2col block]. */
    const int pointwise = K == Cin && !c->up;
    const size_t row_floats = (size_t)K * Wo, nfloats = c->norm ? (size_t)(Cin * (T + nc) * HW) : 0;
    int64_t qb = (int64_t)(COL_TARGET_FLOATS / row_floats);
    qb = qb < 1 ? 1 : qb > Q ? Q : qb;
    float *work;
    DG_TRY(dg_cpu_work(be, nfloats + (pointwise ? 0 : row_floats * (size_t)qb), &work));
    const float *xd = c->x, *cd = c->cache;
    if (c->norm) {
        float *xn = work, *cn = xn + Cin * T * HW;
        dg_cpu_rms_normalize(xn, c->x, Cin, T * HW, c->norm, c->silu);
        if (nc) dg_cpu_rms_normalize(cn, c->cache, Cin, nc * HW, c->norm, c->silu);
        xd = xn, cd = cn;
    }

    /* A pointwise conv is a plain GEMM over the input. */
    if (pointwise) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Cout, (int)P, (int)Cin, 1.0f, c->w, (int)K, xd,
                    (int)P, 1.0f, yd, (int)P);
        return DG_OK;
    }

    float *col = work + nfloats;
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
                src += (c->up ? r >> 1 : r) * W;
                /* valid output columns [c0, c1): 0 <= col + dx - pw < Wo */
                int64_t c0 = pw - dx, c1 = Wo + pw - dx;
                c0 = c0 < 0 ? 0 : c0 > Wo ? Wo : c0;
                c1 = c1 > Wo ? Wo : c1 < c0 ? c0 : c1;
                for (int64_t i = 0; i < c0; i++) dst[i] = 0.0f;
                if (c->up)
                    for (int64_t i = c0; i < c1; i++) dst[i] = src[(i + dx - pw) >> 1];
                else
                    memcpy(dst + c0, src + c0 + dx - pw, (size_t)(c1 - c0) * sizeof(float));
                for (int64_t i = c1; i < Wo; i++) dst[i] = 0.0f;
            }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Cout, (int)N, (int)K, 1.0f, c->w, (int)K, col,
                    (int)N, 1.0f, yd + q0 * Wo, (int)P);
    }
    return DG_OK;
}

/* direct: whether the direct 3x3 kernel may be used where it applies. */
static int conv3d(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                  const dg_tensor *b, const dg_tensor *norm, unsigned flags, int direct) {
    const dg_cpu_conv c = {.y = y->data,
                           .x = x->data,
                           .cache = cache ? cache->data : NULL,
                           .w = w->data,
                           .bias = b ? b->data : NULL,
                           .norm = norm ? norm->data : NULL,
                           .Cin = x->shape[0],
                           .Cout = w->shape[0],
                           .kt = w->ndim == 5 ? w->shape[2] : 1,
                           .kh = w->shape[w->ndim - 2],
                           .kw = w->shape[w->ndim - 1],
                           .T = x->shape[1],
                           .H = x->shape[2],
                           .W = x->shape[3],
                           .up = (flags & DG_CONV_UPSAMPLE2X) != 0,
                           .acc = (flags & DG_CONV_ACCUMULATE) != 0,
                           .silu = (flags & DG_CONV_SILU) != 0};
#ifdef DG_CPU_CONV_DIRECT
    if (direct && c.kh == 3 && c.kw == 3 && c.T * c.H * c.W > 0 && c.Cout > 0) return dg_cpu_conv3x3_direct(be, &c);
#else
    (void)direct;
#endif
    return conv_gemm(be, &c);
}

int dg_cpu_conv3d(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                  const dg_tensor *b, const dg_tensor *norm, unsigned flags) {
#ifdef __AVX512F__
    const int direct = 1;
#else
    const int direct = 0;
#endif
    return conv3d(be, y, x, cache, w, b, norm, flags, direct);
}

#ifdef DG_CPU_CONV_DIRECT
int dg_cpu_conv3d_direct(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                         const dg_tensor *b, const dg_tensor *norm, unsigned flags) {
    return conv3d(be, y, x, cache, w, b, norm, flags, 1);
}
#endif

int dg_cpu_conv3d_gemm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                       const dg_tensor *b, const dg_tensor *norm, unsigned flags) {
    return conv3d(be, y, x, cache, w, b, norm, flags, 0);
}
