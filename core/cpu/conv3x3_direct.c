/* Direct 3x3 (x kt) convolution, for the convolutions that dominate a video
 * VAE decode. The im2col + GEMM path copies every input value 9*kt times
 * and OpenBLAS then packs that copy again: those copies took a third of a
 * decode on an AVX-512 machine. Here each output frame is processed in blocks
 * of rows: the rows a block needs (kt frames, rb+2 rows, zero-padded,
 * normalised and upsampled when asked) are copied once into a padded buffer,
 * and a register-blocked micro-kernel (CO output channels x NV vectors of
 * columns) reads them with unaligned loads, one per tap. Input channels go in
 * passes whose weights fit in L2; later passes add onto the output.
 * Accumulation order: input channel, then frame, row and column tap, in fp32.
 *
 * Written once over a small vector layer. With AVX-512 it is the default path
 * for 3x3 kernels; with AVX2+FMA (16 registers: 6 x 2 vectors) it measured
 * 0.6-0.9x the im2col + OpenBLAS path on a Zen 3, so dg_cpu_conv3d keeps the
 * GEMM path there, and the AVX2 build of this kernel serves the tests, which
 * check the blocking, masking, fill and pass logic the AVX-512 build shares
 * on machines without AVX-512. */
#include "core/cpu/video_cpu.h"

#ifdef DG_CPU_CONV_DIRECT
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/error.h"

