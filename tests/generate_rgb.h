/* Generate with a pipeline and get the frames as 8-bit RGB, as `ditgen
 * generate` writes them: the step shared by the pipeline, shipped-model and
 * quality tests. */
#ifndef DG_TESTS_GENERATE_RGB_H
#define DG_TESTS_GENERATE_RGB_H

#include <stdint.h>
#include <stdlib.h>

#include "ditgen.h"
#include "io/frames.h"

/* frames x height x width x 3 bytes (caller frees), or NULL with the
 * library's error in dg_last_error(). */
static uint8_t *generate_rgb(dg_pipeline *p, const dg_gen_params *g) {
    int64_t shape[4];
    if (dg_pipeline_latent_shape(p, g, shape)) return NULL;
    const size_t px = (size_t)g->frames * g->height * g->width * 3;
    float *lat = malloc((size_t)(shape[0] * shape[1] * shape[2] * shape[3]) * sizeof(float));
    float *rgbf = malloc(px * sizeof(float));
    uint8_t *rgb = malloc(px);
    int ok = lat && rgbf && rgb && dg_pipeline_generate(p, g, lat, NULL, NULL, NULL) == 0 &&
             dg_pipeline_decode(p, lat, shape, 0, rgbf) == 0 &&
             dg_frames_from_float(rgb, rgbf, 3, g->frames, g->height, g->width) == 0;
    free(lat), free(rgbf);
    if (!ok) free(rgb);
    return ok ? rgb : NULL;
}

#endif
