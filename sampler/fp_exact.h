/* Include last in a .c file whose float arithmetic must round every product
 * like numpy/torch do: the build uses -std=gnu11 -march=native, under which
 * GCC fuses a*b+c into an FMA and the schedules (int64 truncation of
 * sigma*1000) and step results would drift from diffusers by an ulp. */
#ifndef DG_SAMPLER_FP_EXACT_H
#define DG_SAMPLER_FP_EXACT_H

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#endif
