/* Direct 3x3 (x kt) convolution with AVX-512, for the convolutions that
 * dominate a video VAE decode. The im2col + GEMM path copies every input
 * value 9*kt times and OpenBLAS then packs that copy again: on a 2-core
 * machine those copies took a third of the decode. Here each output frame is
 * processed in blocks of rows: the rows a block needs (kt frames, rb+2 rows,
 * zero-padded, upsampled when asked) are copied once into a padded buffer,
 * and a register-blocked micro-kernel (6 output channels x 64 columns) reads
 * them with unaligned loads, one per tap. Input channels go in passes whose
 * weights fit in L2; later passes add onto the output. Accumulation order:
 * input channel, then frame, row and column tap, in fp32. */
#include "core/cpu/video_cpu.h"

#ifdef __AVX512F__
#include <immintrin.h>
#include <string.h>

#include "core/error.h"

#define CO 6  /* output channels per micro-kernel call */
#define NV 4  /* 16-float vectors per call: 64 output columns */
#define CW (16 * NV)
/* Padded input block size target, floats: stays in L3 next to the weights. */
#define PAD_TARGET_FLOATS ((int64_t)4 << 20)
/* Weights of one input-channel pass, floats (1 MiB: L2). */
#define WEIGHT_PASS_FLOATS ((int64_t)256 << 10)

static int64_t round_up16(int64_t x) { return (x + 15) & ~(int64_t)15; }

/* wp[(cb*K + k)*CO + o] = w[(cb*CO + o)*K + k], zero for channels past Cout:
 * the CO weights one tap needs are adjacent. */
static void pack_weights(float *wp, const float *w, int64_t Cout, int64_t K) {
    const int64_t nb = (Cout + CO - 1) / CO;
    #pragma omp parallel for if (nb * K * CO > DG_CPU_PAR_MIN)
    for (int64_t cb = 0; cb < nb; cb++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t o = 0; o < CO; o++) {
                const int64_t co = cb * CO + o;
                wp[(cb * K + k) * CO + o] = co < Cout ? w[co * K + k] : 0.0f;
            }
}

/* acc[o][v] += sum over groups g (input channel x frame) and the 9 spatial taps of
 * in[g*gs + dy*Wp + dx + 16v] * wp[tap][o]. nv is a constant at each call site. */
static inline __attribute__((always_inline)) void micro(const float *in, int64_t groups, int64_t gs, int64_t Wp,
                                                        const float *wp, int nv, __m512 acc[CO][NV]) {
    /* Fully unrolled (whatever the optimisation level) so the accumulators stay in registers. */
    for (int64_t g = 0; g < groups; g++, in += gs)
#pragma GCC unroll 3
        for (int dy = 0; dy < 3; dy++)
#pragma GCC unroll 3
            for (int dx = 0; dx < 3; dx++, wp += CO) {
                const float *p = in + dy * Wp + dx;
                __m512 x[NV];
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++) x[v] = _mm512_loadu_ps(p + 16 * v);
#pragma GCC unroll 6
                for (int o = 0; o < CO; o++) {
                    const __m512 wv = _mm512_set1_ps(wp[o]);
#pragma GCC unroll 4
                    for (int v = 0; v < nv; v++) acc[o][v] = _mm512_fmadd_ps(x[v], wv, acc[o][v]);
                }
            }
}

typedef struct conv_args {
    float *y;
    const float *bias, *wp;
    int64_t Cout, K, Wp, Wo, ystride; /* ystride: between output channels */
    int64_t gs, g0, groups;           /* group stride in the padded block; groups [g0, g0+groups) */
    int acc;
} conv_args;

/* Output channels [cb*CO, +CO) x columns [c0, c0 + 16*nv) of the row whose
 * padded input starts at `in` and output at `yrow`. */
static inline __attribute__((always_inline)) void tile(const conv_args *a, int64_t cb, const float *in, float *yrow,
                                                       int64_t c0, int nv) {
    __m512 acc[CO][NV];
    for (int o = 0; o < CO; o++)
        for (int v = 0; v < NV; v++) acc[o][v] = _mm512_setzero_ps();
    micro(in + a->g0 * a->gs + c0, a->groups, a->gs, a->Wp, a->wp + (cb * a->K + a->g0 * 9) * CO, nv, acc);
    const int64_t no = a->Cout - cb * CO < CO ? a->Cout - cb * CO : CO;
    for (int64_t o = 0; o < no; o++) {
        const int64_t co = cb * CO + o;
        float *yo = yrow + co * a->ystride + c0;
        const __m512 bv = _mm512_set1_ps(a->bias && a->g0 == 0 ? a->bias[co] : 0.0f);
        for (int v = 0; v < nv; v++) {
            const int64_t left = a->Wo - c0 - 16 * v;
            const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
            __m512 r = _mm512_add_ps(acc[o][v], bv);
            if (a->acc || a->g0 > 0) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, yo + 16 * v));
            _mm512_mask_storeu_ps(yo + 16 * v, m, r);
        }
    }
}