/* The vector layer: the kernel below is written once against these. */
#ifdef __AVX512F__
typedef __m512 vf;
#define VL 16
#define CO 6
#define NV 4 /* 24 accumulators of 32 registers */
static inline vf vf_zero(void) { return _mm512_setzero_ps(); }
static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline vf vf_set1(float v) { return _mm512_set1_ps(v); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline __mmask16 first_n(int64_t n) { return n >= VL ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }
/* The first n (<= VL) lanes; the rest read as 0 and are not written. */
static inline vf vf_load_n(const float *p, int64_t n) { return _mm512_maskz_loadu_ps(first_n(n), p); }
static inline void vf_store_n(float *p, vf v, int64_t n) { _mm512_mask_storeu_ps(p, first_n(n), v); }
#else
typedef __m256 vf;
#define VL 8
#define CO 6
#define NV 2 /* 12 accumulators, 2 inputs and a weight: 15 of 16 registers */
static inline vf vf_zero(void) { return _mm256_setzero_ps(); }
static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline vf vf_set1(float v) { return _mm256_set1_ps(v); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline __m256i first_n(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < VL ? n : VL)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf vf_load_n(const float *p, int64_t n) { return _mm256_maskload_ps(p, first_n(n)); }
static inline void vf_store_n(float *p, vf v, int64_t n) { _mm256_maskstore_ps(p, first_n(n), v); }
#endif

#define CW (VL * NV) /* output columns per micro-kernel call */
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
 * in[g*gs + dy*rs + dx + VL*v] * wp[tap][o]. nv is a constant at each call site. */
static inline __attribute__((always_inline)) void micro(const float *in, int64_t groups, int64_t gs, int64_t rs,
                                                        const float *wp, int nv, vf acc[CO][NV]) {
    /* Fully unrolled (whatever the optimisation level) so the accumulators stay in registers. */
    for (int64_t g = 0; g < groups; g++, in += gs)
#pragma GCC unroll 3
        for (int dy = 0; dy < 3; dy++)
#pragma GCC unroll 3
            for (int dx = 0; dx < 3; dx++, wp += CO) {
                const float *p = in + dy * rs + dx;
                vf x[NV];
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++) x[v] = vf_load(p + VL * v);
#pragma GCC unroll 6
                for (int o = 0; o < CO; o++) {
                    const vf wv = vf_set1(wp[o]);
#pragma GCC unroll 4
                    for (int v = 0; v < nv; v++) acc[o][v] = vf_fma(x[v], wv, acc[o][v]);
                }
            }
}

typedef struct conv_args {
    float *y;
    const float *bias, *wp;
    int64_t Cout, K, Wo, ystride; /* ystride: between output channels */
    int64_t gs, rs;               /* group and row strides in the padded block */
    int64_t g0, groups;           /* groups [g0, g0+groups) of this pass */
    int acc;
} conv_args;

/* Output channels [cb*CO, +CO) x columns [c0, c0 + VL*nv) of the row whose
 * padded input starts at `in` and output at `yrow`. */
static inline __attribute__((always_inline)) void tile(const conv_args *a, int64_t cb, const float *in, float *yrow,
                                                       int64_t c0, int nv) {
    vf acc[CO][NV];
    for (int o = 0; o < CO; o++)
        for (int v = 0; v < NV; v++) acc[o][v] = vf_zero();
    micro(in + a->g0 * a->gs + c0, a->groups, a->gs, a->rs, a->wp + (cb * a->K + a->g0 * 9) * CO, nv, acc);
    const int64_t no = a->Cout - cb * CO < CO ? a->Cout - cb * CO : CO;
    for (int64_t o = 0; o < no; o++) {
        const int64_t co = cb * CO + o;
        float *yo = yrow + co * a->ystride + c0;
        const vf bv = vf_set1(a->bias && a->g0 == 0 ? a->bias[co] : 0.0f);
        for (int v = 0; v < nv; v++) {
            const int64_t left = a->Wo - c0 - VL * v;
            vf r = vf_add(acc[o][v], bv);
            if (a->acc || a->g0 > 0) r = vf_add(r, vf_load_n(yo + VL * v, left));
            vf_store_n(yo + VL * v, r, left);
        }
    }
}

/* One input-channel pass over nr rows of the padded block, inside the conv's
 * parallel region. Items are (row, CW-column chunk); the output-channel
 * blocks run inside, so an item's input rows stay in L1/L2 while the pass's
 * weights stay in L2. No barrier at the end: every pass of a block has the
 * same items, and a static schedule gives each thread the same ones, so a
 * thread only ever adds onto outputs it wrote itself. */
static void run_pass(const conv_args *a, const float *pad, int64_t nr, int64_t nb) {
    const int64_t nchunks = (a->Wo + CW - 1) / CW;
    #pragma omp for schedule(static) nowait
    for (int64_t it = 0; it < nr * nchunks; it++) {
        const int64_t j = it / nchunks, c0 = it % nchunks * CW, left = a->Wo - c0;
        const int nv = left >= CW ? NV : (int)((left + VL - 1) / VL);
        const float *in = pad + j * a->rs;
        float *yrow = a->y + j * a->Wo;
        for (int64_t cb = 0; cb < nb; cb++) {
            if (nv == NV) tile(a, cb, in, yrow, c0, NV);
#if NV > 3
            else if (nv == 3) tile(a, cb, in, yrow, c0, 3);
#endif
#if NV > 2
            else if (nv == 2) tile(a, cb, in, yrow, c0, 2);
#endif
            else tile(a, cb, in, yrow, c0, 1);
        }
    }
}

/* What the fill reads: the virtual frame sequence [cache, x] and, for a
 * normalised input, the inverse norms of its positions. */
typedef struct fill_src {
    const float *x, *cache, *gamma, *inv; /* inv[f*H*W + p] for frame f of the sequence; gamma NULL: raw */
    float scale;
    int64_t Cin, kt, T, H, W;
    int up, silu;
} fill_src;

/* Fill pad[(g*R + j)*Wp + i] for g = ci*kt + dt, j < R rows (output-grid row
 * r0 - 1 + j), i < Wp columns (output column i - 1), zero outside the frame;
 * each source row is normalised on the way when asked. Inside the conv's
 * parallel region; ends with a barrier (the passes read rows other threads
 * filled). */
static void fill_pad(float *pad, const fill_src *s, int64_t t, int64_t r0, int64_t R, int64_t Wp) {
    const int64_t nc = s->kt - 1, HW = s->H * s->W, rows = s->Cin * s->kt * R, W = s->W;
    const int64_t Ho = s->up ? 2 * s->H : s->H, Wo = s->up ? 2 * W : W;
    #pragma omp for schedule(static)
    for (int64_t gr = 0; gr < rows; gr++) {
        const int64_t g = gr / R, j = gr % R, ci = g / s->kt, f = t + g % s->kt, rr = r0 - 1 + j;
        float *dst = pad + gr * Wp;
        if (rr < 0 || rr >= Ho) {
            memset(dst, 0, (size_t)Wp * sizeof(float));
            continue;
        }
        /* row sr of frame f of the virtual sequence [cache frames, x frames] */
        const int64_t sr = s->up ? rr >> 1 : rr;
        const float *src = (f < nc ? s->cache + (ci * nc + f) * HW : s->x + (ci * s->T + f - nc) * HW) + sr * W;
        dst[0] = 0.0f;
        if (s->gamma)
            dg_cpu_rms_apply(dst + 1, src, s->inv + f * HW + sr * W, W, s->scale, s->gamma[ci], s->silu);
        else
            memcpy(dst + 1, src, (size_t)W * sizeof(float));
        if (s->up) /* in place, right to left: column c reads source c/2 <= c, not yet overwritten */
            for (int64_t c = Wo - 1; c >= 0; c--) dst[1 + c] = dst[1 + (c >> 1)];
        memset(dst + 1 + Wo, 0, (size_t)(Wp - 1 - Wo) * sizeof(float));
    }
}

int dg_cpu_conv3x3_direct(dg_backend *be, const dg_cpu_conv *c) {
    const int64_t Cin = c->Cin, Cout = c->Cout, kt = c->kt, T = c->T, nc = kt - 1, HW = c->H * c->W;
    const int64_t Ho = c->up ? 2 * c->H : c->H, Wo = c->up ? 2 * c->W : c->W, Wp = round_up16(Wo) + 16;
    const int64_t K = Cin * kt * 9, nb = (Cout + CO - 1) / CO, wfloats = nb * K * CO;
    int64_t rb = PAD_TARGET_FLOATS / (Cin * kt * Wp) - 2;
    rb = rb < 1 ? 1 : rb > Ho ? Ho : rb;
    const int64_t R = rb + 2, padfloats = Cin * kt * R * Wp, invfloats = c->norm ? (nc + T) * HW : 0;
    float *wp;
    DG_TRY(dg_cpu_work(be, (size_t)(wfloats + padfloats + invfloats), &wp));
    float *pad = wp + wfloats, *inv = pad + padfloats;
    pack_weights(wp, c->w, Cout, K);
    if (c->norm) {
        if (nc) dg_cpu_rms_inv(inv, c->cache, Cin, nc * HW);
        dg_cpu_rms_inv(inv + nc * HW, c->x, Cin, T * HW);
    }
    const fill_src src = {.x = c->x, .cache = c->cache, .gamma = c->norm, .inv = inv, .scale = sqrtf((float)Cin),
                          .Cin = Cin, .kt = kt, .T = T, .H = c->H, .W = c->W, .up = c->up, .silu = c->silu};
    /* Input channels per pass: a pass's weights (all output channels) fit in L2. */
    int64_t cc = WEIGHT_PASS_FLOATS / (Cout * kt * 9);
    cc = cc < 8 ? 8 : cc > Cin ? Cin : cc;
    /* One parallel region for the whole conv: the only waits are after each
     * fill and before the next one overwrites the padded block. */
    #pragma omp parallel if (T * Ho * Wo * Cout * K > DG_CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++)
        for (int64_t r0 = 0; r0 < Ho; r0 += rb) {
            fill_pad(pad, &src, t, r0, R, Wp);
            conv_args a = {.bias = c->bias, .wp = wp, .Cout = Cout, .K = K, .gs = R * Wp, .rs = Wp, .Wo = Wo,
                           .ystride = T * Ho * Wo, .acc = c->acc, .y = c->y + t * Ho * Wo + r0 * Wo};
            for (int64_t ci0 = 0; ci0 < Cin; ci0 += cc) {
                a.g0 = ci0 * kt;
                a.groups = (ci0 + cc <= Cin ? cc : Cin - ci0) * kt;
                run_pass(&a, pad, r0 + rb <= Ho ? rb : Ho - r0, nb);
            }
            #pragma omp barrier
        }
    return DG_OK;
}

#endif
