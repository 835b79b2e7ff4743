/* MP4 writer: stream properties, frame count and rate, faststart layout,
 * decoded pixels close to the input, and refusals that leave no file. */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#ifdef DG_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>

#include "core/error.h"
#include "io/mp4.h"
#include "test.h"
#include "tests/scratch_dir.h"

#define W 64
#define H 48
#define NF 17
#define FPS 16


/* Smooth pattern drifting right and down, so motion and chroma both matter. */
static void make_frames(uint8_t *f) {
    for (int t = 0; t < NF; t++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint8_t *p = f + ((size_t)t * H * W + (size_t)y * W + x) * 3;
                p[0] = (uint8_t)lrint(128 + 100 * sin((x - 2.0 * t) / 9.0));
                p[1] = (uint8_t)lrint(128 + 100 * cos((y - 1.5 * t) / 7.0));
                p[2] = (uint8_t)((x + y) * 2);
            }
}

/* Top-level MP4 boxes: returns 1 when moov precedes mdat (faststart). */
static int moov_first(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    long moov = -1, mdat = -1, off = 0;
    uint8_t h[8];
    while (fseek(fp, off, SEEK_SET) == 0 && fread(h, 1, 8, fp) == 8) {
        uint32_t size = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        if (!memcmp(h + 4, "moov", 4)) moov = off;
        if (!memcmp(h + 4, "mdat", 4)) mdat = off;
        if (size < 8) break; /* 64-bit or to-end boxes do not occur in our small files */
        off += size;
    }
    fclose(fp);
    return moov >= 0 && mdat >= 0 && moov < mdat;
}

/* Opens the file with libavformat, checks the stream, decodes every frame and
 * compares it with the input. Returns the largest per-frame mean abs error. */
static double probe(const char *path, const uint8_t *want) {
    AVFormatContext *fmt = NULL;
    double worst = 1e9;
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0) {
        CHECK(0, "libavformat cannot open %s", path);
        return worst;
    }
    CHECK(avformat_find_stream_info(fmt, NULL) >= 0, "no stream info");
    CHECK(!strcmp(fmt->iformat->name, "mov,mp4,m4a,3gp,3g2,mj2"), "container %s", fmt->iformat->name);
    CHECK(fmt->nb_streams == 1, "%u streams", fmt->nb_streams);
    AVStream *st = fmt->streams[0];
    AVCodecParameters *par = st->codecpar;
    CHECK(par->codec_id == AV_CODEC_ID_H264, "codec %s", avcodec_get_name(par->codec_id));
    CHECK(par->format == AV_PIX_FMT_YUV420P, "pix_fmt %d", par->format);
    CHECK(par->width == W && par->height == H, "size %dx%d", par->width, par->height);
    CHECK(st->nb_frames == NF, "nb_frames %lld", (long long)st->nb_frames);
    CHECK(st->avg_frame_rate.num == FPS * st->avg_frame_rate.den, "avg_frame_rate %d/%d", st->avg_frame_rate.num,
          st->avg_frame_rate.den);
    CHECK(st->r_frame_rate.num == FPS * st->r_frame_rate.den, "r_frame_rate %d/%d", st->r_frame_rate.num,
          st->r_frame_rate.den);
    double dur = st->duration * av_q2d(st->time_base);
    CHECK(fabs(dur - (double)NF / FPS) < 1e-6, "duration %f s, want %f", dur, (double)NF / FPS);
    CHECK(par->color_space == AVCOL_SPC_BT709 && par->color_range == AVCOL_RANGE_MPEG, "colour tags %d %d",
          par->color_space, par->color_range);

    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    AVCodecContext *dec = codec ? avcodec_alloc_context3(codec) : NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    uint8_t *rgb = malloc(W * H * 3);
    struct SwsContext *sws = NULL;
    int n = 0;
    worst = 0;
    if (!dec || avcodec_parameters_to_context(dec, par) < 0 || avcodec_open2(dec, codec, NULL) < 0) {
        CHECK(0, "cannot open an H.264 decoder");
        worst = 1e9;
        goto done;
    }
    sws = sws_getContext(W, H, AV_PIX_FMT_YUV420P, W, H, AV_PIX_FMT_RGB24, SWS_BICUBIC | SWS_ACCURATE_RND, NULL,
                         NULL, NULL);
    const int *bt709 = sws_getCoefficients(SWS_CS_ITU709);
    CHECK(sws && sws_setColorspaceDetails(sws, bt709, 0, bt709, 1, 0, 1 << 16, 1 << 16) >= 0, "sws");
    for (int flushing = 0;;) {
        int ret = flushing ? 0 : av_read_frame(fmt, pkt);
        if (ret < 0) {
            flushing = 1;
            avcodec_send_packet(dec, NULL);
        } else if (!flushing) {
            CHECK(avcodec_send_packet(dec, pkt) >= 0, "decode error");
            av_packet_unref(pkt);
        }
        while (avcodec_receive_frame(dec, frame) >= 0) {
            int64_t ts = frame->best_effort_timestamp;
            CHECK(llabs(av_rescale_q(ts, st->time_base, (AVRational){1, FPS}) - n) == 0, "frame %d at ts %lld", n,
                  (long long)ts);
            int stride = W * 3;
            sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, H, &rgb, &stride);
            if (n < NF) {
                const uint8_t *ref = want + (size_t)n * W * H * 3;
                double e = 0;
                for (int i = 0; i < W * H * 3; i++) e += abs(rgb[i] - ref[i]);
                e /= W * H * 3;
                if (e > worst) worst = e;
            }
            n++;
            av_frame_unref(frame);
        }
        if (flushing) break;
    }
    CHECK(n == NF, "decoded %d frames, want %d", n, NF);
