#include "io/frames.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

static inline uint8_t to_u8(float x) {
    float v = x * 0.5f + 0.5f;
    if (!(v > 0.0f)) v = 0.0f; /* also catches NaN */
    if (v > 1.0f) v = 1.0f;
    return (uint8_t)floorf(v * 255.0f + 0.5f);
}

int dg_frames_from_float(uint8_t *rgb, const float *x, int C, int F, int H, int W) {
    DG_CHECK(rgb && x, "frames: NULL buffer");
    DG_CHECK(C == 1 || C == 3, "frames: %d channels (expected 3 for RGB or 1 for grey)", C);
    DG_CHECK(F > 0 && H > 0 && W > 0, "frames: bad shape [%d, %d, %d, %d]", C, F, H, W);
    size_t plane = (size_t)H * (size_t)W;
    DG_CHECK(plane <= SIZE_MAX / 3 / (size_t)F, "frames: shape [%d, %d, %d, %d] too large", C, F, H, W);
    size_t chan = (size_t)F * plane; /* stride between channels of x */
    for (size_t i = 0; i < chan; i++) {
        uint8_t *o = rgb + 3 * i;
        if (C == 3) {
            o[0] = to_u8(x[i]);
            o[1] = to_u8(x[chan + i]);
            o[2] = to_u8(x[2 * chan + i]);
        } else {
            o[0] = o[1] = o[2] = to_u8(x[i]);
        }
    }
    return DG_OK;
}
