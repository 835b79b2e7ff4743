/* ditgen bench generate: one prompt and seed through dense attention and then
 * each sparse preset. Per method: stage times (the median of --repeat timed
 * runs after --warmup untimed ones), speedups over dense and PSNR / SSIM
 * against the dense result; in --out-dir a labelled grid (PNG, and MP4 for
 * videos), a bar chart SVG and a markdown report. A preset whose plan keeps
 * every step dense at this step count is reported as not engaged (no
 * speedup claimed); one refused at this size is skipped with the reason. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/lib/grid.h"
#include "bench/lib/image_metrics.h"
#include "bench/lib/svg_chart.h"
#include "attention/plan.h"
#include "cli/args.h"
#include "cli/bench/bench_commands.h"
#include "cli/bench/bench_opts.h"
#include "cli/gen_job.h"
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
#include "io/presets.h"
#include "io/safetensors.h"
#include "sampler/scheduler.h"
#include "sampler/step_cache.h"

#define MAX_METHODS 32
#define NAME_MAX_LEN 64
#define GRID_FPS 16
#define NCOL 11
#define MAX_REPEAT 1000

typedef struct bg_method {
    char name[NAME_MAX_LEN]; /* in tables: the preset, or the plan file's name without .json */
    char plan[4096];         /* the plan file (dg_preset_path); "" for dense */
    char cache[4096];        /* the step-cache preset or file as given (dg_pipeline_set_cache); "" for none */
} bg_method;

typedef struct bg_opts {
    /* model, prompt, context, size, steps, guidance, shift, sampler, seed, threads as generate's flags:
     * unset values (-1) come from the model folder's defaults, by generate's rule (gen_job_defaults) */
    gen_job gen;
    const char *out_dir, *configs;
    int warmup, repeat, json;
    int n_methods; /* methods[0] is always dense, the reference */
    bg_method methods[MAX_METHODS];
} bg_opts;

typedef enum { BG_RAN, BG_FAILED, BG_SKIPPED } bg_state;

typedef struct bg_result {
    const char *name;
    bg_state state;
    char error[512]; /* failed or skipped: why */
    int sparse_steps; /* steps in which the plan runs something other than dense */
    int steps_reused; /* steps the step cache reused; with sparse_steps 0 too: not engaged */
    double total_s, denoise_s, model_s, attn_s; /* medians of the timed runs */
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
            "result against the dense one. Each method runs --warmup untimed times, then --repeat\n"
            "timed times; every time shown is the median of the timed runs (the outputs, fixed by\n"
            "the seed, are compared from one run). Pixel-space models are compared on 8-bit RGB\n"
            "frames (PSNR with MAX 255, SSIM on BT.601 luma, 11x11 Gaussian window, mean over\n"
            "frames); latent models on the latents (PSNR with MAX = the dense latents' max - min,\n"
            "no SSIM). The prompt is encoded once (--context: read once) and that time counts in\n"
            "every method's total. An identical result has PSNR 'inf' (JSON: \"psnr\": null,\n"
            "\"identical\": true).\n"
            "A preset whose plan runs dense attention at every one of the --steps (all inside its\n"
            "dense_steps, say) is 'not engaged': it runs, but no speedup is claimed for it (text:\n"
            "'-', JSON: null, left out of the chart). A preset refused at this size is skipped with\n"
            "the reason. Exit status 1 when any method fails (its row says why).\n"
            "\n"
            "  -m, --model DIR      diffusers model folder or transformer folder\n"
            "  -p, --prompt TEXT    prompt (negative: the model's default, for --cfg-scale > 1)\n"
            "      --context FILE   precomputed 'prompt_embeds' (and 'negative_prompt_embeds')\n"
            "  -W, --width N        width in pixels (default: the model's, as ditgen generate)\n"
            "  -H, --height N       height in pixels (default: the model's)\n"
            "      --frames N       frames (default: the model's)\n"
            "      --steps N        denoising steps (default: the model's)\n"
            "      --cfg-scale X    guidance scale, <= 1 disables it (default: the model's)\n"
            "      --flow-shift X   sigma shift (default: the model's)\n"
            "      --sampler NAME   unipc or euler (default: the model's)\n"
            "  -s, --seed N         seed; negative picks a random one (default 42)\n"
            "  -t, --threads N      CPU threads (default: all cores)\n"
            "      --warmup N       untimed runs per method first (default 1)\n"
            "      --repeat N       timed runs per method, reported by their median (default 3)\n"
            "      --methods LIST   comma-separated presets from configs/attention (NAME or\n"
            "                       NAME.json) or paths to plan .json files, or 'all' (default\n"
            "                       all); dense always runs first as the reference\n"
            "      --caches LIST    comma-separated step-cache presets (configs/cache) or files: one\n"
            "                       more row each, dense attention with that cache; a method\n"
            "                       METHOD+CACHE in --methods combines a plan with a cache. Their\n"
            "                       speedup and PSNR / SSIM are against dense without a cache\n"
            "      --out-dir DIR    created if missing (default bench_generate_out): grid.png,\n"
            "                       grid.mp4 (videos of pixel models), chart.svg, results.md\n"
            "      --format F       text (default) or json, on stdout\n");
}

