/* torch-compatible CPU random numbers: mt19937 and torch.randn's two paths.
 *
 * The float path reproduces torch's AVX2 kernel (normal_fill_AVX2 with
 * avx_mathfun.h's log256_ps / sincos256_ps) one lane at a time. torch's wheel
 * is built by GCC with contraction on, so some multiply-adds of those routines
 * are fused and others are not; the fused ones are written as fmaf() here
 * (read off the disassembly of libtorch_cpu.so, confirmed bit for bit against
 * torch.randn), and no unfused product feeds an addition, so the bits do not
 * depend on this build's -ffp-contract, -O level or FMA hardware (fmaf is
 * correctly rounded either way). Constants are torch's float bit patterns. */
#include "core/rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MT_M 397

void dg_rng_init(dg_rng *r, uint64_t seed) {
    /* torch's mt19937 keeps the 64-bit seed but initialises from its low word. */
    r->state[0] = (uint32_t)seed;
    for (uint32_t j = 1; j < DG_RNG_STATE_N; j++)
        r->state[j] = 1812433253u * (r->state[j - 1] ^ (r->state[j - 1] >> 30)) + j;
    r->next = DG_RNG_STATE_N;
    r->has_spare = 0;
    r->spare = 0.0;
}

static uint32_t mt_twist(uint32_t u, uint32_t v) {
    uint32_t y = (u & 0x80000000u) | (v & 0x7fffffffu);
    return (y >> 1) ^ ((v & 1u) ? 0x9908b0dfu : 0u);
}

static void mt_regenerate(dg_rng *r) {
    uint32_t *s = r->state;
    for (int i = 0; i < DG_RNG_STATE_N; i++)
        s[i] = s[(i + MT_M) % DG_RNG_STATE_N] ^ mt_twist(s[i], s[(i + 1) % DG_RNG_STATE_N]);
    r->next = 0;
}

