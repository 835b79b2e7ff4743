/* Model output (float pixels in [-1, 1]) to 8-bit interleaved RGB frames,
 * the input layout the PNG and MP4 writers take. */
#ifndef DG_IO_FRAMES_H
#define DG_IO_FRAMES_H

#include <stdint.h>

/* x is [C, F, H, W] float (the VAE output layout); writes F frames of H*W*3
 * interleaved RGB bytes to rgb (F*H*W*3 bytes). Mapping as diffusers'
 * postprocess: v = clamp(x/2 + 0.5, 0, 1), u8 = floor(v*255 + 0.5) (halves
 * round up; NaN maps to 0). C = 1 is grey, replicated to R, G and B; any C
 * other than 1 or 3 is refused. */
int dg_frames_from_float(uint8_t *rgb, const float *x, int C, int F, int H, int W);

#endif
