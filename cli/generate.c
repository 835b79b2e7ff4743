/* ditgen generate: flags -> dg_gen_params -> pipeline -> PNG / MP4 / latents. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/text_conditioning.h"
#include "cli/timing.h"
#include "core/rng.h"
#include "ditgen.h"
#include "io/atomic_file.h"
#include "io/frames.h"
#include "io/mp4.h"
#include "io/png.h"
#include "io/safetensors.h"

typedef enum { OUT_PNG, OUT_MP4, OUT_LATENTS } out_kind;

typedef struct gen_opts {
    const char *model, *output, *context, *prompt, *negative, *attention, *device;
    int keep_text_encoder;
    int width, height, frames, steps, threads, fps, vae_tile; /* -1: the model's default */
    double cfg, shift;                                        /* < 0: the model's default */
    int64_t seed;
    int sampler;                                              /* -1: the model's default */
    out_kind kind;
    int frame_pattern; /* PNG output holds a %d: one file per frame */
} gen_opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen generate -m MODEL (-p PROMPT | --context FILE.safetensors) [options]\n"
            "\n"
            "  -m, --model DIR        diffusers model folder (with transformer/) or a transformer folder\n"
            "                         (default: the small shipped model, " DG_DEFAULT_MODEL ")\n"
            "  -p, --prompt TEXT      the prompt, encoded with the folder's tokenizer/ and text_encoder/\n"
            "  -n, --negative-prompt TEXT  negative prompt for --cfg-scale > 1 (*, empty as diffusers)\n"
            "      --keep-text-encoder  keep the text encoder in memory after encoding (default: free it)\n"
            "      --context FILE     precomputed text embeddings instead of -p: 'prompt_embeds' [1, L, text_dim]\n"
            "                         and, for --cfg-scale > 1, 'negative_prompt_embeds' (diffusers' arguments)\n"
            "\n"
            "  Defaults marked * come from the model folder (scheduler/scheduler_config.json and a\n"
            "  \"_ditgen_defaults\" object in model_index.json), else diffusers' WanPipeline defaults:\n"
            "  -W, --width N          width in pixels (*, 832)\n"
            "  -H, --height N         height in pixels (*, 480)\n"
            "      --frames N         frames, 4k+1 for the Wan VAE (*, 81; 1 = image)\n"
            "      --steps N          denoising steps (*, 50)\n"
            "      --cfg-scale X      classifier-free guidance scale, <= 1 disables it (*, 5.0)\n"
            "      --flow-shift X     flow-matching sigma shift (*, 3.0)\n"
            "      --sampler NAME     unipc or euler (*, unipc)\n"
            "  -s, --seed N           seed; negative picks a random one (default 42); always printed\n"
            "  -o, --output PATH      .png (one frame, or a %%03d pattern for one file per frame), .mp4,\n"
            "                         or .safetensors for the final latents (default output.safetensors)\n"
            "      --fps N            frame rate of .mp4 output (*, 16)\n"
            "      --vae-tile N       decode in spatial tiles of N latent cells (bounded memory; 0 = whole\n"
            "                         frames, default 0; 32 = diffusers' 256-pixel tiles)\n"
            "      --attention P      attention plan: a preset (dense, radial_wan, sta_wan, grat_x, natten_gna;\n"
            "                         configs/attention/P.json) or a path to a plan .json (default dense)\n"
            "      --device D         cpu (default) or cuda[:N] for the transformer (builds with CUDA)\n"
            "  -t, --threads N        CPU threads (default: all cores)\n"
            "  -h, --help             this help\n");
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int parse(int argc, char **argv, gen_opts *o) {
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'},  {"width", required_argument, 0, 'W'},
        {"height", required_argument, 0, 'H'}, {"frames", required_argument, 0, 1},
        {"steps", required_argument, 0, 2},    {"cfg-scale", required_argument, 0, 3},
        {"flow-shift", required_argument, 0, 4}, {"sampler", required_argument, 0, 5},
        {"seed", required_argument, 0, 's'},   {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 't'}, {"context", required_argument, 0, 6},
        {"fps", required_argument, 0, 7},      {"help", no_argument, 0, 'h'},
        {"prompt", required_argument, 0, 'p'}, {"negative-prompt", required_argument, 0, 'n'},
        {"keep-text-encoder", no_argument, 0, 8}, {"attention", required_argument, 0, 9},
        {"vae-tile", required_argument, 0, 10}, {"device", required_argument, 0, 11},
        {0, 0, 0, 0}};
    *o = (gen_opts){.output = "output.safetensors", .width = -1, .height = -1, .frames = -1, .steps = -1,
                    .fps = -1, .cfg = -1, .shift = -1, .seed = 42, .sampler = -1};
    opterr = 0;
    optind = 1;
    int c;
    int64_t iv;
    while ((c = getopt_long(argc, argv, ":m:W:H:s:o:t:p:n:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'o': o->output = optarg; break;
        case 6: o->context = optarg; break;
        case 'p': o->prompt = optarg; break;
        case 'n': o->negative = optarg; break;
        case 8: o->keep_text_encoder = 1; break;
        case 9: o->attention = optarg; break;
        case 11: o->device = optarg; break;
        case 10: if (cli_parse_int("--vae-tile", optarg, 0, 4096, &iv)) return -1; o->vae_tile = (int)iv; break;
        case 'W': if (cli_parse_int("--width", optarg, 1, 16384, &iv)) return -1; o->width = (int)iv; break;
        case 'H': if (cli_parse_int("--height", optarg, 1, 16384, &iv)) return -1; o->height = (int)iv; break;
        case 1: if (cli_parse_int("--frames", optarg, 1, 100000, &iv)) return -1; o->frames = (int)iv; break;
        case 2: if (cli_parse_int("--steps", optarg, 1, 10000, &iv)) return -1; o->steps = (int)iv; break;
        case 7: if (cli_parse_int("--fps", optarg, 1, 240, &iv)) return -1; o->fps = (int)iv; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &iv)) return -1; o->threads = (int)iv; break;
        case 's': if (cli_parse_int("--seed", optarg, INT64_MIN, INT64_MAX, &o->seed)) return -1; break;
        case 3: if (cli_parse_double("--cfg-scale", optarg, 0.0, 100.0, &o->cfg)) return -1; break;
        case 4: if (cli_parse_double("--flow-shift", optarg, 1e-3, 1000.0, &o->shift)) return -1; break;
        case 5:
            if (!strcmp(optarg, "unipc")) o->sampler = DG_SAMPLE_UNIPC;
            else if (!strcmp(optarg, "euler")) o->sampler = DG_SAMPLE_EULER;
            else {
                fprintf(stderr, "ditgen: --sampler must be unipc or euler, got '%s'\n", optarg);
                return -1;
            }
            break;
        case 'h': usage(stdout); return 1;
        case ':': fprintf(stderr, "ditgen generate: %s needs a value\n", argv[optind - 1]); return -1;
        default:
            fprintf(stderr, "ditgen generate: unknown option '%s' (see ditgen generate --help)\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ditgen generate: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->model) o->model = DG_DEFAULT_MODEL;
    if (!o->context == !o->prompt) {
        fprintf(stderr, "ditgen generate: give exactly one of -p PROMPT and --context FILE.safetensors\n");
        return -1;
    }
    if (o->negative && !o->prompt) {
        fprintf(stderr, "ditgen generate: -n needs -p (with --context the negative comes from the file)\n");
        return -1;
    }
    if (ends_with(o->output, ".png")) {
        o->kind = OUT_PNG;
        if ((o->frame_pattern = cli_frame_pattern("--output", o->output)) < 0) return -1;
    } else if (ends_with(o->output, ".mp4")) {
        o->kind = OUT_MP4;
    } else if (ends_with(o->output, ".safetensors")) {
        o->kind = OUT_LATENTS;
    } else {
        fprintf(stderr, "ditgen generate: --output '%s' must end in .png, .mp4 or .safetensors\n", o->output);
        return -1;
    }
    if (o->kind == OUT_MP4 && !dg_mp4_available()) {
        fprintf(stderr, "ditgen generate: --output '%s': this ditgen was built without FFmpeg; use PNG frames "
                        "(out_%%03d.png)\n",
                o->output);
        return -1;
    }
    return 0;
}

/* Unset flags take the model folder's defaults; then checks that need the final values. */
static int apply_defaults(gen_opts *o, const dg_model_defaults *d) {
    if (o->width < 0) o->width = d->width;
    if (o->height < 0) o->height = d->height;
    if (o->frames < 0) o->frames = d->frames;
    if (o->steps < 0) o->steps = d->steps;
    if (o->fps < 0) o->fps = d->fps;
    if (o->cfg < 0) o->cfg = d->cfg_scale;
    if (o->shift < 0) o->shift = d->flow_shift;
    if (o->sampler < 0) o->sampler = (int)d->sampler;
    if (!o->negative && o->prompt) o->negative = d->negative_prompt;
    if (o->kind == OUT_PNG && o->frames > 1 && !o->frame_pattern) {
        fprintf(stderr, "ditgen generate: %d frames into one .png: use .mp4 or a pattern like out_%%03d.png\n",
                o->frames);
        return -1;
    }
    return 0;
}

typedef struct progress_state {
    double start, last;
} progress_state;

/* sd.cpp-style bar: |=====>    | 7/20 - 1.23it/s (s/it once a step exceeds a second) */
static void on_progress(void *user, int step, int steps) {
    progress_state *ps = user;
    double t = cli_now_s(), per = (t - ps->start) / step;
    char bar[51];
    int fill = step * 50 / steps;
    for (int i = 0; i < 50; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[50] = 0;
    if (per > 1.0) fprintf(stderr, "\r  |%s| %d/%d - %.2fs/it", bar, step, steps, per);
    else fprintf(stderr, "\r  |%s| %d/%d - %.2fit/s", bar, step, steps, 1.0 / per);
    if (step == steps) fputc('\n', stderr);
    ps->last = t;
}

/* Writability is checked before minutes of compute, not after. */
static int check_writable(const char *path) {
    dg_atomic_file f;
    if (dg_atomic_open(&f, path) != DG_OK) return -1;
    dg_atomic_abort(&f);
    return 0;
}

/* Frame f's file name; the pattern passed cli_frame_pattern (one %d), so it is a safe format. */
static int frame_path(char *buf, size_t size, const char *pattern, int f) {
    int n = snprintf(buf, size, pattern, f);
    if (n < 0 || (size_t)n >= size) return dg_error("--output '%s': the frame path is too long", pattern);
    return DG_OK;
}

/* A1111 infotext: prompt, "Negative prompt: ...", then the parameters line. */
static char *infotext(const gen_opts *o, uint64_t seed) {
    char ctx_note[4200] = "";
    if (o->context) snprintf(ctx_note, sizeof ctx_note, "(text embeddings from %s)", o->context);
    const char *fmt = "%s\nNegative prompt: %s\nSteps: %d, Sampler: %s, CFG scale: %g, Seed: %llu, Size: %dx%d, "
                      "Frames: %d, Flow shift: %g, Attention: %s, Model: %s, Version: ditgen";
#define INFOTEXT_ARGS                                                                                          \
    o->prompt ? o->prompt : ctx_note, o->negative ? o->negative : "", o->steps,                                \
        o->sampler == (int)DG_SAMPLE_EULER ? "euler" : "unipc", o->cfg, (unsigned long long)seed, o->width, o->height, \
        o->frames, o->shift, o->attention ? o->attention : "dense", o->model
    int n = snprintf(NULL, 0, fmt, INFOTEXT_ARGS);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) snprintf(s, (size_t)n + 1, fmt, INFOTEXT_ARGS);
#undef INFOTEXT_ARGS
    return s;
}

static int write_output(const gen_opts *o, dg_pipeline *p, const int64_t shape[4], const float *lat, uint64_t seed) {
    if (o->kind == OUT_LATENTS) {
        int64_t s5[5] = {1, shape[0], shape[1], shape[2], shape[3]};
        char seed_s[32];
        snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)seed);
        const char *meta[] = {"seed", seed_s, "model", o->model};
        dg_st_entry e = {"latents", DG_F32, 5, s5, lat};
        return dg_safetensors_save(o->output, &e, 1, meta, 2);
    }
    const dg_model_info *info = dg_pipeline_info(p);
    int F = 1 + info->temporal_factor * ((int)shape[1] - 1);
    int H = (int)shape[2] * info->spatial_factor, W = (int)shape[3] * info->spatial_factor;
    size_t px = (size_t)F * H * W;
    float *frames = malloc(px * 3 * sizeof(float));
    uint8_t *rgb = malloc(px * 3);
    char *meta = infotext(o, seed);
    int rc = DG_ERR;
    if (!frames || !rgb || !meta) {
        dg_error("out of memory converting %d frames of %dx%d", F, W, H);
        goto done;
    }
    double t0 = cli_now_s();
    if (dg_pipeline_decode(p, lat, shape, o->vae_tile, frames) || dg_frames_from_float(rgb, frames, 3, F, H, W))
        goto done;
    if (info->has_vae) fprintf(stderr, "vae decode: %.2f s\n", cli_now_s() - t0);
    if (o->kind == OUT_MP4) {
        rc = dg_mp4_write(o->output, rgb, F, W, H, o->fps);
    } else if (!o->frame_pattern) {
        rc = dg_png_write(o->output, rgb, W, H, meta); /* one frame: apply_defaults refused more */
    } else {
        rc = DG_OK;
        for (int f = 0; f < F && rc == DG_OK; f++) {
            char path[4096];
            rc = frame_path(path, sizeof path, o->output, f);
            if (rc == DG_OK) rc = dg_png_write(path, rgb + (size_t)f * H * W * 3, W, H, meta);
        }
    }
