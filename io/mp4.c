#define _GNU_SOURCE
#include "io/mp4.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "core/error.h"
#include "io/regular_file.h"

/* splitmix64 finaliser: spreads pid/time/counter over the name suffix. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Reserves "<dir>/.<name>.tmp.XXXXXXXXXXXX" beside path, like io/atomic_file,
 * for libavformat to reopen by name (faststart rereads it by name too). It is
 * created with O_EXCL and mode 0666 rather than mkstemp, whose 0600 would
 * survive the rename and ignore the user's umask. */
static int make_tmp(dg_mp4_writer *w, const char *path) {
    static _Atomic uint64_t counter;
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    DG_CHECK(*base, "output path '%s' names a directory", path);
    size_t len = strlen(path) + 32;
    w->path = strdup(path);
    DG_CHECK_ALLOC(w->path);
    char *tmp = malloc(len);
    DG_CHECK_ALLOC(tmp);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t seed = (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_sec * 1000000000u ^ (uint64_t)ts.tv_nsec;
    for (int attempt = 0; attempt < 64; attempt++) {
        uint64_t r = mix64(seed + counter++) & 0xffffffffffffull;
        snprintf(tmp, len, "%.*s.%s.tmp.%012llx", (int)dir_len, path, base, (unsigned long long)r);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            w->tmp_path = tmp; /* from here on abort unlinks it */
            dg_pending_add(&w->pending, tmp);
            DG_CHECK(close(fd) == 0, "cannot write '%s': %s", path, strerror(errno));
            return DG_OK;
        }
        if (errno != EEXIST) break;
    }
    int e = errno;
    free(tmp);
    return dg_error("cannot write '%s': %s", path, strerror(e));
}

static int open_encoder(dg_mp4_writer *w, int fps, int crf) {
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_H264);
    DG_CHECK(codec, "MP4 '%s': this FFmpeg build has no H.264 encoder (libx264 or other)", w->path);
    w->enc = avcodec_alloc_context3(codec);
    DG_CHECK_ALLOC(w->enc);
    AVCodecContext *c = w->enc;
    c->width = w->width;
    c->height = w->height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = (AVRational){1, fps};
    c->framerate = (AVRational){fps, 1};
    c->sample_aspect_ratio = (AVRational){1, 1};
    /* sRGB pixels are converted with BT.709 coefficients to limited range; tag it so players agree */
    c->colorspace = AVCOL_SPC_BT709;
    c->color_primaries = AVCOL_PRI_BT709;
    c->color_trc = AVCOL_TRC_BT709;
    c->color_range = AVCOL_RANGE_MPEG;
    if (w->fmt->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    /* Encoders without CRF (e.g. openh264) keep their own rate control. */
    if (av_opt_find(c->priv_data, "crf", NULL, 0, 0)) {
        int ret = av_opt_set_double(c->priv_data, "crf", crf, 0);
        DG_CHECK(ret >= 0, "MP4 '%s': setting crf %d on %s: %s", w->path, crf, codec->name, av_err2str(ret));
    }
    int ret = avcodec_open2(c, codec, NULL);
    DG_CHECK(ret >= 0, "MP4 '%s': opening encoder %s for %dx%d: %s", w->path, codec->name, w->width, w->height,
             av_err2str(ret));
    return DG_OK;
}

static int open_muxer(dg_mp4_writer *w, const char *comment) {
    AVStream *st = avformat_new_stream(w->fmt, NULL);
    DG_CHECK_ALLOC(st);
    st->time_base = w->enc->time_base;
    st->avg_frame_rate = w->enc->framerate;
    int ret = avcodec_parameters_from_context(st->codecpar, w->enc);
    DG_CHECK(ret >= 0, "MP4 '%s': stream parameters: %s", w->path, av_err2str(ret));
    /* the mp4 muxer writes "comment" as the iTunes-style \251cmt atom, which players show */
    if (comment) {
        ret = av_dict_set(&w->fmt->metadata, "comment", comment, 0);
        DG_CHECK(ret >= 0, "MP4 '%s': setting the comment: %s", w->path, av_err2str(ret));
    }
    ret = avio_open(&w->fmt->pb, w->fmt->url, AVIO_FLAG_WRITE);
    DG_CHECK(ret >= 0, "cannot write '%s': %s", w->path, av_err2str(ret));
    AVDictionary *opts = NULL;
    ret = av_dict_set(&opts, "movflags", "+faststart", 0);
    if (ret >= 0) ret = avformat_write_header(w->fmt, &opts);
    int unused = av_dict_count(opts);
    av_dict_free(&opts);
    DG_CHECK(ret >= 0, "MP4 '%s': writing header: %s", w->path, av_err2str(ret));
    DG_CHECK(unused == 0, "MP4 '%s': muxer ignored movflags=+faststart", w->path);
    return DG_OK;
}

