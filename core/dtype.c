#include "core/dtype.h"

#include <string.h>

size_t dg_dtype_size(dg_dtype t) { return t == DG_F32 ? 4 : 2; }

const char *dg_dtype_name(dg_dtype t) {
    switch (t) {
    case DG_F32: return "F32";
    case DG_BF16: return "BF16";
    case DG_F16: return "F16";
    }
    return "?";
}

float dg_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 0x400u));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t dg_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);       /* NaN */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);      /* overflow -> inf */
    if (ax < 0x38800000u) {                                         /* subnormal or zero */
        if (ax < 0x33000000u) return (uint16_t)sign;
        uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e;                                   /* 14..24 */
        uint32_t half = m >> shift, rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t r = ax + 0xfffu + ((ax >> 13) & 1u);                   /* round to nearest even */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

void dg_convert_to_f32(float *dst, const void *src, dg_dtype src_type, size_t n) {
    const uint16_t *h = src;
    switch (src_type) {
    case DG_F32: memcpy(dst, src, n * 4); break;
    case DG_BF16:
        #pragma omp parallel for simd if (n > 65536)
        for (size_t i = 0; i < n; i++) dst[i] = dg_bf16_to_f32(h[i]);
        break;
    case DG_F16:
        #pragma omp parallel for if (n > 65536)
        for (size_t i = 0; i < n; i++) dst[i] = dg_f16_to_f32(h[i]);
        break;
    }
}

void dg_convert_from_f32(void *dst, dg_dtype dst_type, const float *src, size_t n) {
    uint16_t *h = dst;
    switch (dst_type) {
    case DG_F32: memcpy(dst, src, n * 4); break;
    case DG_BF16: for (size_t i = 0; i < n; i++) h[i] = dg_f32_to_bf16(src[i]); break;
    case DG_F16: for (size_t i = 0; i < n; i++) h[i] = dg_f32_to_f16(src[i]); break;
    }
}