done:
    free(meta), free(rgb), free(frames);
    return rc;
}

int cmd_generate(int argc, char **argv) {
    gen_opts o;
    int pr = parse(argc, argv, &o);
    if (pr) return pr > 0 ? 0 : 2;
    if (o.frame_pattern) {
        char first[4096];
        if (frame_path(first, sizeof first, o.output, 0) || check_writable(first)) goto fail;
    } else if (check_writable(o.output)) {
        goto fail;
    }
    double t0 = cli_now_s();
    dg_pipeline *p;
    if (dg_pipeline_open(&p, o.model, o.device, o.threads)) goto fail;
    const dg_model_info *info = dg_pipeline_info(p);
    if (apply_defaults(&o, &info->defaults)) {
        dg_pipeline_close(p);
        return 2;
    }
    uint64_t seed = o.seed < 0 ? dg_rng_random_seed() : (uint64_t)o.seed;
    dg_gen_params g = {.width = o.width, .height = o.height, .frames = o.frames, .steps = o.steps,
                       .cfg_scale = (float)o.cfg, .flow_shift = o.shift, .sampler = (dg_sample_method)o.sampler,
                       .seed = seed};
    int64_t shape[4];
    float *ctx = NULL, *neg = NULL, *lat = NULL;
    int rc = 1;
    const char *configs = getenv("DITGEN_CONFIG_DIR") ? getenv("DITGEN_CONFIG_DIR") : DG_CONFIG_DIR;
    if (dg_pipeline_latent_shape(p, &g, shape) || dg_pipeline_set_attention(p, o.attention, configs)) goto out;
    if (!info->pixel_space && !info->has_vae && o.kind != OUT_LATENTS) {
        dg_error("%s: the model folder has no vae/ to decode latents; write .safetensors latents instead", o.output);
        goto out;
    }
    if (cli_text_conditioning(p, o.prompt, o.negative, o.context, o.cfg > 1.0, &ctx, &g.context_len, &neg,
                              &g.negative_len))
        goto out;
    if (o.prompt && !o.keep_text_encoder) dg_pipeline_release_text_encoder(p);
    g.context = ctx;
    g.negative = neg;
    fprintf(stderr, "seed: %llu\n", (unsigned long long)seed);
    fprintf(stderr, "model: %s (%d layers, dim %d) loaded in %.2f s\n", o.model, info->num_layers, info->dim,
            cli_now_s() - t0);
    size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
    lat = malloc(n * sizeof(float));
    if (!lat) {
        dg_error("out of memory for %zu latents", n);
        goto out;
    }
    fprintf(stderr, "generating %dx%d, %d frame(s), latent %lldx%lldx%lldx%lld, %d steps (%s, cfg %g, shift %g)\n",
            o.width, o.height, o.frames, (long long)shape[0], (long long)shape[1], (long long)shape[2],
            (long long)shape[3], o.steps, o.sampler == (int)DG_SAMPLE_EULER ? "euler" : "unipc", o.cfg, o.shift);
    progress_state ps = {cli_now_s(), 0};
    dg_gen_timing tm;
    if (dg_pipeline_generate(p, &g, lat, on_progress, &ps, &tm)) goto out;
    fprintf(stderr, "denoise: %.2f s (transformer %.2f s, of which self-attention %.2f s)\n", tm.denoise_s,
            tm.model_s, tm.attention_s);
    double w0 = cli_now_s();
    if (write_output(&o, p, shape, lat, seed)) goto out;
    char first[4096], last[4096];
    if (o.frame_pattern && !frame_path(first, sizeof first, o.output, 0) &&
        !frame_path(last, sizeof last, o.output, o.frames - 1))
        fprintf(stderr, "wrote %s .. %s (%d frames) in %.2f s\n", first, last, o.frames, cli_now_s() - w0);
    else
        fprintf(stderr, "wrote %s in %.2f s\n", o.output, cli_now_s() - w0);
    rc = 0;
    goto out_quiet;
out:
    fprintf(stderr, "ditgen: %s\n", dg_last_error());
out_quiet:
    free(ctx), free(neg), free(lat);
    dg_pipeline_close(p);
    return rc;
fail:
    fprintf(stderr, "ditgen: %s\n", dg_last_error());
    return 1;
}