/* Table names are plain words: safe in tables, labels and the chart. */
static int valid_name(const char *name) {
    size_t len = strlen(name);
    int ok = len > 0 && len < NAME_MAX_LEN;
    for (size_t i = 0; ok && i < len; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
             (name[i] >= '0' && name[i] <= '9') || name[i] == '_' || name[i] == '-';
    return ok;
}

/* The file name of a path without folder and .json, at most NAME_MAX_LEN - 1 bytes; -1 when longer. */
static int base_name(const char *path, char *out) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base) - (cli_ends_with(base, ".json") ? 5 : 0);
    snprintf(out, NAME_MAX_LEN, "%.*s", (int)(len < NAME_MAX_LEN ? len : NAME_MAX_LEN - 1), base);
    return len < NAME_MAX_LEN ? 0 : -1;
}

/* METHOD+CACHE: the step-cache preset or file after the '+', checked now, moved to m->cache; the
 * table's name gets "+" and the cache's base name. */
static int split_cache(bg_opts *o, char *arg, bg_method *m, char *cache_name) {
    char *plus = strchr(arg, '+');
    m->cache[0] = cache_name[0] = 0;
    if (!plus) return 0;
    *plus = 0;
    dg_step_cache_opts co;
    if (!plus[1] || dg_step_cache_load(&co, plus + 1, o->configs) || strlen(plus + 1) >= sizeof m->cache ||
        base_name(plus + 1, cache_name) || !valid_name(cache_name)) {
        cli_error("--methods: %s", plus[1] ? dg_last_error() : "no cache preset after '+'");
        return -1;
    }
    snprintf(m->cache, sizeof m->cache, "%s", plus + 1);
    return 0;
}

/* A preset name, NAME.json or a path to a plan file, resolved now (before the model loads) to the
 * file dg_pipeline_set_attention will read; the table names it by that file's name. A '+' adds a
 * step cache (METHOD+CACHE). */
static int add_method(bg_opts *o, const char *given) {
    char arg[8200], cache_name[NAME_MAX_LEN];
    snprintf(arg, sizeof arg, "%s", given);
    if (o->n_methods == MAX_METHODS) {
        cli_error("--methods: at most %d methods", MAX_METHODS);
        return -1;
    }
    bg_method *m = &o->methods[o->n_methods]; /* counted once it is known to be new */
    if (split_cache(o, arg, m, cache_name)) return -1;
    if (!*arg) {
        cli_error("--methods: empty preset name");
        return -1;
    }
    if (strcmp(arg, "dense") && dg_preset_path("attention", "attention plan", arg, o->configs, m->plan, sizeof m->plan)) {
        cli_error("--methods: %s", dg_last_error());
        return -1;
    }
    if (base_name(strcmp(arg, "dense") ? m->plan : arg, m->name) || !valid_name(m->name)) {
        cli_error("--methods: bad preset name '%s' (a-z, A-Z, 0-9, _ and -)", m->name);
        return -1;
    }
    if (m->cache[0] && strlen(m->name) + 1 + strlen(cache_name) >= NAME_MAX_LEN) {
        cli_error("--methods: the name '%s+%s' is too long", m->name, cache_name);
        return -1;
    }
    if (m->cache[0]) snprintf(m->name + strlen(m->name), NAME_MAX_LEN - strlen(m->name), "+%s", cache_name);
    for (int i = 0; i < o->n_methods; i++) {
        if (strcmp(o->methods[i].name, m->name)) continue;
        if (i == 0) return 0; /* dense is implied; naming it is fine */
        cli_error("--methods: '%s' listed twice", m->name);
        return -1;
    }
    o->n_methods++;
    return 0;
}