done:
    sws_freeContext(sws);
    free(rgb);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return worst;
}

int main(void) {
    if (!avcodec_find_encoder(AV_CODEC_ID_H264)) TEST_SKIP("this FFmpeg build has no H.264 encoder");
    av_log_set_level(AV_LOG_ERROR); /* x264 reports its settings and stats at INFO */
    if (scratch_dir_make("test_mp4")) return 1;
    uint8_t *frames = malloc((size_t)NF * W * H * 3);
    make_frames(frames);

    /* streaming writer at crf 18 */
    char *out = strdup(path_in("out.mp4"));
    dg_mp4_writer w;
    CHECK_OK(dg_mp4_open(&w, out, W, H, FPS, 18));
    CHECK(n_entries() == 1 && access(out, F_OK) != 0, "the final file exists before close");
    for (int t = 0; t < NF; t++) CHECK_OK(dg_mp4_write_frame(&w, frames + (size_t)t * W * H * 3));
    CHECK_OK(dg_mp4_close(&w));
    CHECK(n_entries() == 1 && access(out, F_OK) == 0, "want exactly out.mp4 in %s", dir);
    CHECK(moov_first(out), "moov is not before mdat (no faststart)");
    double err = probe(out, frames);
    CHECK(err < 8, "mean abs error %.2f at crf 18", err);
    printf("crf 18: worst per-frame mean abs error %.2f\n", err);

    /* one-shot writer */
    CHECK_OK(dg_mp4_write(path_in("oneshot.mp4"), frames, NF, W, H, FPS, "a, b: \"c\""));
    err = probe(path_in("oneshot.mp4"), frames);
    CHECK(err < 8, "one-shot mean abs error %.2f", err);
    /* the comment (generation parameters) reads back whole; a file without one gives NULL */
    char *comment;
    CHECK_OK(dg_mp4_read_comment(path_in("oneshot.mp4"), &comment));
    CHECK(comment && !strcmp(comment, "a, b: \"c\""), "comment read back as '%s'", comment ? comment : "(none)");
    free(comment);
    CHECK_OK(dg_mp4_read_comment(out, &comment));
    CHECK(!comment, "a video written without a comment has one");
    unlink(path_in("oneshot.mp4"));
    CHECK(dg_mp4_read_comment(path_in("oneshot.mp4"), &comment) == DG_ERR, "a missing file read");

    /* refusals leave nothing behind */
    int before = n_entries();
    CHECK(dg_mp4_open(&w, path_in("odd.mp4"), 63, 48, FPS, 18) == DG_ERR && strstr(dg_last_error(), "63x48"),
          "odd width: %s", dg_last_error());
    CHECK(dg_mp4_open(&w, path_in("odd.mp4"), 64, 47, FPS, 18) == DG_ERR && strstr(dg_last_error(), "64x47"),
          "odd height: %s", dg_last_error());
    CHECK(dg_mp4_write(path_in("odd.mp4"), frames, NF, 63, 47, FPS, NULL) == DG_ERR, "one-shot odd size accepted");
    CHECK(dg_mp4_open(&w, path_in("bad.mp4"), W, H, 0, 18) == DG_ERR, "fps 0 accepted");
    CHECK(dg_mp4_open(&w, path_in("bad.mp4"), W, H, FPS, 52) == DG_ERR, "crf 52 accepted");
    CHECK(dg_mp4_open(&w, path_in("bad.mp4"), 0, H, FPS, 18) == DG_ERR, "width 0 accepted");
    CHECK(dg_mp4_open(&w, path_in("nodir/x.mp4"), W, H, FPS, 18) == DG_ERR && strstr(dg_last_error(), "nodir"),
          "unwritable path: %s", dg_last_error());
    dg_mp4_abort(&w); /* safe on a writer whose open failed */
    CHECK_OK(dg_mp4_open(&w, path_in("empty.mp4"), W, H, FPS, 18));
    CHECK(dg_mp4_close(&w) == DG_ERR && strstr(dg_last_error(), "no frames"), "empty video: %s", dg_last_error());
    CHECK_OK(dg_mp4_open(&w, path_in("aborted.mp4"), W, H, FPS, 23));
    for (int t = 0; t < 3; t++) CHECK_OK(dg_mp4_write_frame(&w, frames + (size_t)t * W * H * 3));
    dg_mp4_abort(&w);
    dg_mp4_abort(&w);
    CHECK(n_entries() == before, "a refused or aborted video left a file in %s", dir);

    unlink(out);
    CHECK(n_entries() == 0, "stray files in %s", dir);
    rmdir(dir);
    free(out);
    free(frames);
    return TEST_END();
}
#else
#include "tests/test.h"
int main(void) {
    (void)test_failures;
    TEST_SKIP("built without FFmpeg (DG_WITH_FFMPEG=OFF)");
}
#endif
