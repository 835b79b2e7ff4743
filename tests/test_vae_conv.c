/* The CPU backend's convolution code paths against a direct seven-loop
 * reference: the dispatching entry, the im2col + GEMM path alone
 * (dg_cpu_conv3d_gemm, every kernel's path without AVX-512) and, where built,
 * the direct 3x3 kernel alone (dg_cpu_conv3d_direct: the default with
 * AVX-512, built for this test with AVX2, so that its shared logic is checked
 * on machines without AVX-512). test_backend_ops checks the op (and its
 * refusals) on every backend but reaches only the path the build machine
 * picks; the shapes here follow the kernels' blocking: output widths ending
 * in every count of partial 8- and 16-column vectors of a chunk, output
 * channels that are not a multiple of the micro-kernel's 6, several row
 * blocks and several input-channel passes in the direct kernel, cache frames
 * (kt = 3), the 2x upsampling read, residual accumulation, an input
 * normalised (and SiLU'd) as it is read, and the GEMM shapes (1x1 and 3x1x1
 * kernels). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/cpu/video_cpu.h"
#include "core/error.h"
#include "core/ops.h"
#include "tests/test.h"

static dg_backend be;

static float hashf(uint64_t i, uint64_t seed) {
    uint64_t z = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 31)) * 0x94D049BB133111EBull;
    return (float)((z >> 40) & 0xFFFF) / 65536.0f - 0.5f;
}

static float *filled(size_t n, uint64_t seed) {
    float *p = malloc(n * sizeof(float));
    if (p)
        for (size_t i = 0; i < n; i++) p[i] = hashf(i, seed);
    return p;
}

typedef struct conv_case {
    int64_t cin, cout, kt, kh, kw, t, h, w;
    int up, acc;
    int norm; /* input channel-normalised first: 1; then SiLU'd: 2 */
} conv_case;

/* v[C, P] in place: v / max(||v||, 1e-12) * sqrt(C) * g per position, then SiLU if silu. */
static void normalize_ref(float *v, int64_t C, int64_t P, const float *g, int silu) {
    for (int64_t p = 0; p < P; p++) {
        double ss = 0;
        for (int64_t c = 0; c < C; c++) ss += (double)v[c * P + p] * v[c * P + p];
        const double norm = fmax(sqrt(ss), 1e-12);
        for (int64_t c = 0; c < C; c++) {
            const double u = v[c * P + p] / norm * sqrt((double)C) * g[c];
            v[c * P + p] = (float)(silu ? u / (1.0 + exp(-u)) : u);
        }
    }
}

/* y[co,t,r,c] (+)= b[co] + sum w[co,ci,dt,dy,dx] * v(ci, t+dt, r+dy-ph, c+dx-pw), where v reads
 * the virtual sequence [cache, x] (already normalised when the case asks) through the optional
 * nearest 2x upsample, zero outside. */
static void reference(const conv_case *k, float *y, const float *x, const float *cache, const float *w,
                      const float *b) {
    const int64_t Ho = k->up ? 2 * k->h : k->h, Wo = k->up ? 2 * k->w : k->w, nc = k->kt - 1;
    const int64_t ph = (k->kh - 1) / 2, pw = (k->kw - 1) / 2;
    for (int64_t co = 0; co < k->cout; co++)
        for (int64_t t = 0; t < k->t; t++)
            for (int64_t r = 0; r < Ho; r++)
                for (int64_t c = 0; c < Wo; c++) {
                    double s = b[co];
                    for (int64_t ci = 0; ci < k->cin; ci++)
                        for (int64_t dt = 0; dt < k->kt; dt++)
                            for (int64_t dy = 0; dy < k->kh; dy++)
                                for (int64_t dx = 0; dx < k->kw; dx++) {
                                    const int64_t rr = r + dy - ph, cc = c + dx - pw, f = t + dt;
                                    if (rr < 0 || rr >= Ho || cc < 0 || cc >= Wo) continue;
                                    const int64_t sr = k->up ? rr / 2 : rr, sc = k->up ? cc / 2 : cc;
                                    const float v = f < nc ? cache[((ci * nc + f) * k->h + sr) * k->w + sc]
                                                           : x[((ci * k->t + f - nc) * k->h + sr) * k->w + sc];
                                    s += (double)v * w[(((co * k->cin + ci) * k->kt + dt) * k->kh + dy) * k->kw + dx];
                                }
                    float *o = &y[((co * k->t + t) * Ho + r) * Wo + c];
                    *o = (float)(k->acc ? *o + s : s);
                }
}

