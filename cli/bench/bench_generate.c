/* ditgen bench generate: one prompt and seed through dense attention and then
 * each sparse preset. Per method: stage times, speedups over dense and PSNR /
 * SSIM against the dense result; in --out-dir a labelled grid (PNG, and MP4
 * for videos), a bar chart SVG and a markdown report. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/lib/grid.h"
#include "bench/lib/image_metrics.h"
#include "bench/lib/svg_chart.h"
#include "cli/args.h"
#include "cli/bench/bench_commands.h"
#include "cli/bench/bench_opts.h"
#include "cli/param_flags.h"
#include "cli/text_conditioning.h"
#include "cli/timing.h"
#include "core/error.h"
#include "core/rng.h"
#include "ditgen.h"
#include "io/atomic_file.h"
#include "io/frames.h"
#include "io/mp4.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "sampler/scheduler.h"

#define MAX_METHODS 32
#define NAME_MAX_LEN 64
#define GRID_FPS 16
#define NCOL 11

typedef struct bg_opts {
    const char *model, *prompt, *context, *out_dir, *configs;
    int width, height, frames, steps, threads, json;
    double cfg, shift;
    int64_t seed;
    dg_sample_method sampler;
    int n_methods; /* methods[0] is always dense, the reference */
    char methods[MAX_METHODS][NAME_MAX_LEN];
} bg_opts;

typedef struct bg_result {
    const char *name;
    int ok;
    char error[512];
    double total_s, denoise_s, model_s, attn_s;
    double psnr, ssim; /* vs dense; NaN: not computed */
    float *lat;
    uint8_t *rgb; /* F frames of RGB (pixel models) or a latent preview (one frame) */
} bg_result;

typedef struct bg_run {
    const bg_opts *o;
    const dg_model_info *info;
    int64_t shape[4];
    uint64_t seed;
    double text_s, latent_range;
    int pixels, tile_w, tile_h, tile_frames; /* tiles: what the grid shows per method */
    bg_result r[MAX_METHODS];
} bg_run;

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen bench generate -m MODEL (-p PROMPT | --context FILE.safetensors) [options]\n"
            "\n"
            "Generates the same prompt and seed with dense attention and then with each attention\n"
            "preset, and compares them: total and per-stage times (text encoding, denoise loop,\n"
            "transformer, self-attention inside it), attention share of the transformer time,\n"
            "speedup over dense (denoise time) and self-attention speedup, and PSNR / SSIM of each\n"
            "result against the dense one. Pixel-space models are compared on 8-bit RGB frames\n"
            "(PSNR with MAX 255, SSIM on BT.601 luma, 11x11 Gaussian window, mean over frames);\n"
            "latent models on the latents (PSNR with MAX = the dense latents' max - min, no SSIM).\n"
            "The prompt is encoded once (--context: read once) and that time counts in every\n"
            "method's total. An identical result has PSNR 'inf' (JSON: \"psnr\": null,\n"
            "\"identical\": true). Exit status 1 when any method fails (its row says why).\n"
            "\n"
            "  -m, --model DIR      diffusers model folder or transformer folder\n"
            "  -p, --prompt TEXT    prompt (negative: empty, for --cfg-scale > 1)\n"
            "      --context FILE   precomputed 'prompt_embeds' (and 'negative_prompt_embeds')\n"
            "  -W, --width N        width in pixels (default 832)\n"
            "  -H, --height N       height in pixels (default 480)\n"
            "      --frames N       frames (default 81)\n"
            "      --steps N        denoising steps (default 50)\n"
            "      --cfg-scale X    guidance scale, <= 1 disables it (default 5.0)\n"
            "      --flow-shift X   sigma shift (default 3.0)\n"
            "      --sampler NAME   unipc (default) or euler\n"
            "  -s, --seed N         seed; negative picks a random one (default 42)\n"
            "  -t, --threads N      CPU threads (default: all cores)\n"
            "      --methods LIST   comma-separated presets from configs/attention, or 'all'\n"
            "                       (default all); dense always runs first as the reference\n"
            "      --out-dir DIR    created if missing (default bench_generate_out): grid.png,\n"
            "                       grid.mp4 (videos of pixel models), chart.svg, results.md\n"
            "      --format F       text (default) or json, on stdout\n");
}

