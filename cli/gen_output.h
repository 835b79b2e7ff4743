/* Writing a generation's result: latents to .safetensors, or decoded frames to .png (one
 * frame, or a %d pattern for one file per frame) or .mp4, each with its parameters text.
 * Shared by `generate`/`batch` and `decode`. */
#ifndef DG_CLI_GEN_OUTPUT_H
#define DG_CLI_GEN_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "cli/gen_job.h"
#include "ditgen.h"

/* Frame f's file name of a pattern that passed cli_frame_pattern (one %d: a safe format). */
int gen_output_frame_path(char *buf, size_t size, const char *pattern, int f);
/* latents [C, F, h, w] as a [1, C, F, h, w] "latents" tensor; the metadata keeps the model as
 * given (decode reopens it), the seed and, when meta is not NULL, the parameters text. */
int gen_output_latents(const char *out, const float *lat, const int64_t shape[4], const char *model, uint64_t seed,
                       const char *meta);
/* Decodes latents [C, F, h, w] and writes the frames (meta NULL: no parameters). Under parallel
 * generation every rank calls it for its share of the decode and only rank 0 writes. */
int gen_output_frames(dg_pipeline *p, const float *lat, const int64_t shape[4], int vae_tile, gen_out_kind kind,
                      int frame_pattern, const char *out, int fps, const char *meta, int rank);

#endif