static int open_converter(dg_mp4_writer *w) {
    w->sws = sws_getContext(w->width, w->height, AV_PIX_FMT_RGB24, w->width, w->height, AV_PIX_FMT_YUV420P,
                            SWS_BICUBIC | SWS_ACCURATE_RND, NULL, NULL, NULL);
    DG_CHECK(w->sws, "MP4 '%s': cannot convert RGB to yuv420p at %dx%d", w->path, w->width, w->height);
    const int *bt709 = sws_getCoefficients(SWS_CS_ITU709);
    DG_CHECK(sws_setColorspaceDetails(w->sws, bt709, 1, bt709, 0, 0, 1 << 16, 1 << 16) >= 0,
             "MP4 '%s': cannot set BT.709 conversion", w->path);
    w->frame = av_frame_alloc();
    w->pkt = av_packet_alloc();
    DG_CHECK(w->frame && w->pkt, "%s:%d: out of memory", __FILE__, __LINE__);
    w->frame->format = AV_PIX_FMT_YUV420P;
    w->frame->width = w->width;
    w->frame->height = w->height;
    int ret = av_frame_get_buffer(w->frame, 0);
    DG_CHECK(ret >= 0, "MP4 '%s': frame buffer: %s", w->path, av_err2str(ret));
    return DG_OK;
}

static int open_all(dg_mp4_writer *w, const char *path, int width, int height, int fps, int crf,
                    const char *comment) {
    DG_CHECK(path && *path, "empty output path");
    DG_CHECK(width > 0 && height > 0 && width <= DG_MP4_MAX_SIDE && height <= DG_MP4_MAX_SIDE,
             "MP4 '%s': size %dx%d out of range (1..%d per side)", path, width, height, DG_MP4_MAX_SIDE);
    DG_CHECK(width % 2 == 0 && height % 2 == 0,
             "MP4 '%s': size %dx%d is odd; yuv420p H.264 needs even width and height (pad or crop)", path, width,
             height);
    DG_CHECK(fps >= 1 && fps <= 240, "MP4 '%s': fps %d out of range (1..240)", path, fps);
    DG_CHECK(crf >= 0 && crf <= 51, "MP4 '%s': crf %d out of range (0..51)", path, crf);
    w->width = width;
    w->height = height;
    DG_TRY(make_tmp(w, path));
    /* "file:" keeps a ':' in the path from being read as a protocol name */
    size_t ulen = strlen(w->tmp_path) + 6;
    char *url = malloc(ulen);
    DG_CHECK_ALLOC(url);
    snprintf(url, ulen, "file:%s", w->tmp_path);
    int ret = avformat_alloc_output_context2(&w->fmt, NULL, "mp4", url);
    free(url);
    DG_CHECK(ret >= 0 && w->fmt, "MP4 '%s': no mp4 muxer: %s", path, av_err2str(ret));
    DG_TRY(open_encoder(w, fps, crf));
    DG_TRY(open_converter(w));
    DG_TRY(open_muxer(w, comment));
    return DG_OK;
}

int dg_mp4_available(void) { return 1; }

static int open_commented(dg_mp4_writer *w, const char *path, int width, int height, int fps, int crf,
                          const char *comment) {
    memset(w, 0, sizeof *w);
    /* libx264 reports its settings through av_log; only errors belong on stderr. */
    av_log_set_level(AV_LOG_ERROR);
    if (open_all(w, path, width, height, fps, crf, comment) != DG_OK) {
        dg_mp4_abort(w);
        return DG_ERR;
    }
    return DG_OK;
}

int dg_mp4_open(dg_mp4_writer *w, const char *path, int width, int height, int fps, int crf) {
    return open_commented(w, path, width, height, fps, crf, NULL);
}