/* Preset names are plain words: no paths, and safe in file names and tables. */
static int valid_name(const char *name, size_t len) {
    int ok = len > 0 && len < NAME_MAX_LEN;
    for (size_t i = 0; ok && i < len; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
             (name[i] >= '0' && name[i] <= '9') || name[i] == '_' || name[i] == '-';
    return ok;
}

static int add_method(bg_opts *o, const char *name, size_t len) {
    if (!valid_name(name, len)) {
        cli_error("--methods: bad preset name '%.*s'", (int)len, name);
        return -1;
    }
    for (int i = 0; i < o->n_methods; i++) {
        if (strlen(o->methods[i]) == len && !strncmp(o->methods[i], name, len)) {
            if (i == 0) return 0; /* dense is implied; naming it is fine */
            cli_error("--methods: '%.*s' listed twice", (int)len, name);
            return -1;
        }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/attention/%.*s.json", o->configs, (int)len, name);
    if (access(path, R_OK) != 0) {
        cli_error("--methods: no preset '%.*s' (%s)", (int)len, name, path);
        return -1;
    }
    if (o->n_methods == MAX_METHODS) {
        cli_error("--methods: at most %d methods", MAX_METHODS);
        return -1;
    }
    memcpy(o->methods[o->n_methods], name, len);
    o->methods[o->n_methods++][len] = 0;
    return 0;
}

static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }

/* 'all': every .json preset in configs/attention, sorted. */
static int add_all_methods(bg_opts *o) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/attention", o->configs);
    DIR *d = opendir(dir);
    if (!d) {
        cli_error("cannot list presets in %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int first = o->n_methods, rc = 0;
    while (!rc && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 5 && !strcmp(e->d_name + n - 5, ".json") && valid_name(e->d_name, n - 5) &&
            strcmp(e->d_name, "dense.json"))
            rc = add_method(o, e->d_name, n - 5);
    }
    closedir(d);
    qsort(o->methods[first], (size_t)(o->n_methods - first), NAME_MAX_LEN, cmp_name);
    return rc;
}

static int parse_methods(bg_opts *o, const char *list) {
    strcpy(o->methods[0], "dense"); /* built in: needs no preset file */
    o->n_methods = 1;
    if (!strcmp(list, "all")) return add_all_methods(o);
    for (const char *s = list;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (add_method(o, s, len)) return -1;
        if (!comma) return 0;
        s = comma + 1;
    }
}

static int parse_sampler(const char *flag, const char *val, void *out) {
    if (dg_sample_method_parse(val, out) == DG_OK) return 0;
    cli_library_error();
    return -1;
}

/* 0 to run, 1 after --help, -1 on a bad command line (one line on stderr). */
static int parse(int argc, char **argv, bg_opts *o) {
    static const char *const formats[] = {"text", "json", NULL};
    const char *env = getenv("DITGEN_CONFIG_DIR");
    *o = (bg_opts){.out_dir = "bench_generate_out", .configs = env && *env ? env : DG_CONFIG_DIR, .width = 832,
                   .height = 480, .frames = 81, .steps = 50, .cfg = 5.0, .shift = 3.0, .seed = 42};
    const char *methods = "all";
    const bench_opt opts[] = {
        BENCH_STRING("model", 'm', &o->model, .required = 1),
        BENCH_STRING("prompt", 'p', &o->prompt),
        BENCH_STRING("context", 0, &o->context),
        BENCH_INT("width", 'W', &o->width, 1, DG_MAX_SIDE),
        BENCH_INT("height", 'H', &o->height, 1, DG_MAX_SIDE),
        BENCH_INT("frames", 0, &o->frames, 1, DG_MAX_FRAMES),
        BENCH_INT("steps", 0, &o->steps, 1, DG_SCHEDULER_MAX_STEPS),
        BENCH_DOUBLE("cfg-scale", 0, &o->cfg, 0.0, 100.0),
        BENCH_DOUBLE("flow-shift", 0, &o->shift, 1e-3, 1000.0),
        BENCH_CUSTOM("sampler", 0, &o->sampler, parse_sampler),
        BENCH_INT64("seed", 's', &o->seed, INT64_MIN, INT64_MAX),
        BENCH_INT("threads", 't', &o->threads, 1, 1024),
        BENCH_STRING("methods", 0, &methods),
        BENCH_STRING("out-dir", 0, &o->out_dir),
        BENCH_CHOICE("format", 0, &o->json, formats),
        BENCH_END};
    int rc = bench_opts_parse(argc, argv, opts, usage);
    if (rc) return rc;
    if (!o->context == !o->prompt) {
        cli_error("give exactly one of -p PROMPT and --context FILE.safetensors");
        return -1;
    }
    return parse_methods(o, methods);
}

/* Creates the folder if needed and proves it writable before minutes of compute. */
static int prepare_out_dir(const char *dir) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return dg_error("cannot create --out-dir '%s': %s", dir, strerror(errno));
    char path[4096];
    snprintf(path, sizeof path, "%s/results.md", dir);
    dg_atomic_file f;
    DG_TRY(dg_atomic_open(&f, path));
    dg_atomic_abort(&f);
    return DG_OK;
}

