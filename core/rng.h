/* Gaussian noise bit-identical to torch.randn on the CPU, so a seed gives the
 * same latents as a diffusers pipeline run with torch.Generator("cpu").
 *
 * torch's CPU generator is mt19937 seeded with the low 32 bits of the seed.
 * A float32 randn of n >= 16 elements takes one 24-bit uniform per element and
 * turns blocks of 16 into normals with Box-Muller in float, using the
 * vectorised Cephes log/sincos of avx_mathfun.h as torch's AVX2/AVX512 build
 * compiles it (with fused multiply-adds); a ragged tail redraws the last 16.
 * n < 16 takes the scalar path: 53-bit double uniforms, Box-Muller in double
 * with libm, the spare sine value cached in the generator for the next call.
 * (A torch build running its DEFAULT, non-AVX2 kernel differs in the last bits.) */
#ifndef DG_CORE_RNG_H
#define DG_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

#define DG_RNG_STATE_N 624

typedef struct dg_rng {
    uint32_t state[DG_RNG_STATE_N];
    int next;           /* index of the next state word; DG_RNG_STATE_N: regenerate */
    int has_spare;      /* the scalar path's cached second Box-Muller value */
    double spare;
} dg_rng;

/* Same stream as torch.Generator().manual_seed(seed): only seed's low 32 bits count. */
void dg_rng_init(dg_rng *r, uint64_t seed);
/* Next raw 32-bit output (torch's CPUGeneratorImpl::random()). */
uint32_t dg_rng_u32(dg_rng *r);
/* out[0..n) = torch.randn(n) on this generator: the first call after init
 * equals the first torch.randn, and calls continue the stream as consecutive
 * torch.randn calls do. The result depends only on n, not on the shape. */
void dg_randn(dg_rng *r, float *out, size_t n);
/* A fresh seed for "seed < 0": from /dev/urandom, else time and pid; in
 * [0, 2^31) so it prints and round-trips as a plain non-negative int. */
uint64_t dg_rng_random_seed(void);

#endif
