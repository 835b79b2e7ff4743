/* The MP4 writer in builds without FFmpeg (cmake -DDG_WITH_FFMPEG=OFF): every
 * call is refused with the reason, so .mp4 outputs fail cleanly and PNG
 * frames remain available. */
#include <string.h>

#include "core/error.h"
#include "io/mp4.h"

static int unavailable(const char *path) {
    return dg_error("MP4 '%s': this ditgen was built without FFmpeg (DG_WITH_FFMPEG=OFF); write PNG frames with a "
                    "pattern like out_%%03d.png instead",
                    path ? path : "?");
}

int dg_mp4_available(void) { return 0; }

int dg_mp4_open(dg_mp4_writer *w, const char *path, int width, int height, int fps, int crf) {
    memset(w, 0, sizeof *w);
    return unavailable(path);
}

int dg_mp4_write_frame(dg_mp4_writer *w, const uint8_t *rgb) { return unavailable(w->path); }

int dg_mp4_close(dg_mp4_writer *w) { return unavailable(w->path); }

void dg_mp4_abort(dg_mp4_writer *w) { memset(w, 0, sizeof *w); }

int dg_mp4_write(const char *path, const uint8_t *frames, int n_frames, int width, int height, int fps,
                 const char *comment) {
    return unavailable(path);
}

int dg_mp4_read_comment(const char *path, char **out) {
    *out = NULL;
    return unavailable(path);
}
