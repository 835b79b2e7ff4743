/* A generation's size: the bounds every size must keep (DG_MAX_SIDE, DG_MAX_FRAMES in ditgen.h)
 * and the rules a model adds (pixels per latent cell, patch divisibility, RoPE range), checked in
 * one place as the size becomes a latent shape; and the text length. Used by the pipeline and
 * bench wan. */
#ifndef DG_API_VIDEO_SIZE_H
#define DG_API_VIDEO_SIZE_H

#include <stdint.h>

/* The Wan VAE's compression (pixels per latent cell in time and space), the factors of a folder
 * whose vae/config.json does not say, and of a bare transformer. */
#define DG_WAN_VAE_TEMPORAL_FACTOR 4
#define DG_WAN_VAE_SPATIAL_FACTOR 8

/* Text slots of Wan's pipeline (diffusers' max_sequence_length, whatever the tokenizer's
 * model_max_length): what a prompt encodes to unless model_index.json's _ditgen_defaults sets
 * max_sequence_length, and the text length a memory estimate assumes before any text. */
#define DG_WAN_TEXT_LEN 512

/* What a model imposes on a size. */
typedef struct dg_video_grid {
    int channels;                        /* latent channels */
    int temporal_factor, spatial_factor; /* pixels per latent cell (1 in pixel space) */
    int patch[3];                        /* latent cells per token: t, h, w */
    int rope_max_seq_len;                /* tokens per axis the positional encoding covers */
} dg_video_grid;

/* width x height x frames -> latent [C, F, H, W], or an error naming the parameters (width,
 * height, frames) and the rule they break. */
int dg_video_latent_shape(const dg_video_grid *grid, int width, int height, int frames, int64_t shape[4]);

#endif