static void on_progress(void *user, int step, int steps) {
    fprintf(stderr, "\r  %-14s step %d/%d", (const char *)user, step, steps);
}

/* Channels 0..2 of latent frame 0 as RGB, each stretched over the dense
 * result's range of that channel, so every method is shown on one scale. */
static void latent_preview(uint8_t *rgb, const float *lat, const float *ref, const int64_t shape[4]) {
    size_t plane = (size_t)(shape[2] * shape[3]), chan = (size_t)shape[1] * plane;
    for (int c = 0; c < 3; c++) {
        int ch = c < shape[0] ? c : 0;
        const float *r = ref + ch * chan, *x = lat + ch * chan;
        float lo = r[0], hi = r[0];
        for (size_t i = 1; i < plane; i++) lo = r[i] < lo ? r[i] : lo, hi = r[i] > hi ? r[i] : hi;
        float k = hi > lo ? 255.0f / (hi - lo) : 0.0f;
        for (size_t i = 0; i < plane; i++) {
            float v = (x[i] - lo) * k;
            rgb[3 * i + c] = (uint8_t)(v > 0 ? (v < 255 ? v + 0.5f : 255) : 0);
        }
    }
}

/* Fills psnr / ssim of r against dense (run->r[0]); pixels or the latent preview go to r->rgb. */
static int compare(bg_run *run, bg_result *r) {
    const int64_t *s = run->shape;
    size_t n = (size_t)(s[0] * s[1] * s[2] * s[3]), frame = (size_t)(s[2] * s[3]) * 3;
    const bg_result *d = &run->r[0];
    r->rgb = malloc(run->pixels ? (size_t)s[1] * frame : frame);
    if (!r->rgb) return dg_error("out of memory for frames");
    r->psnr = r->ssim = NAN;
    if (!run->pixels) {
        latent_preview(r->rgb, r->lat, d->lat, s);
        r->psnr = dg_psnr_f32(r->lat, d->lat, n, run->latent_range);
        return DG_OK;
    }
    DG_TRY(dg_frames_from_float(r->rgb, r->lat, (int)s[0], (int)s[1], (int)s[2], (int)s[3]));
    r->psnr = dg_psnr_u8(r->rgb, d->rgb, (size_t)s[1] * frame);
    if (s[2] >= DG_SSIM_WIN && s[3] >= DG_SSIM_WIN)
        DG_TRY(dg_ssim_rgb(r->rgb, d->rgb, (int)s[1], (int)s[2], (int)s[3], &r->ssim));
    return DG_OK;
}