/* The dispatching entry, the GEMM path and, where built, the direct kernel. */
typedef int (*conv_fn)(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *cache, const dg_tensor *w,
                       const dg_tensor *b, const dg_tensor *norm, unsigned flags);
static const struct {
    const char *name;
    conv_fn conv;
} paths[] = {
    {"default", dg_cpu_conv3d},
    {"gemm", dg_cpu_conv3d_gemm},
#ifdef DG_CPU_CONV_DIRECT
    {"direct", dg_cpu_conv3d_direct},
#endif
};

static void run_case(const char *name, conv_case k) {
    const int64_t Ho = k.up ? 2 * k.h : k.h, Wo = k.up ? 2 * k.w : k.w;
    const size_t nx = (size_t)(k.cin * k.t * k.h * k.w), ny = (size_t)(k.cout * k.t * Ho * Wo);
    const size_t nw = (size_t)(k.cout * k.cin * k.kt * k.kh * k.kw), ncache = (size_t)(k.cin * (k.kt - 1) * k.h * k.w);
    float *x = filled(nx, 1), *w = filled(nw, 2), *b = filled((size_t)k.cout, 3), *cache = filled(ncache + 1, 4);
    float *y0 = filled(ny, 5), *y = malloc(ny * sizeof(float)), *ref = malloc(ny * sizeof(float));
    float *g = filled((size_t)k.cin, 6), *xn = malloc((nx + ncache + 1) * sizeof(float)), *cn = xn + nx;
    CHECK(x && w && b && cache && y0 && y && ref && g && xn, "%s: out of memory", name);
    if (x && w && b && cache && y0 && y && ref && g && xn) {
        memcpy(xn, x, nx * sizeof(float));
        memcpy(cn, cache, ncache * sizeof(float));
        if (k.norm) {
            normalize_ref(xn, k.cin, k.t * k.h * k.w, g, k.norm == 2);
            normalize_ref(cn, k.cin, (k.kt - 1) * k.h * k.w, g, k.norm == 2);
        }
        memcpy(ref, y0, ny * sizeof(float));
        reference(&k, ref, xn, cn, w, b);
        dg_tensor X, Y, Wt, B, C, G;
        int64_t xs[4] = {k.cin, k.t, k.h, k.w}, ys[4] = {k.cout, k.t, Ho, Wo}, bs[1] = {k.cout}, gs[1] = {k.cin};
        int64_t ws5[5] = {k.cout, k.cin, k.kt, k.kh, k.kw}, ws4[4] = {k.cout, k.cin, k.kh, k.kw};
        int64_t cs[4] = {k.cin, k.kt - 1, k.h, k.w};
        CHECK_OK(dg_tensor_view(&X, &be, DG_F32, 4, xs, x));
        CHECK_OK(dg_tensor_view(&Y, &be, DG_F32, 4, ys, y));
        CHECK_OK(k.kt > 1 ? dg_tensor_view(&Wt, &be, DG_F32, 5, ws5, w) : dg_tensor_view(&Wt, &be, DG_F32, 4, ws4, w));
        CHECK_OK(dg_tensor_view(&B, &be, DG_F32, 1, bs, b));
        CHECK_OK(dg_tensor_view(&G, &be, DG_F32, 1, gs, g));
        const unsigned flags = (k.up ? DG_CONV_UPSAMPLE2X : 0) | (k.acc ? DG_CONV_ACCUMULATE : 0) |
                               (k.norm == 2 ? DG_CONV_SILU : 0);
        if (k.kt > 1) CHECK_OK(dg_tensor_view(&C, &be, DG_F32, 4, cs, cache));
        for (size_t pi = 0; pi < sizeof paths / sizeof *paths; pi++) {
            memcpy(y, y0, ny * sizeof(float));
            CHECK_OK(paths[pi].conv(&be, &Y, &X, k.kt > 1 ? &C : NULL, &Wt, &B, k.norm ? &G : NULL, flags));
            double err, mag;
            test_max_err(y, ref, ny, &err, &mag);
            /* fp32 sums of up to ~3000 terms of size <= 0.25 */
            CHECK(err <= 2e-5 * (mag > 1 ? mag : 1), "%s (%s): max |conv - reference| = %.3g (max |ref| %.3g)", name,
                  paths[pi].name, err, mag);
            printf("%-36s %-7s max err %.2e\n", name, paths[pi].name, err);
        }
    }
    free(x), free(w), free(b), free(cache), free(y0), free(y), free(ref), free(g), free(xn);
}