/* 'all': every preset in configs/attention (sorted), except dense and names unfit for a table. */
static int add_all_methods(bg_opts *o) {
    char **names;
    int n;
    if (dg_presets_list(o->configs, "attention", &names, &n)) {
        cli_library_error();
        return -1;
    }
    int rc = 0;
    for (int i = 0; !rc && i < n; i++)
        if (strcmp(names[i], "dense") && valid_name(names[i])) rc = add_method(o, names[i]);
    dg_presets_free(names, n);
    return rc;
}

/* Each comma-separated item of list through add_method, after prefix (e.g. "dense+"). */
static int add_list(bg_opts *o, const char *list, const char *prefix) {
    char *copy = strdup(list);
    if (!copy) {
        cli_error("out of memory");
        return -1;
    }
    int rc = 0;
    for (char *s = copy, *comma; !rc; s = comma + 1) {
        comma = strchr(s, ',');
        if (comma) *comma = 0;
        char item[8300];
        snprintf(item, sizeof item, "%s%s", prefix, s);
        rc = add_method(o, item);
        if (!comma) break;
    }
    free(copy);
    return rc;
}

static int parse_methods(bg_opts *o, const char *list, const char *caches) {
    strcpy(o->methods[0].name, "dense"); /* built in: needs no preset file */
    o->n_methods = 1;
    if (strcmp(list, "all") ? add_list(o, list, "") : add_all_methods(o)) return -1;
    return caches ? add_list(o, caches, "dense+") : 0;
}

/* The sampler is given: the model's default no longer applies. */
static int parse_sampler(const char *flag, const char *val, void *out) {
    gen_job *g = out;
    if (dg_sample_method_parse(val, &g->sampler) == DG_OK) return g->sampler_given = 1, 0;
    cli_library_error();
    return -1;
}