uint32_t dg_rng_u32(dg_rng *r) {
    if (r->next >= DG_RNG_STATE_N) mt_regenerate(r);
    uint32_t y = r->state[r->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* at::uniform_real_distribution<float>(0, 1): 24 bits of one draw. */
static float uniform24(dg_rng *r) {
    return (float)(dg_rng_u32(r) & 0xffffffu) * 0x1p-24f;
}

/* at::uniform_real_distribution<double>(0, 1): 53 bits of random64(), whose
 * high word is the first draw. */
static double uniform53(dg_rng *r) {
    uint64_t hi = dg_rng_u32(r);
    uint64_t lo = dg_rng_u32(r);
    return (double)(((hi << 32) | lo) & ((1ull << 53) - 1)) * 0x1p-53;
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* log256_ps for x = 1 - uniform24, i.e. x in [2^-24, 1]: always a positive
 * normal float, so the lanes' denormal clamp and x <= 0 NaN mask never act. */
static float cephes_logf(float x) {
    uint32_t bits = f32_bits(x);
    float e = (float)((int32_t)(bits >> 23) - 127) + 1.0f;
    float m = f32_from_bits((bits & ~0x7f800000u) | 0x3f000000u); /* in [0.5, 1) */
    int below = m < 0x1.6a09e6p-1f;                                /* sqrt(1/2) */
    float tmp = below ? m : 0.0f;
    float t = m - 1.0f;
    e = e - (below ? 1.0f : 0.0f);
    t = t + tmp;
    float z = t * t;
    float y = fmaf(0x1.204376p-4f, t, -0x1.d7a370p-4f);
    y = fmaf(y, t, 0x1.de4a34p-4f);
    y = fmaf(y, t, -0x1.fcba9ep-4f);
    y = fmaf(y, t, 0x1.23d37ep-3f);
    y = fmaf(y, t, -0x1.555ca0p-3f);
    y = fmaf(y, t, 0x1.999d58p-3f);
    y = fmaf(y, t, -0x1.fffff8p-3f);
    y = fmaf(y, t, 0x1.555554p-2f);
    y = y * t;
    y = fmaf(y, z, e * -0x1.bd0106p-13f);
    y = fmaf(-z, 0.5f, y);
    t = t + y;
    return fmaf(e, 0x1.63p-1f, t);
}

/* sincos256_ps for x = 2*pi*uniform24 >= 0, so only the octant sets signs. */
static void cephes_sincosf(float x, float *s, float *c) {
    int32_t j = (int32_t)(x * 0x1.45f306p+0f); /* 4/pi; truncation as cvttps */
    j = (j + 1) & ~1;
    float y = (float)j;
    uint32_t flip_sin = (j & 4) ? 0x80000000u : 0u;
    uint32_t flip_cos = ((j - 2) & 4) ? 0u : 0x80000000u;
    int sin_poly = (j & 2) == 0; /* sine from the sine polynomial, cosine from the cosine one */

    /* x - y*pi/4 in three parts (Cephes' extended-precision reduction) */
    x = fmaf(y, -0x1.92p-1f, x);
    x = fmaf(y, -0x1.fb4p-13f, x);
    x = fmaf(y, -0x1.4442d2p-25f, x);

    float z = x * x;
    float half_z = z * 0.5f;
    float yc = fmaf(0x1.99eb9cp-16f, z, -0x1.6c0c34p-10f);
    yc = fmaf(yc, z, 0x1.55554ap-5f);
    yc = yc * z;
    yc = fmaf(yc, z, -half_z);
    yc = yc + 1.0f;

    float ys = fmaf(-0x1.9943f2p-13f, z, 0x1.11073cp-7f);
    ys = fmaf(ys, z, -0x1.555546p-3f);
    ys = ys * z;
    ys = fmaf(ys, x, x);

    /* The lanes select by masking and then add and subtract the masked parts;
     * kept as is because x + 0 and x - x differ from a plain select for -0. */
    float sin_part = sin_poly ? ys : 0.0f;
    float cos_part = sin_poly ? 0.0f : yc;
    ys = ys - sin_part;
    yc = yc - cos_part;
    *s = f32_from_bits(f32_bits(cos_part + sin_part) ^ flip_sin);
    *c = f32_from_bits(f32_bits(yc + ys) ^ flip_cos);
}

/* normal_fill_16_AVX2: d[0..8) radius uniforms, d[8..16) angle uniforms. */
static void box_muller_16(float *d) {
    for (int k = 0; k < 8; k++) {
        float radius = sqrtf(-2.0f * cephes_logf(1.0f - d[k]));
        float s, c;
        cephes_sincosf(0x1.921fb6p+2f * d[k + 8], &s, &c); /* (float)(2*pi) */
        /* torch applies std (1) and mean (0) with an fma: a -0 becomes +0. */
        d[k] = radius * c + 0.0f;
        d[k + 8] = radius * s + 0.0f;
    }
}

/* at::normal_distribution<double>, as torch runs it for tensors under 16. */
static float normal_scalar(dg_rng *r) {
    double v;
    if (r->has_spare) {
        v = r->spare;
        r->has_spare = 0;
    } else {
        double u1 = uniform53(r);
        double u2 = uniform53(r);
        double radius = sqrt(-2.0 * log1p(-u2));
        double theta = 2.0 * 3.14159265358979323846 * u1;
        r->spare = radius * sin(theta);
        r->has_spare = 1;
        v = radius * cos(theta);
    }
    return (float)(v + 0.0); /* mean 0 added as torch does; -0 becomes +0 */
}

void dg_randn(dg_rng *r, float *out, size_t n) {
    if (n < 16) {
        for (size_t i = 0; i < n; i++) out[i] = normal_scalar(r);
        return;
    }
    for (size_t i = 0; i < n; i++) out[i] = uniform24(r);
    for (size_t i = 0; i + 16 <= n; i += 16) box_muller_16(out + i);
    if (n % 16 != 0) {
        /* torch redraws the last 16 (overlapping the last full block) */
        float *tail = out + n - 16;
        for (int i = 0; i < 16; i++) tail[i] = uniform24(r);
        box_muller_16(tail);
    }
}

/* splitmix64 finaliser: spreads weak entropy over all bits. */
static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t dg_rng_random_seed(void) {
    uint64_t v = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    int ok = f && fread(&v, sizeof v, 1, f) == 1;
    if (f) fclose(f);
    if (!ok) {
        struct timespec ts = {0};
        timespec_get(&ts, TIME_UTC);
        v = mix64((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
        v = mix64(v ^ (uint64_t)clock() ^ (uint64_t)(uintptr_t)&ts);
    }
    return v & 0x7fffffffu;
}