/* One method end to end; a failure is recorded in r and the bench goes on. */
static void run_method(bg_run *run, dg_pipeline *p, const dg_gen_params *g, bg_result *r) {
    size_t n = (size_t)(run->shape[0] * run->shape[1] * run->shape[2] * run->shape[3]);
    dg_gen_timing tm;
    double t0 = cli_now_s();
    r->lat = malloc(n * sizeof(float));
    int rc = r->lat ? DG_OK : dg_error("out of memory for %zu latents", n);
    if (rc == DG_OK) rc = dg_pipeline_set_attention(p, r->name, run->o->configs);
    if (rc == DG_OK) rc = dg_pipeline_generate(p, g, r->lat, on_progress, (void *)r->name, &tm);
    if (rc == DG_OK) {
        r->total_s = run->text_s + cli_now_s() - t0;
        r->denoise_s = tm.denoise_s, r->model_s = tm.model_s, r->attn_s = tm.attention_s;
        if (r == &run->r[0] && !run->pixels) {
            float lo = r->lat[0], hi = r->lat[0];
            for (size_t i = 1; i < n; i++) lo = r->lat[i] < lo ? r->lat[i] : lo, hi = r->lat[i] > hi ? r->lat[i] : hi;
            run->latent_range = (double)hi - (double)lo;
        }
        rc = compare(run, r);
    }
    r->ok = rc == DG_OK;
    if (!r->ok) cli_params_as_flags(dg_last_error(), r->error, sizeof r->error);
    if (r->ok) fprintf(stderr, " (%.2f s)\n", r->total_s);
    else fprintf(stderr, "\r  %-14s failed: %s\n", r->name, r->error);
}

static double ratio(double a, double b) { return b > 0 && a > 0 ? a / b : NAN; }

static void fmt_num(char *out, double v, int decimals, const char *suffix) {
    if (isnan(v)) snprintf(out, 32, "-");
    else if (isinf(v)) snprintf(out, 32, "inf");
    else snprintf(out, 32, "%.*f%s", decimals, v, suffix);
}

/* The table's cells for one method, shared by the text and markdown tables. */
static void row_cells(const bg_run *run, const bg_result *r, char cells[NCOL][32]) {
    const bg_result *d = &run->r[0];
    snprintf(cells[0], 32, "%s", r->name);
    if (!r->ok) {
        for (int i = 1; i < NCOL; i++) snprintf(cells[i], 32, i == 1 ? "failed" : "-");
        return;
    }
    fmt_num(cells[1], r->total_s, 3, "");
    fmt_num(cells[2], run->text_s, 3, "");
    fmt_num(cells[3], r->denoise_s, 3, "");
    fmt_num(cells[4], r->model_s, 3, "");
    fmt_num(cells[5], r->attn_s, 3, "");
    fmt_num(cells[6], 100 * ratio(r->attn_s, r->model_s), 1, "%");
    fmt_num(cells[7], ratio(d->denoise_s, r->denoise_s), 2, "x");
    fmt_num(cells[8], ratio(d->attn_s, r->attn_s), 2, "x");
    fmt_num(cells[9], r->psnr, 2, "");
    fmt_num(cells[10], r->ssim, 4, "");
}

static const char *const HEADS[NCOL] = {"method",  "total_s", "text_s",       "denoise_s", "model_s", "attn_s",
                                        "attn_%",  "speedup", "attn_speedup", "PSNR_dB",   "SSIM"};

static const char *compare_note(const bg_run *run, char *buf, size_t n) {
    if (run->pixels)
        snprintf(buf, n, "Compared on 8-bit RGB pixels against dense%s",
                 run->tile_h >= DG_SSIM_WIN && run->tile_w >= DG_SSIM_WIN ? "" : " (frames under 11x11: no SSIM)");
    else
        snprintf(buf, n, "Compared on latents (latent PSNR, MAX = dense max-min %.4g; no SSIM): the model outputs "
                 "VAE latents", run->latent_range);
    return buf;
}

/* "64x48, 5 frame(s), 3 steps (unipc, cfg 5, shift 3), seed 42, 1 thread(s)" */
static void describe(const bg_run *run, char *buf, size_t n) {
    const bg_opts *o = run->o;
    char th[32];
    snprintf(th, sizeof th, o->threads ? "%d thread(s)" : "all cores", o->threads);
    snprintf(buf, n, "%dx%d, %d frame(s), %d steps (%s, cfg %g, shift %g), seed %llu, %s", o->width, o->height,
             o->frames, o->steps, dg_sample_method_name(o->sampler), o->cfg, o->shift,
             (unsigned long long)run->seed, th);
}