int main(void) {
    CHECK_OK(dg_backend_cpu_init(&be, 2));
    /* widths 70/90/100/120: the last 64-column (AVX-512) chunk holds 1, 2, 3, 4 vectors, the last
     * 16-column (AVX2) chunk 1, 2, 1, 1; 100 ends in a 4-column and 120 in a full vector */
    run_case("3x3x3 cache, Wo 70, Cout 7", (conv_case){5, 7, 3, 3, 3, 3, 6, 70, 0, 0, 0});
    run_case("3x3x3 cache, Wo 90, Cout 6, acc", (conv_case){4, 6, 3, 3, 3, 2, 5, 90, 0, 1, 0});
    run_case("3x3 2D upsample, Wo 100, Cout 13", (conv_case){6, 13, 1, 3, 3, 1, 4, 50, 1, 0, 0});
    run_case("3x3 2D, Wo 120, Cout 3 (conv_out)", (conv_case){9, 3, 1, 3, 3, 2, 3, 120, 0, 1, 0});
    run_case("3x3x3, tiny frame 1x1", (conv_case){3, 5, 3, 3, 3, 2, 1, 1, 0, 0, 0});
    /* Cout*kt*9*Cin above one weight pass: two input-channel passes */
    run_case("3x3x3, 2 input-channel passes", (conv_case){40, 250, 3, 3, 3, 1, 3, 20, 0, 1, 0});
    /* Cin*kt*Wp large enough for two row blocks of the padded input */
    run_case("3x3x3, 2 row blocks", (conv_case){100, 3, 3, 3, 3, 1, 30, 500, 0, 0, 0});
    run_case("1x1 (GEMM)", (conv_case){8, 11, 1, 1, 1, 2, 3, 17, 0, 1, 0});
    /* the residual block's convs: cache and x normalised and SiLU'd as they are read */
    run_case("3x3x3 norm+silu, Wo 90, Cout 7, acc", (conv_case){12, 7, 3, 3, 3, 2, 5, 90, 0, 1, 2});
    run_case("3x3x3 norm, 2 row blocks", (conv_case){100, 5, 3, 3, 3, 1, 30, 500, 0, 0, 1});
    run_case("3x3 norm+silu, upsample, Wo 58", (conv_case){6, 13, 1, 3, 3, 1, 4, 29, 1, 0, 2});
    run_case("1x1 norm (GEMM)", (conv_case){8, 11, 1, 1, 1, 2, 3, 17, 0, 1, 1});
    run_case("3x1x1 norm+silu (im2col GEMM)", (conv_case){6, 12, 3, 1, 1, 2, 3, 9, 0, 0, 2});
    run_case("3x1x1 time conv (im2col GEMM)", (conv_case){6, 12, 3, 1, 1, 2, 3, 9, 0, 0, 0});
    dg_backend_free(&be);
    return TEST_END();
}
