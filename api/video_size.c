#include "api/video_size.h"

#include "core/error.h"
#include "ditgen.h"

int dg_video_latent_shape(const dg_video_grid *m, int width, int height, int frames, int64_t shape[4]) {
    int sh = m->spatial_factor * m->patch[1], sw = m->spatial_factor * m->patch[2], tf = m->temporal_factor;
    DG_CHECK(width > 0 && height > 0 && width <= DG_MAX_SIDE && height <= DG_MAX_SIDE,
             "width/height %dx%d out of range 1..%d", width, height, DG_MAX_SIDE);
    DG_CHECK(width % sw == 0, "width %d is not a multiple of %d (VAE factor x patch)", width, sw);
    DG_CHECK(height % sh == 0, "height %d is not a multiple of %d (VAE factor x patch)", height, sh);
    DG_CHECK(frames >= 1 && frames <= DG_MAX_FRAMES, "frames %d out of range 1..%d", frames, DG_MAX_FRAMES);
    DG_CHECK((frames - 1) % tf == 0, "frames %d: this model needs %dk+1 frames (e.g. %d or %d)", frames, tf,
             (frames - 1) / tf * tf + 1, ((frames - 1) / tf + 1) * tf + 1);
    int64_t F = (frames - 1) / tf + 1;
    DG_CHECK(F % m->patch[0] == 0, "frames %d gives %lld latent frames, not a multiple of the temporal patch %d",
             frames, (long long)F, m->patch[0]);
    shape[0] = m->channels;
    shape[1] = F;
    shape[2] = height / m->spatial_factor;
    shape[3] = width / m->spatial_factor;
    int64_t grid[3] = {F / m->patch[0], shape[2] / m->patch[1], shape[3] / m->patch[2]}, most = 0;
    for (int a = 0; a < 3; a++) most = grid[a] > most ? grid[a] : most;
    DG_CHECK(most <= m->rope_max_seq_len,
             "width/height/frames %dx%dx%d give a %lldx%lldx%lld token grid; this model's RoPE covers %d "
             "positions per axis (rope_max_seq_len)", width, height, frames, (long long)grid[0], (long long)grid[1],
             (long long)grid[2], m->rope_max_seq_len);
    return DG_OK;
}
