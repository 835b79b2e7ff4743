/* Element types and their conversions. bf16/f16 are stored as raw uint16_t. */
#ifndef DG_CORE_DTYPE_H
#define DG_CORE_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DG_F32 = 0, DG_BF16 = 1, DG_F16 = 2 } dg_dtype;

size_t dg_dtype_size(dg_dtype t);
const char *dg_dtype_name(dg_dtype t);

static inline float dg_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

/* Round to nearest even, as torch does; NaN stays NaN. */
static inline uint16_t dg_f32_to_bf16(float f) {
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40);
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}

float dg_f16_to_f32(uint16_t h);
uint16_t dg_f32_to_f16(float f);

/* Convert n elements of type `src_type` to float32. */
void dg_convert_to_f32(float *dst, const void *src, dg_dtype src_type, size_t n);
/* Convert n float32 elements to `dst_type`. */
void dg_convert_from_f32(void *dst, dg_dtype dst_type, const float *src, size_t n);

#endif