/* One input-channel pass over nr rows of the padded block. Items are (row,
 * 64-column chunk); the output-channel blocks run inside, so an item's input
 * rows stay in L1/L2 while the pass's weights stay in L2. */
static void run_pass(const conv_args *a, const float *pad, int64_t nr, int64_t nb) {
    const int64_t nchunks = (a->Wo + CW - 1) / CW;
    #pragma omp parallel for schedule(static) if (nr * nchunks * a->Cout * a->groups * 9 > DG_CPU_PAR_MIN)
    for (int64_t it = 0; it < nr * nchunks; it++) {
        const int64_t j = it / nchunks, c0 = it % nchunks * CW, left = a->Wo - c0;
        const float *in = pad + j * a->Wp;
        float *yrow = a->y + j * a->Wo;
        for (int64_t cb = 0; cb < nb; cb++) {
            if (left > 48) tile(a, cb, in, yrow, c0, 4);
            else if (left > 32) tile(a, cb, in, yrow, c0, 3);
            else if (left > 16) tile(a, cb, in, yrow, c0, 2);
            else tile(a, cb, in, yrow, c0, 1);
        }
    }
}

/* Fill pad[(g*R + j)*Wp + i] for g = ci*kt + dt, j < R rows (output-grid row
 * r0 - 1 + j), i < Wp columns (output column i - 1), zero outside the frame. */
static void fill_pad(float *pad, const float *xd, const float *cd, int64_t Cin, int64_t kt, int64_t T, int64_t H,
                     int64_t W, int up, int64_t t, int64_t r0, int64_t R, int64_t Ho, int64_t Wo, int64_t Wp) {
    const int64_t nc = kt - 1, HW = H * W, rows = Cin * kt * R;
    #pragma omp parallel for schedule(static) if (rows * Wp > DG_CPU_PAR_MIN)
    for (int64_t gr = 0; gr < rows; gr++) {
        const int64_t g = gr / R, j = gr % R, ci = g / kt, f = t + g % kt, rr = r0 - 1 + j;
        float *dst = pad + gr * Wp;
        if (rr < 0 || rr >= Ho) {
            memset(dst, 0, (size_t)Wp * sizeof(float));
            continue;
        }
        /* frame f of the virtual sequence [cache frames, x frames] */
        const float *src = (f < nc ? cd + (ci * nc + f) * HW : xd + (ci * T + f - nc) * HW) + (up ? rr >> 1 : rr) * W;
        dst[0] = 0.0f;
        if (up)
            for (int64_t c = 0; c < Wo; c++) dst[1 + c] = src[c >> 1];
        else
            memcpy(dst + 1, src, (size_t)Wo * sizeof(float));
        memset(dst + 1 + Wo, 0, (size_t)(Wp - 1 - Wo) * sizeof(float));
    }
}

int dg_cpu_conv3x3_avx512(dg_backend *be, float *y, const float *x, const float *cache, const float *w,
                          const float *bias, int64_t Cin, int64_t Cout, int64_t kt, int64_t T, int64_t H, int64_t W,
                          int up, int acc) {
    const int64_t Ho = up ? 2 * H : H, Wo = up ? 2 * W : W, Wp = round_up16(Wo) + 16;
    const int64_t K = Cin * kt * 9, nb = (Cout + CO - 1) / CO, wfloats = nb * K * CO;
    int64_t rb = PAD_TARGET_FLOATS / (Cin * kt * Wp) - 2;
    rb = rb < 1 ? 1 : rb > Ho ? Ho : rb;
    const int64_t R = rb + 2;
    float *wp;
    DG_TRY(dg_cpu_work(be, (size_t)(wfloats + Cin * kt * R * Wp), &wp));
    float *pad = wp + wfloats;
    pack_weights(wp, w, Cout, K);
    conv_args a = {.bias = bias, .wp = wp, .Cout = Cout, .K = K, .gs = R * Wp, .Wp = Wp, .Wo = Wo,
                   .ystride = T * Ho * Wo, .acc = acc};
    /* Input channels per pass: a pass's weights (all output channels) fit in L2. */
    int64_t cc = WEIGHT_PASS_FLOATS / (Cout * kt * 9);
    cc = cc < 8 ? 8 : cc > Cin ? Cin : cc;
    for (int64_t t = 0; t < T; t++)
        for (int64_t r0 = 0; r0 < Ho; r0 += rb) {
            fill_pad(pad, x, cache, Cin, kt, T, H, W, up, t, r0, R, Ho, Wo, Wp);
            a.y = y + t * Ho * Wo + r0 * Wo;
            for (int64_t ci0 = 0; ci0 < Cin; ci0 += cc) {
                a.g0 = ci0 * kt;
                a.groups = (ci0 + cc <= Cin ? cc : Cin - ci0) * kt;
                run_pass(&a, pad, r0 + rb <= Ho ? rb : Ho - r0, nb);
            }
        }
    return DG_OK;
}

#endif
