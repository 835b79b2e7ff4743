/* The CPU backend's two convolution code paths against a direct seven-loop
 * reference: dg_conv3d itself (the direct AVX-512 kernel where it applies)
 * and the im2col + GEMM path alone (dg_cpu_conv3d_gemm), which CPUs without
 * AVX-512 use for all kernels. test_backend_ops checks the op (and its
 * refusals) on every backend but reaches only the path the build machine
 * picks; the shapes here follow the kernels' blocking: output widths
 * ending in 1..4 partial 16-column vectors, output channels that are not a
 * multiple of the micro-kernel's 6, several row blocks and several
 * input-channel passes in the direct kernel, cache frames (kt = 3), the 2x
 * upsampling read, residual accumulation, and the GEMM shapes (1x1 and
 * 3x1x1 kernels). */
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
} conv_case;

/* y[co,t,r,c] (+)= b[co] + sum w[co,ci,dt,dy,dx] * v(ci, t+dt, r+dy-ph, c+dx-pw), where v reads
 * the virtual sequence [cache, x] through the optional nearest 2x upsample, zero outside. */
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

static void run_case(const char *name, conv_case k) {
    const int64_t Ho = k.up ? 2 * k.h : k.h, Wo = k.up ? 2 * k.w : k.w;
    const size_t nx = (size_t)(k.cin * k.t * k.h * k.w), ny = (size_t)(k.cout * k.t * Ho * Wo);
    const size_t nw = (size_t)(k.cout * k.cin * k.kt * k.kh * k.kw), ncache = (size_t)(k.cin * (k.kt - 1) * k.h * k.w);
    float *x = filled(nx, 1), *w = filled(nw, 2), *b = filled((size_t)k.cout, 3), *cache = filled(ncache + 1, 4);
    float *y0 = filled(ny, 5), *y = malloc(ny * sizeof(float)), *ref = malloc(ny * sizeof(float));
    CHECK(x && w && b && cache && y0 && y && ref, "%s: out of memory", name);
    if (x && w && b && cache && y0 && y && ref) {
        memcpy(ref, y0, ny * sizeof(float));
        reference(&k, ref, x, cache, w, b);
        dg_tensor X, Y, Wt, B, C;
        int64_t xs[4] = {k.cin, k.t, k.h, k.w}, ys[4] = {k.cout, k.t, Ho, Wo}, bs[1] = {k.cout};
        int64_t ws5[5] = {k.cout, k.cin, k.kt, k.kh, k.kw}, ws4[4] = {k.cout, k.cin, k.kh, k.kw};
        int64_t cs[4] = {k.cin, k.kt - 1, k.h, k.w};
        CHECK_OK(dg_tensor_view(&X, &be, DG_F32, 4, xs, x));
        CHECK_OK(dg_tensor_view(&Y, &be, DG_F32, 4, ys, y));
        CHECK_OK(k.kt > 1 ? dg_tensor_view(&Wt, &be, DG_F32, 5, ws5, w) : dg_tensor_view(&Wt, &be, DG_F32, 4, ws4, w));
        CHECK_OK(dg_tensor_view(&B, &be, DG_F32, 1, bs, b));
        if (k.kt > 1) CHECK_OK(dg_tensor_view(&C, &be, DG_F32, 4, cs, cache));
        /* the dispatching entry (direct kernel where it applies) and the GEMM path */
        for (int gemm = 0; gemm < 2; gemm++) {
            memcpy(y, y0, ny * sizeof(float));
            const dg_tensor *cp = k.kt > 1 ? &C : NULL;
            CHECK_OK(gemm ? dg_cpu_conv3d_gemm(&be, &Y, &X, cp, &Wt, &B, k.up, k.acc)
                          : dg_conv3d(&Y, &X, cp, &Wt, &B, k.up, k.acc));
            double err, mag;
            test_max_err(y, ref, ny, &err, &mag);
            /* fp32 sums of up to ~3000 terms of size <= 0.25 */
            CHECK(err <= 2e-5 * (mag > 1 ? mag : 1), "%s (%s): max |conv - reference| = %.3g (max |ref| %.3g)", name,
                  gemm ? "gemm" : "default", err, mag);
            printf("%-34s %-7s max err %.2e\n", name, gemm ? "gemm" : "default", err);
        }
    }
    free(x), free(w), free(b), free(cache), free(y0), free(y), free(ref);
}

int main(void) {
    CHECK_OK(dg_backend_cpu_init(&be, 2));
    /* widths 70/90/100/120: last 64-column chunk holds 1, 2, 3, 4 vectors */
    run_case("3x3x3 cache, Wo 70, Cout 7", (conv_case){5, 7, 3, 3, 3, 3, 6, 70, 0, 0});
    run_case("3x3x3 cache, Wo 90, Cout 6, acc", (conv_case){4, 6, 3, 3, 3, 2, 5, 90, 0, 1});
    run_case("3x3 2D upsample, Wo 100, Cout 13", (conv_case){6, 13, 1, 3, 3, 1, 4, 50, 1, 0});
    run_case("3x3 2D, Wo 120, Cout 3 (conv_out)", (conv_case){9, 3, 1, 3, 3, 2, 3, 120, 0, 1});
    run_case("3x3x3, tiny frame 1x1", (conv_case){3, 5, 3, 3, 3, 2, 1, 1, 0, 0});
    /* Cout*kt*9*Cin above one weight pass: two input-channel passes */
    run_case("3x3x3, 2 input-channel passes", (conv_case){40, 250, 3, 3, 3, 1, 3, 20, 0, 1});
    /* Cin*kt*Wp large enough for two row blocks of the padded input */
    run_case("3x3x3, 2 row blocks", (conv_case){100, 3, 3, 3, 3, 1, 30, 500, 0, 0});
    run_case("1x1 (GEMM)", (conv_case){8, 11, 1, 1, 1, 2, 3, 17, 0, 1});
    run_case("3x1x1 time conv (im2col GEMM)", (conv_case){6, 12, 3, 1, 1, 2, 3, 9, 0, 0});
    dg_backend_free(&be);
    return TEST_END();
}
