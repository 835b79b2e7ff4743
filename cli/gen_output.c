#include "cli/gen_output.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/timing.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/frames.h"
#include "io/mp4.h"
#include "io/png.h"
#include "io/safetensors.h"

int gen_output_frame_path(char *buf, size_t size, const char *pattern, int f) {
    int n = snprintf(buf, size, pattern, f);
    if (n < 0 || (size_t)n >= size) return dg_error("--output '%s': the frame path is too long", pattern);
    return DG_OK;
}

/* One PNG per frame, all or nothing: every frame goes to a hidden name beside its final one, and
 * only when all are written are they renamed; a failure, or a second SIGINT, removes them. */
static int write_frames(const char *pattern, const uint8_t *rgb, int F, int W, int H, const char *meta) {
    char **tmp = calloc((size_t)F, sizeof *tmp);
    dg_pending *nodes = calloc((size_t)F, sizeof *nodes);
    int rc = tmp && nodes ? DG_OK : dg_error("out of memory for %d frame names", F), written = 0, renamed = 0;
    char path[4096];
    for (int f = 0; f < F && rc == DG_OK; f++) {
        rc = gen_output_frame_path(path, sizeof path, pattern, f);
        if (rc != DG_OK) break;
        const char *slash = strrchr(path, '/');
        const int dir = slash ? (int)(slash - path) + 1 : 0;
        const size_t len = strlen(path) + 48;
        if (!(tmp[f] = malloc(len))) {
            rc = dg_error("out of memory for %d frame names", F);
            break;
        }
        snprintf(tmp[f], len, "%.*s.%s.frame-tmp.%ld", dir, path, path + dir, (long)getpid());
        dg_pending_add(&nodes[f], tmp[f]);
        written = f + 1;
        rc = dg_png_write(tmp[f], rgb + (size_t)f * H * W * 3, W, H, meta);
        if (rc != DG_OK) dg_error_wrap("frame %d of '%s': ", f, pattern);
    }
    while (rc == DG_OK && renamed < F) {
        rc = gen_output_frame_path(path, sizeof path, pattern, renamed);
        if (rc == DG_OK && rename(tmp[renamed], path) != 0)
            rc = dg_error("cannot rename onto '%s': %s", path, strerror(errno));
        if (rc == DG_OK) dg_pending_remove(&nodes[renamed++]);
    }
    if (rc != DG_OK) { /* the frames already renamed go too: never a partial sequence */
        for (int f = 0; f < renamed; f++)
            if (gen_output_frame_path(path, sizeof path, pattern, f) == DG_OK) unlink(path);
        for (int f = renamed; f < written; f++) {
            dg_pending_remove(&nodes[f]);
            unlink(tmp[f]);
        }
    }
    for (int f = 0; tmp && f < F; f++) free(tmp[f]);
    free(tmp), free(nodes);
    return rc;
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
                      int frame_pattern, const char *out, int fps, const char *meta, int rank) {
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
    cli_stage_s.decode += cli_now_s() - t0;
    if (!rank && info->has_vae) fprintf(stderr, "vae decode: %.2f s\n", cli_now_s() - t0);
    if (rank) {
        rc = DG_OK; /* its share of the decode is done */
    } else if (kind == GEN_OUT_MP4) {
        rc = dg_mp4_write(out, rgb, F, W, H, fps, meta);
    } else if (!frame_pattern) {
        rc = F == 1 ? dg_png_write(out, rgb, W, H, meta)
                    : dg_error("%d frames into one .png: use .mp4 or a pattern like out_%%03d.png", F);
    } else {
        rc = write_frames(out, rgb, F, W, H, meta);
    }
done:
    free(rgb), free(frames);
    return rc;
}