/* Sends a frame (NULL flushes) and muxes every packet the encoder returns. */
static int encode(dg_mp4_writer *w, const AVFrame *frame) {
    int ret = avcodec_send_frame(w->enc, frame);
    DG_CHECK(ret >= 0, "MP4 '%s': encoding: %s", w->path, av_err2str(ret));
    AVStream *st = w->fmt->streams[0];
    for (;;) {
        ret = avcodec_receive_packet(w->enc, w->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return DG_OK;
        DG_CHECK(ret >= 0, "MP4 '%s': encoding: %s", w->path, av_err2str(ret));
        /* x264 leaves durations unset; without them the last frame has none */
        if (w->pkt->duration == 0) w->pkt->duration = 1;
        av_packet_rescale_ts(w->pkt, w->enc->time_base, st->time_base);
        w->pkt->stream_index = st->index;
        ret = av_interleaved_write_frame(w->fmt, w->pkt);
        DG_CHECK(ret >= 0, "writing '%s': %s", w->path, av_err2str(ret));
    }
}

int dg_mp4_write_frame(dg_mp4_writer *w, const uint8_t *rgb) {
    DG_CHECK(w->enc, "MP4 writer is not open");
    DG_CHECK(rgb, "MP4 '%s': NULL frame", w->path);
    int ret = av_frame_make_writable(w->frame);
    DG_CHECK(ret >= 0, "MP4 '%s': frame buffer: %s", w->path, av_err2str(ret));
    const uint8_t *src[1] = {rgb};
    const int stride[1] = {3 * w->width};
    DG_CHECK(sws_scale(w->sws, src, stride, 0, w->height, w->frame->data, w->frame->linesize) == w->height,
             "MP4 '%s': RGB to yuv420p conversion failed", w->path);
    w->frame->pts = w->n_frames;
    DG_TRY(encode(w, w->frame));
    w->n_frames++;
    return DG_OK;
}

static int finish(dg_mp4_writer *w) {
    DG_CHECK(w->enc, "MP4 writer is not open");
    DG_CHECK(w->n_frames > 0, "MP4 '%s': no frames written", w->path);
    DG_TRY(encode(w, NULL));
    int ret = av_write_trailer(w->fmt);
    DG_CHECK(ret >= 0, "writing '%s': %s", w->path, av_err2str(ret));
    ret = avio_closep(&w->fmt->pb);
    DG_CHECK(ret >= 0, "writing '%s': %s", w->path, av_err2str(ret));
    DG_CHECK(rename(w->tmp_path, w->path) == 0, "cannot rename onto '%s': %s", w->path, strerror(errno));
    dg_pending_remove(&w->pending);
    free(w->tmp_path);
    w->tmp_path = NULL; /* committed: abort must not unlink it */
    return DG_OK;
}

int dg_mp4_close(dg_mp4_writer *w) {
    int rc = finish(w);
    dg_mp4_abort(w);
    return rc;
}

void dg_mp4_abort(dg_mp4_writer *w) {
    if (w->fmt) {
        if (w->fmt->pb) avio_closep(&w->fmt->pb);
        avformat_free_context(w->fmt);
    }
    avcodec_free_context(&w->enc);
    sws_freeContext(w->sws);
    av_frame_free(&w->frame);
    av_packet_free(&w->pkt);
    if (w->tmp_path) {
        dg_pending_remove(&w->pending);
        unlink(w->tmp_path);
    }
    free(w->tmp_path);
    free(w->path);
    memset(w, 0, sizeof *w);
}

int dg_mp4_write(const char *path, const uint8_t *frames, int n_frames, int width, int height, int fps,
                 const char *comment) {
    DG_CHECK(frames && n_frames > 0, "MP4 '%s': no frames to write", path ? path : "?");
    dg_mp4_writer w;
    DG_TRY(open_commented(&w, path, width, height, fps, DG_MP4_DEFAULT_CRF, comment));
    size_t frame_bytes = (size_t)width * (size_t)height * 3;
    for (int i = 0; i < n_frames; i++) {
        if (dg_mp4_write_frame(&w, frames + (size_t)i * frame_bytes) != DG_OK) {
            dg_mp4_abort(&w);
            return DG_ERR;
        }
    }
    return dg_mp4_close(&w);
}

int dg_mp4_read_comment(const char *path, char **out) {
    DG_CHECK(out, "MP4 read: NULL output");
    *out = NULL;
    int fd;
    size_t size;
    DG_TRY(dg_regular_file_open(path, &fd, &size)); /* no FIFO or device reaches libavformat */
    close(fd);
    av_log_set_level(AV_LOG_ERROR);
    size_t ulen = strlen(path) + 6;
    char *url = malloc(ulen);
    DG_CHECK_ALLOC(url);
    snprintf(url, ulen, "file:%s", path);
    AVFormatContext *fmt = NULL;
    int ret = avformat_open_input(&fmt, url, av_find_input_format("mp4"), NULL);
    free(url);
    DG_CHECK(ret >= 0, "'%s' is not a readable MP4 file: %s", path, av_err2str(ret));
    const AVDictionaryEntry *e = av_dict_get(fmt->metadata, "comment", NULL, 0);
    int rc = DG_OK;
    if (e && !(*out = strdup(e->value))) rc = dg_error("out of memory reading '%s'", path);
    avformat_close_input(&fmt);
    return rc;
}
