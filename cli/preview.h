/* generate --preview FILE.png: a cheap picture of the sampler's current estimate (x0) of the first
 * frame, rewritten atomically every N steps so that a bad seed can be stopped early. Pixel-space
 * models show x0 itself; VAE models a linear latent-to-RGB projection derived once per run (see
 * cli/preview.c), upscaled to the output size. */
#ifndef DG_CLI_PREVIEW_H
#define DG_CLI_PREVIEW_H

#include <stdint.h>

#include "ditgen.h"

#define CLI_PREVIEW_MAX_CHANNELS 64

typedef struct cli_preview {
    const char *path;
    dg_pipeline *p;
    int64_t shape[4];   /* the latents' */
    int fitted, failed; /* failed: warned once, no more previews */
    float w[3][CLI_PREVIEW_MAX_CHANNELS + 1]; /* per colour: a weight per latent channel, then a bias */
} cli_preview;

/* A dg_preview_fn; user is a cli_preview. A failure is one warning line and ends the previews,
 * not the generation. */
void cli_preview_write(void *user, int step, int steps, const float *x0);

#endif