/* 0 to run, 1 after --help, -1 on a bad command line (one line on stderr). */
static int parse(int argc, char **argv, bg_opts *o) {
    static const char *const formats[] = {"text", "json", NULL};
    const char *env = getenv("DITGEN_CONFIG_DIR");
    *o = (bg_opts){.out_dir = "bench_generate_out", .configs = env && *env ? env : DG_CONFIG_DIR, .warmup = 1,
                   .repeat = 3};
    gen_job *g = &o->gen;
    *g = (gen_job){.width = -1, .height = -1, .frames = -1, .steps = -1, .fps = -1, .cfg = -1, .shift = -1,
                   .seed = 42};
    const char *methods = "all", *caches = NULL;
    const bench_opt opts[] = {
        BENCH_STRING("model", 'm', &g->model, .required = 1),
        BENCH_STRING("prompt", 'p', &g->prompt),
        BENCH_STRING("context", 0, &g->context),
        BENCH_INT("width", 'W', &g->width, 1, DG_MAX_SIDE),
        BENCH_INT("height", 'H', &g->height, 1, DG_MAX_SIDE),
        BENCH_INT("frames", 0, &g->frames, 1, DG_MAX_FRAMES),
        BENCH_INT("steps", 0, &g->steps, 1, DG_SCHEDULER_MAX_STEPS),
        BENCH_DOUBLE("cfg-scale", 0, &g->cfg, 0.0, 100.0),
        BENCH_DOUBLE("flow-shift", 0, &g->shift, 1e-3, 1000.0),
        BENCH_CUSTOM("sampler", 0, g, parse_sampler),
        BENCH_INT64("seed", 's', &g->seed, INT64_MIN, INT64_MAX),
        BENCH_INT("threads", 't', &g->threads, 1, 1024),
        BENCH_INT("warmup", 0, &o->warmup, 0, MAX_REPEAT),
        BENCH_INT("repeat", 0, &o->repeat, 1, MAX_REPEAT),
        BENCH_STRING("methods", 0, &methods),
        BENCH_STRING("caches", 0, &caches),
        BENCH_STRING("out-dir", 0, &o->out_dir),
        BENCH_CHOICE("format", 0, &o->json, formats),
        BENCH_END};
    int rc = bench_opts_parse(argc, argv, opts, usage);
    if (rc) return rc;
    if (!g->context == !g->prompt) {
        cli_error("give exactly one of -p PROMPT and --context FILE.safetensors");
        return -1;
    }
    return parse_methods(o, methods, caches);
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

/* What the progress line names: the method and which of its runs this is. */
typedef struct bg_progress {
    const char *name;
    int run, warmup, repeat; /* run counts from 0 over the warm-up runs, then the timed ones */
} bg_progress;

static void on_progress(void *user, int step, int steps) {
    const bg_progress *pr = user;
    char which[48];
    if (pr->run < pr->warmup) snprintf(which, sizeof which, "warm-up %d/%d", pr->run + 1, pr->warmup);
    else snprintf(which, sizeof which, "run %d/%d", pr->run - pr->warmup + 1, pr->repeat);
    fprintf(stderr, "\r  %-14s %-13s step %d/%d", pr->name, which, step, steps);
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

/* The warm-up runs, then the timed ones into r's medians; the latents of every run are the same for
 * the seed, so r->lat holds the last. */
static int timed_runs(bg_run *run, dg_pipeline *p, const dg_gen_params *g, bg_result *r) {
    const int warmup = run->o->warmup, repeat = run->o->repeat;
    double *t = malloc((size_t)repeat * 4 * sizeof *t); /* total, denoise, model, attention per run */
    DG_CHECK_ALLOC(t);
    bg_progress pr = {r->name, 0, warmup, repeat};
    int rc = DG_OK;
    for (; rc == DG_OK && pr.run < warmup + repeat; pr.run++) {
        dg_gen_timing tm;
        double t0 = cli_now_s();
        rc = dg_pipeline_generate(p, g, r->lat, on_progress, &pr, &tm);
        if (rc == DG_OK && pr.run >= warmup) {
            double *x = t + 4 * (pr.run - warmup);
            x[0] = run->text_s + cli_now_s() - t0, x[1] = tm.denoise_s, x[2] = tm.model_s, x[3] = tm.attention_s;
        }
        if (rc == DG_OK) r->steps_reused = tm.steps_reused; /* the same in every run: fixed by the seed */
    }
    double col[MAX_REPEAT];
    double *out[4] = {&r->total_s, &r->denoise_s, &r->model_s, &r->attn_s};
    for (int k = 0; rc == DG_OK && k < 4; k++) {
        for (int i = 0; i < repeat; i++) col[i] = t[4 * i + k];
        *out[k] = cli_median(col, repeat);
    }
    free(t);
    return rc;
}

/* Where dense set the latent range the latent PSNR is measured against. */
static void set_latent_range(bg_run *run, const float *lat, size_t n) {
    float lo = lat[0], hi = lat[0];
    for (size_t i = 1; i < n; i++) lo = lat[i] < lo ? lat[i] : lo, hi = lat[i] > hi ? lat[i] : hi;
    run->latent_range = (double)hi - (double)lo;
}

/* One method end to end; a failure or a refusal of the size is recorded in r and the bench goes on. */
static void run_method(bg_run *run, dg_pipeline *p, const dg_gen_params *g, const bg_method *m, bg_result *r) {
    size_t n = (size_t)(run->shape[0] * run->shape[1] * run->shape[2] * run->shape[3]);
    const int dense = r == &run->r[0];
    r->name = m->name;
    r->lat = malloc(n * sizeof(float));
    int rc = r->lat ? DG_OK : dg_error("out of memory for %zu latents", n);
    if (rc == DG_OK) rc = dg_pipeline_set_attention(p, m->plan[0] ? m->plan : NULL, run->o->configs);
    if (rc == DG_OK) rc = dg_pipeline_set_cache(p, m->cache[0] ? m->cache : NULL, run->o->configs);
    /* dense passed this check with the same parameters: a refusal now is the plan's, at this size */
    if (rc == DG_OK && !dense && dg_pipeline_check(p, g) != DG_OK) {
        r->state = BG_SKIPPED;
        cli_params_as_flags(dg_last_error(), r->error, sizeof r->error);
        fprintf(stderr, "  %-14s skipped: %s\n", r->name, r->error);
        return;
    }
    if (rc == DG_OK) r->sparse_steps = dg_pipeline_attention_sparse_steps(p, g->steps);
    if (rc == DG_OK) rc = timed_runs(run, p, g, r);
    if (rc == DG_OK && dense && !run->pixels) set_latent_range(run, r->lat, n);
    if (rc == DG_OK) rc = compare(run, r);
    r->state = rc == DG_OK ? BG_RAN : BG_FAILED;
    if (rc != DG_OK) cli_params_as_flags(dg_last_error(), r->error, sizeof r->error);
    if (rc == DG_OK) fprintf(stderr, " (median %.2f s)\n", r->total_s);
    else fprintf(stderr, "\r  %-14s failed: %s\n", r->name, r->error);
}

/* A method that ran sparse attention or reused a cached step: only then is a speedup over dense its own. */
static int engaged(const bg_run *run, const bg_result *r) {
    return r->state == BG_RAN && (r == &run->r[0] || r->sparse_steps > 0 || r->steps_reused > 0);
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
    if (r->state != BG_RAN) {
        for (int i = 1; i < NCOL; i++)
            snprintf(cells[i], 32, "%s", i > 1 ? "-" : r->state == BG_SKIPPED ? "skipped" : "failed");
        return;
    }
    int eng = engaged(run, r);
    fmt_num(cells[1], r->total_s, 3, "");
    fmt_num(cells[2], run->text_s, 3, "");
    fmt_num(cells[3], r->denoise_s, 3, "");
    fmt_num(cells[4], r->model_s, 3, "");
    fmt_num(cells[5], r->attn_s, 3, "");
    fmt_num(cells[6], 100 * ratio(r->attn_s, r->model_s), 1, "%");
    fmt_num(cells[7], eng ? ratio(d->denoise_s, r->denoise_s) : NAN, 2, "x");
    fmt_num(cells[8], eng ? ratio(d->attn_s, r->attn_s) : NAN, 2, "x");
    fmt_num(cells[9], r->psnr, 2, "");
    fmt_num(cells[10], r->ssim, 4, "");
}

/* The note column: why a row has no numbers or no speedup. */
static void row_note(const bg_run *run, const bg_result *r, char *buf, size_t n) {
    if (r->state == BG_FAILED) snprintf(buf, n, "failed: %s", r->error);
    else if (r->state == BG_SKIPPED) snprintf(buf, n, "skipped: %s", r->error);
    else if (r == &run->r[0]) snprintf(buf, n, "reference");
    else if (!engaged(run, r))
        snprintf(buf, n, "not engaged: dense attention%s at all %d steps", run->o->methods[r - run->r].cache[0]
                 ? " and no step reused" : "", run->o->gen.steps);
    else if (!r->steps_reused) snprintf(buf, n, "sparse in %d of %d steps", r->sparse_steps, run->o->gen.steps);
    else if (!r->sparse_steps) snprintf(buf, n, "reused %d of %d steps", r->steps_reused, run->o->gen.steps);
    else snprintf(buf, n, "sparse in %d, reused %d of %d steps", r->sparse_steps, r->steps_reused, run->o->gen.steps);
}

static const char *const HEADS[NCOL] = {"method",  "total_s", "text_s",       "denoise_s", "model_s", "attn_s",
                                        "attn_%",  "speedup", "attn_speedup", "PSNR_dB",   "SSIM"};

/* "median of 3 timed runs after 1 warm-up run": what every time in the table is. */
static void timing_note(const bg_opts *o, char *buf, size_t n) {
    snprintf(buf, n, "times: median of %d timed run%s after %d warm-up run%s", o->repeat, o->repeat == 1 ? "" : "s",
             o->warmup, o->warmup == 1 ? "" : "s");
}

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
    const gen_job *o = &run->o->gen;
    char th[32];
    snprintf(th, sizeof th, o->threads ? "%d thread(s)" : "all cores", o->threads);
    snprintf(buf, n, "%dx%d, %d frame(s), %d steps (%s, cfg %g, shift %g), seed %llu, %s", o->width, o->height,
             o->frames, o->steps, dg_sample_method_name(o->sampler), o->cfg, o->shift,
             (unsigned long long)run->seed, th);
}

static void print_text(const bg_run *run) {
    char desc[256], note[256], times[96];
    describe(run, desc, sizeof desc);
    timing_note(run->o, times, sizeof times);
    printf("bench generate: %s, %s\n%s\n%s\n", run->o->gen.model, desc, compare_note(run, note, sizeof note), times);
    int w = 14; /* the method column fits the longest name */
    for (int m = 0; m < run->o->n_methods; m++)
        if ((int)strlen(run->r[m].name) > w) w = (int)strlen(run->r[m].name);
    printf("%-*s", w, HEADS[0]);
    for (int i = 1; i < NCOL; i++)
        printf(" %*s", i == 8 ? 12 : i == 9 ? 11 : 9, i == 9 && !run->pixels ? "latent_PSNR" : HEADS[i]);
    printf("  note\n");
    for (int m = 0; m < run->o->n_methods; m++) {
        char cells[NCOL][32], why[640];
        row_cells(run, &run->r[m], cells);
        row_note(run, &run->r[m], why, sizeof why);
        printf("%-*s", w, cells[0]);
        for (int i = 1; i < NCOL; i++) printf(" %*s", i == 8 ? 12 : i == 9 ? 11 : 9, cells[i]);
        printf("  %s\n", why);
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
    const gen_job *gj = &o->gen;
    const bg_result *d = &run->r[0];
    printf("{\"benchmark\": \"generate\", \"model\": ");
    json_str(stdout, gj->model);
    printf(", \"width\": %d, \"height\": %d, \"frames\": %d, \"steps\": %d, \"sampler\": \"%s\", \"cfg_scale\": %g, "
           "\"flow_shift\": %g, \"seed\": %llu, \"threads\": %d, \"warmup\": %d, \"repeat\": %d, "
           "\"times\": \"median\", \"compare\": \"%s\"",
           gj->width, gj->height, gj->frames, gj->steps, dg_sample_method_name(gj->sampler), gj->cfg, gj->shift,
           (unsigned long long)run->seed, gj->threads, o->warmup, o->repeat, run->pixels ? "pixels" : "latents");
    if (!run->pixels) json_num(stdout, "latent_range", run->latent_range);
    json_num(stdout, "text_s", run->text_s);
    printf(", \"out_dir\": ");
    json_str(stdout, o->out_dir);
    printf(", \"methods\": [");
    for (int m = 0; m < o->n_methods; m++) {
        const bg_result *r = &run->r[m];
        char why[640];
        row_note(run, r, why, sizeof why);
        printf("%s\n  {\"method\": ", m ? "," : "");
        json_str(stdout, r->name);
        printf(", \"status\": \"%s\"", r->state == BG_RAN ? "ran" : r->state == BG_SKIPPED ? "skipped" : "failed");
        if (r->state != BG_RAN) {
            printf(", \"%s\": ", r->state == BG_SKIPPED ? "reason" : "error");
            json_str(stdout, r->error);
            printf("}");
            continue;
        }
        const int eng = engaged(run, r);
        printf(", \"engaged\": %s, \"sparse_steps\": %d, \"steps_reused\": %d, \"note\": ", eng ? "true" : "false",
               r->sparse_steps, r->steps_reused);
        json_str(stdout, why);
        printf(", \"runs\": %d", o->repeat);
        json_num(stdout, "total_s", r->total_s);
        json_num(stdout, "denoise_s", r->denoise_s);
        json_num(stdout, "model_s", r->model_s);
        json_num(stdout, "attention_s", r->attn_s);
        json_num(stdout, "attention_share", ratio(r->attn_s, r->model_s));
        json_num(stdout, "speedup", eng ? ratio(d->denoise_s, r->denoise_s) : NAN);
        json_num(stdout, "attention_speedup", eng ? ratio(d->attn_s, r->attn_s) : NAN);
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
        if (r->state != BG_RAN) continue;
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

/* Speedups and attention shares of dense and the methods that engaged: the others have no speedup of
 * their own to draw. */
static int write_chart(const bg_run *run) {
    const bg_opts *o = run->o;
    const bg_result *d = &run->r[0];
    const char *names[MAX_METHODS];
    double speed[MAX_METHODS], attn[MAX_METHODS], share[MAX_METHODS];
    int n = 0;
    for (int m = 0; m < o->n_methods; m++) {
        const bg_result *r = &run->r[m];
        if (!engaged(run, r)) continue;
        names[n] = r->name;
        speed[n] = ratio(d->denoise_s, r->denoise_s);
        attn[n] = ratio(d->attn_s, r->attn_s);
        share[n++] = 100 * ratio(r->attn_s, r->model_s);
    }
    dg_bar_series sp[2] = {{"denoise speedup", "#4e79a7", speed}, {"self-attention speedup", "#f28e2b", attn}};
    dg_bar_series sh[1] = {{"self-attention share of transformer time", "#59a14f", share}};
    dg_bar_panel panels[2] = {{"Speedup over dense", "x", 2, 1.0, sp, 2}, {"Attention share", "%", 1, NAN, sh, 1}};
    char title[640], desc[256], times[96], path[4096];
    describe(run, desc, sizeof desc);
    timing_note(o, times, sizeof times);
    snprintf(title, sizeof title, "ditgen bench generate: %s, %s; %s", o->gen.model, desc, times);
    snprintf(path, sizeof path, "%s/chart.svg", o->out_dir);
    return dg_svg_bar_chart(path, title, names, n, panels, 2);
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
    char path[4096], desc[256], note[256], times[96];
    snprintf(path, sizeof path, "%s/results.md", run->o->out_dir);
    dg_atomic_file af;
    DG_TRY(dg_atomic_open(&af, path));
    FILE *f = af.fp;
    describe(run, desc, sizeof desc);
    timing_note(run->o, times, sizeof times);
    fprintf(f, "# ditgen bench generate\n\n```sh\nditgen bench");
    for (int i = 0; i < argc; i++) fputc(' ', f), put_arg(f, argv[i]);
    fprintf(f, "\n```\n\nModel `%s`, %s. %s; the prompt is encoded once and its time is part of every total. "
            "All %s.\n\n", run->o->gen.model, desc, compare_note(run, note, sizeof note), times);
    for (int i = 0; i < NCOL; i++) fprintf(f, "| %s ", i == 9 && !run->pixels ? "latent_PSNR" : HEADS[i]);
    fprintf(f, "| note |\n");
    for (int i = 0; i <= NCOL; i++) fprintf(f, "|%s", i && i < NCOL ? "---:" : "---");
    fprintf(f, "|\n");
    for (int m = 0; m < run->o->n_methods; m++) {
        char cells[NCOL][32], why[640];
        row_cells(run, &run->r[m], cells);
        row_note(run, &run->r[m], why, sizeof why);
        for (int i = 0; i < NCOL; i++) fprintf(f, "| %s ", cells[i]);
        fprintf(f, "| %s |\n", why);
    }
    fprintf(f, "\n![grid](grid.png)\n\n%s\n\n![chart](chart.svg)\n\nThe chart leaves out methods that did not "
            "engage, were skipped or failed.\n",
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
    if (!run || dg_pipeline_open(&p, o.gen.model, NULL, o.gen.threads)) goto fail;
    run->o = &o;
    run->info = dg_pipeline_info(p);
    gen_job_defaults(&o.gen, &run->info->defaults); /* what the flags leave unset, as generate */
    run->seed = o.gen.seed < 0 ? dg_rng_random_seed() : (uint64_t)o.gen.seed;
    dg_gen_params g = {.width = o.gen.width, .height = o.gen.height, .frames = o.gen.frames, .steps = o.gen.steps,
                       .cfg_scale = (float)o.gen.cfg, .flow_shift = o.gen.shift, .sampler = o.gen.sampler,
                       .seed = run->seed};
    if (dg_pipeline_latent_shape(p, &g, run->shape)) goto fail;
    run->pixels = run->info->pixel_space;
    run->tile_w = (int)run->shape[3], run->tile_h = (int)run->shape[2];
    run->tile_frames = run->pixels ? (int)run->shape[1] : 1;
    fprintf(stderr, "seed: %llu\n", (unsigned long long)run->seed);
    double t0 = cli_now_s();
    if (cli_text_conditioning(p, o.gen.prompt, o.gen.negative, o.gen.context, o.gen.cfg > 1.0, &ctx,
                              &g.context_len, &neg, &g.negative_len))
        goto fail;
    if (o.gen.prompt) dg_pipeline_release_text_encoder(p);
    g.context = ctx, g.negative = neg;
    run->text_s = cli_now_s() - t0;
    int failed = 0;
    for (int m = 0; m < o.n_methods; m++) {
        run_method(run, p, &g, &o.methods[m], &run->r[m]);
        if (m == 0 && run->r[0].state != BG_RAN) {
            dg_error("dense (the reference) failed: %s", run->r[0].error);
            goto fail;
        }
        failed += run->r[m].state == BG_FAILED;
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
