#include "cli/gen_output.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli/timing.h"
#include "core/error.h"
#include "io/frames.h"
#include "io/mp4.h"
#include "io/png.h"
#include "io/safetensors.h"

int gen_output_frame_path(char *buf, size_t size, const char *pattern, int f) {
    int n = snprintf(buf, size, pattern, f);
    if (n < 0 || (size_t)n >= size) return dg_error("--output '%s': the frame path is too long", pattern);
    return DG_OK;
}

int gen_output_latents(const char *out, const float *lat, const int64_t shape[4], const char *model, uint64_t seed,
                       const char *meta) {
    int64_t s5[5] = {1, shape[0], shape[1], shape[2], shape[3]};
    char seed_s[32];
    snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)seed);
    const char *kv[] = {"seed", seed_s, "model", model, "parameters", meta};
    dg_st_entry e = {"latents", DG_F32, 5, s5, lat};
    return dg_safetensors_save(out, &e, 1, kv, meta ? 3 : 2);
}

int gen_output_frames(dg_pipeline *p, const float *lat, const int64_t shape[4], int vae_tile, gen_out_kind kind,
                      int frame_pattern, const char *out, int fps, const char *meta) {
    const dg_model_info *info = dg_pipeline_info(p);
    int F = 1 + info->temporal_factor * ((int)shape[1] - 1);
    int H = (int)shape[2] * info->spatial_factor, W = (int)shape[3] * info->spatial_factor;
    size_t px = (size_t)F * H * W;
    float *frames = malloc(px * 3 * sizeof(float));
    uint8_t *rgb = malloc(px * 3);
    int rc = DG_ERR;
    if (!frames || !rgb) {
        dg_error("out of memory converting %d frames of %dx%d", F, W, H);
        goto done;
    }
    double t0 = cli_now_s();
    if (dg_pipeline_decode(p, lat, shape, vae_tile, frames) || dg_frames_from_float(rgb, frames, 3, F, H, W))
        goto done;
    if (info->has_vae) fprintf(stderr, "vae decode: %.2f s\n", cli_now_s() - t0);
    if (kind == GEN_OUT_MP4) {
        rc = dg_mp4_write(out, rgb, F, W, H, fps, meta);
    } else if (!frame_pattern) {
        rc = F == 1 ? dg_png_write(out, rgb, W, H, meta)
                    : dg_error("%d frames into one .png: use .mp4 or a pattern like out_%%03d.png", F);
    } else {
        rc = DG_OK;
        for (int f = 0; f < F && rc == DG_OK; f++) {
            char path[4096];
            rc = gen_output_frame_path(path, sizeof path, out, f);
            if (rc == DG_OK) rc = dg_png_write(path, rgb + (size_t)f * H * W * 3, W, H, meta);
        }
    }
done:
    free(rgb), free(frames);
    return rc;
}
