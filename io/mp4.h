/* H.264 (yuv420p) in MP4 through libavcodec/libavformat, written to a temp
 * file beside the target and renamed on close, so no half-written video is
 * ever left at the final path. */
#ifndef DG_IO_MP4_H
#define DG_IO_MP4_H

#include <stdint.h>

#include "io/atomic_file.h"

/* x264's "visually lossless" setting; its own default is 23. */
#define DG_MP4_DEFAULT_CRF 18
#define DG_MP4_MAX_SIDE 8192

struct AVFormatContext;
struct AVCodecContext;
struct AVFrame;
struct AVPacket;
struct SwsContext;

typedef struct dg_mp4_writer {
    struct AVFormatContext *fmt;
    struct AVCodecContext *enc;
    struct SwsContext *sws;
    struct AVFrame *frame;
    struct AVPacket *pkt;
    char *path;     /* final path */
    char *tmp_path; /* where libavformat writes until close */
    dg_pending pending; /* tmp_path, for a signal handler to remove (io/atomic_file.h) */
    int width, height;
    int64_t n_frames;
} dg_mp4_writer;

/* 1 when MP4 output is built in (FFmpeg), 0 in builds without it. */
int dg_mp4_available(void);

/* Opens an encoder (libx264 when present, else the default H.264 encoder)
 * at fps frames per second and the given CRF (0..51, used when the encoder
 * has a crf option; x264's crf 0 is lossless, a profile browsers cannot
 * play). width and height must be even (4:2:0 chroma): odd sizes are
 * refused, padding or cropping is the caller's choice. On failure nothing is
 * left on disk and w is zeroed. */
int dg_mp4_open(dg_mp4_writer *w, const char *path, int width, int height, int fps, int crf);
/* Encodes one frame of height rows of width*3 RGB bytes. After a failure call
 * dg_mp4_abort. */
int dg_mp4_write_frame(dg_mp4_writer *w, const uint8_t *rgb);
/* Flushes the encoder, writes the trailer (moov moved to the front for
 * streaming) and renames the temp file onto the path. Refuses a video with no
 * frames. Always frees the writer; on failure no file is left. */
int dg_mp4_close(dg_mp4_writer *w);
/* Frees everything and removes the temp file. Safe on a zeroed, closed or
 * already aborted writer. */
void dg_mp4_abort(dg_mp4_writer *w);

/* One shot: n_frames consecutive frames of height*width*3 RGB bytes at
 * DG_MP4_DEFAULT_CRF; comment (NULL: none) goes into the file's "comment" tag, where
 * generations keep their parameters. */
int dg_mp4_write(const char *path, const uint8_t *frames, int n_frames, int width, int height, int fps,
                 const char *comment);
/* The "comment" tag of an MP4 file: *out malloc'ed, NULL when there is none. */
int dg_mp4_read_comment(const char *path, char **out);

#endif