static void print_text(const bg_run *run) {
    char desc[256], note[256];
    describe(run, desc, sizeof desc);
    printf("bench generate: %s, %s\n%s\n", run->o->model, desc, compare_note(run, note, sizeof note));
    printf("%-14s", HEADS[0]);
    for (int i = 1; i < NCOL; i++)
        printf(" %*s", i == 8 ? 12 : i == 9 ? 11 : 9, i == 9 && !run->pixels ? "latent_PSNR" : HEADS[i]);
    printf("\n");
    for (int m = 0; m < run->o->n_methods; m++) {
        char cells[NCOL][32];
        row_cells(run, &run->r[m], cells);
        printf("%-14s", cells[0]);
        for (int i = 1; i < NCOL; i++) printf(" %*s", i == 8 ? 12 : i == 9 ? 11 : 9, cells[i]);
        if (!run->r[m].ok) printf("  %s", run->r[m].error);
        printf("\n");
    }
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

/* NaN and infinities are not JSON: null. */
static void json_num(FILE *f, const char *key, double v) {
    if (isfinite(v)) fprintf(f, ", \"%s\": %.6g", key, v);
    else fprintf(f, ", \"%s\": null", key);
}

static void print_json(const bg_run *run) {
    const bg_opts *o = run->o;
    const bg_result *d = &run->r[0];
    printf("{\"benchmark\": \"generate\", \"model\": ");
    json_str(stdout, o->model);
    printf(", \"width\": %d, \"height\": %d, \"frames\": %d, \"steps\": %d, \"sampler\": \"%s\", \"cfg_scale\": %g, "
           "\"flow_shift\": %g, \"seed\": %llu, \"threads\": %d, \"compare\": \"%s\"",
           o->width, o->height, o->frames, o->steps, dg_sample_method_name(o->sampler), o->cfg,
           o->shift, (unsigned long long)run->seed, o->threads, run->pixels ? "pixels" : "latents");
    if (!run->pixels) json_num(stdout, "latent_range", run->latent_range);
    json_num(stdout, "text_s", run->text_s);
    printf(", \"out_dir\": ");
    json_str(stdout, o->out_dir);
    printf(", \"methods\": [");
    for (int m = 0; m < o->n_methods; m++) {
        const bg_result *r = &run->r[m];
        printf("%s\n  {\"method\": ", m ? "," : "");
        json_str(stdout, r->name);
        if (!r->ok) {
            printf(", \"error\": ");
            json_str(stdout, r->error);
            printf("}");
            continue;
        }
        json_num(stdout, "total_s", r->total_s);
        json_num(stdout, "denoise_s", r->denoise_s);
        json_num(stdout, "model_s", r->model_s);
        json_num(stdout, "attention_s", r->attn_s);
        json_num(stdout, "attention_share", ratio(r->attn_s, r->model_s));
        json_num(stdout, "speedup", ratio(d->denoise_s, r->denoise_s));
        json_num(stdout, "attention_speedup", ratio(d->attn_s, r->attn_s));
        json_num(stdout, "psnr", r->psnr);
        printf(", \"identical\": %s", isinf(r->psnr) ? "true" : "false");
        json_num(stdout, "ssim", r->ssim);
        printf("}");
    }
    printf("\n]}\n");
}

/* The grid of every successful method: frame f of its pixels, or its latent preview. */
static int write_grids(const bg_run *run, char *written, size_t wn) {
    const uint8_t *tiles[MAX_METHODS];
    char label_buf[MAX_METHODS][96];
    const char *labels[MAX_METHODS];
    int n = 0;
    for (int m = 0; m < run->o->n_methods; m++) {
        const bg_result *r = &run->r[m];
        if (!r->ok) continue;
        char v[32];
        fmt_num(v, r->psnr, 2, " dB");
        if (m == 0) snprintf(label_buf[n], sizeof label_buf[n], "%s\n(reference)", r->name);
        else snprintf(label_buf[n], sizeof label_buf[n], "%s\n%sPSNR %s", r->name, run->pixels ? "" : "latent ", v);
        labels[n] = label_buf[n];
        tiles[n++] = r->rgb;
    }
    int scale = (192 + run->tile_w - 1) / run->tile_w;
    scale = scale < 1 ? 1 : scale > 32 ? 32 : scale;
    int cols = 4096 / (run->tile_w * scale + 4);
    dg_grid g;
    DG_TRY(dg_grid_layout(&g, run->tile_w, run->tile_h, n, cols < 1 ? 1 : cols, scale, labels, 1));
    size_t frame = (size_t)run->tile_w * run->tile_h * 3;
    uint8_t *canvas = malloc((size_t)g.width * g.height * 3);
    DG_CHECK_ALLOC(canvas);
    char path[4096];
    snprintf(path, sizeof path, "%s/grid.png", run->o->out_dir);
    dg_grid_render(&g, canvas, tiles, labels);
    int rc = dg_png_write(path, canvas, g.width, g.height, NULL);
    if (rc == DG_OK) snprintf(written, wn, "grid.png");
    if (rc == DG_OK && run->tile_frames > 1) {
        dg_mp4_writer w;
        snprintf(path, sizeof path, "%s/grid.mp4", run->o->out_dir);
        rc = dg_mp4_open(&w, path, g.width, g.height, GRID_FPS, DG_MP4_DEFAULT_CRF);
        for (int f = 0; rc == DG_OK && f < run->tile_frames; f++) {
            const uint8_t *ft[MAX_METHODS];
            for (int i = 0; i < n; i++) ft[i] = tiles[i] + (size_t)f * frame;
            dg_grid_render(&g, canvas, ft, labels);
            rc = dg_mp4_write_frame(&w, canvas);
        }
        if (rc == DG_OK) rc = dg_mp4_close(&w);
        else dg_mp4_abort(&w);
        if (rc == DG_OK) snprintf(written + strlen(written), wn - strlen(written), ", grid.mp4");
    }
    free(canvas);
    return rc;
}

static int write_chart(const bg_run *run) {
    const bg_opts *o = run->o;
    const bg_result *d = &run->r[0];
    const char *names[MAX_METHODS];
    double speed[MAX_METHODS], attn[MAX_METHODS], share[MAX_METHODS];
    for (int m = 0; m < o->n_methods; m++) {
        const bg_result *r = &run->r[m];
        names[m] = r->name;
        speed[m] = r->ok ? ratio(d->denoise_s, r->denoise_s) : NAN;
        attn[m] = r->ok ? ratio(d->attn_s, r->attn_s) : NAN;
        share[m] = r->ok ? 100 * ratio(r->attn_s, r->model_s) : NAN;
    }
    dg_bar_series sp[2] = {{"denoise speedup", "#4e79a7", speed}, {"self-attention speedup", "#f28e2b", attn}};
    dg_bar_series sh[1] = {{"self-attention share of transformer time", "#59a14f", share}};
    dg_bar_panel panels[2] = {{"Speedup over dense", "x", 2, 1.0, sp, 2}, {"Attention share", "%", 1, NAN, sh, 1}};
    char title[512], desc[256], path[4096];
    describe(run, desc, sizeof desc);
    snprintf(title, sizeof title, "ditgen bench generate: %s, %s", o->model, desc);
    snprintf(path, sizeof path, "%s/chart.svg", o->out_dir);
    return dg_svg_bar_chart(path, title, names, o->n_methods, panels, 2);
}

/* Shell-quoted so the line can be pasted back. */
static void put_arg(FILE *f, const char *a) {
    int plain = *a != 0;
    for (const char *c = a; *c && plain; c++) plain = strchr("_-./,=:+%@", *c) || (*c >= '0' && *c <= '9') ||
                                                       (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z');
    if (plain) {
        fputs(a, f);
        return;
    }
    fputc('\'', f);
    for (; *a; a++) *a == '\'' ? fputs("'\\''", f) : fputc(*a, f);
    fputc('\'', f);
}

static int write_markdown(const bg_run *run, int argc, char **argv, const char *grids) {
    char path[4096], desc[256], note[256];
    snprintf(path, sizeof path, "%s/results.md", run->o->out_dir);
    dg_atomic_file af;
    DG_TRY(dg_atomic_open(&af, path));
    FILE *f = af.fp;
    describe(run, desc, sizeof desc);
    fprintf(f, "# ditgen bench generate\n\n```sh\nditgen bench");
    for (int i = 0; i < argc; i++) fputc(' ', f), put_arg(f, argv[i]);
    fprintf(f, "\n```\n\nModel `%s`, %s. %s; the prompt is encoded once and its time is part of every total.\n\n",
            run->o->model, desc, compare_note(run, note, sizeof note));
    for (int i = 0; i < NCOL; i++) fprintf(f, "| %s ", i == 9 && !run->pixels ? "latent_PSNR" : HEADS[i]);
    fprintf(f, "|\n");
    for (int i = 0; i < NCOL; i++) fprintf(f, "|%s", i ? "---:" : "---");
    fprintf(f, "|\n");
    for (int m = 0; m < run->o->n_methods; m++) {
        char cells[NCOL][32];
        row_cells(run, &run->r[m], cells);
        for (int i = 0; i < NCOL; i++) fprintf(f, "| %s ", cells[i]);
        fprintf(f, "|\n");
    }
    for (int m = 0; m < run->o->n_methods; m++)
        if (!run->r[m].ok) fprintf(f, "\n%s failed: %s\n", run->r[m].name, run->r[m].error);
    fprintf(f, "\n![grid](grid.png)\n\n%s\n\n![chart](chart.svg)\n",
            run->pixels ? (strstr(grids, "mp4") ? "First frame of each method; all frames in grid.mp4."
                                                : "The result of each method.")
                        : "Latent channels 0-2 of the first latent frame as RGB, on the dense result's range "
                          "(no VAE decode).");
    return dg_atomic_commit(&af);
}

int bench_generate(int argc, char **argv) {
    cli_error_context("bench generate");
    bg_opts o;
    int pr = parse(argc, argv, &o);
    if (pr) return pr > 0 ? 0 : 2;
    if (prepare_out_dir(o.out_dir)) {
        cli_library_error();
        return 1;
    }
    bg_run *run = calloc(1, sizeof *run);
    dg_pipeline *p = NULL;
    float *ctx = NULL, *neg = NULL;
    int rc = 1;
    if (!run || dg_pipeline_open(&p, o.model, NULL, o.threads)) goto fail;
    run->o = &o;
    run->info = dg_pipeline_info(p);
    run->seed = o.seed < 0 ? dg_rng_random_seed() : (uint64_t)o.seed;
    dg_gen_params g = {.width = o.width, .height = o.height, .frames = o.frames, .steps = o.steps,
                       .cfg_scale = (float)o.cfg, .flow_shift = o.shift, .sampler = o.sampler, .seed = run->seed};
    if (dg_pipeline_latent_shape(p, &g, run->shape)) goto fail;
    run->pixels = run->info->pixel_space;
    run->tile_w = (int)run->shape[3], run->tile_h = (int)run->shape[2];
    run->tile_frames = run->pixels ? (int)run->shape[1] : 1;
    fprintf(stderr, "seed: %llu\n", (unsigned long long)run->seed);
    double t0 = cli_now_s();
    if (cli_text_conditioning(p, o.prompt, NULL, o.context, o.cfg > 1.0, &ctx, &g.context_len, &neg,
                              &g.negative_len))
        goto fail;
    if (o.prompt) dg_pipeline_release_text_encoder(p);
    g.context = ctx, g.negative = neg;
    run->text_s = cli_now_s() - t0;
    int failed = 0;
    for (int m = 0; m < o.n_methods; m++) {
        run->r[m].name = o.methods[m];
        run_method(run, p, &g, &run->r[m]);
        if (m == 0 && !run->r[0].ok) {
            dg_error("dense (the reference) failed: %s", run->r[0].error);
            goto fail;
        }
        failed += !run->r[m].ok;
    }
    if (o.json) print_json(run);
    else print_text(run);
    char grids[64] = "";
    if (write_grids(run, grids, sizeof grids) || write_chart(run) || write_markdown(run, argc, argv, grids))
        goto fail;
    fprintf(stderr, "wrote %s, chart.svg, results.md in %s\n", grids, o.out_dir);
    rc = failed ? 1 : 0;
    if (failed) cli_error("%d method(s) failed (see the table)", failed);
    goto out;
fail:
    if (run) cli_library_error();
    else cli_error("out of memory");
out:
    for (int m = 0; run && m < MAX_METHODS; m++) free(run->r[m].lat), free(run->r[m].rgb);
    free(run), free(ctx), free(neg);
    if (p) dg_pipeline_close(p);
    return rc;
}
