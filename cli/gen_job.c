#include "cli/gen_job.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/gen_meta.h"
#include "cli/gen_output.h"
#include "cli/param_flags.h"
#include "cli/preview.h"
#include "cli/signals.h"
#include "cli/text_conditioning.h"
#include "cli/timing.h"
#include "core/error.h"
#include "core/rng.h"
#include "io/atomic_file.h"
#include "io/mp4.h"
#include "sampler/scheduler.h"

static int parse_output(gen_job *j) {
    if (cli_ends_with(j->output, ".png")) {
        j->kind = GEN_OUT_PNG;
        if ((j->frame_pattern = cli_frame_pattern("--output", j->output)) < 0) return -1;
    } else if (cli_ends_with(j->output, ".mp4")) {
        j->kind = GEN_OUT_MP4;
    } else if (cli_ends_with(j->output, ".safetensors")) {
        j->kind = GEN_OUT_LATENTS;
    } else {
        cli_error("--output '%s' must end in .png, .mp4 or .safetensors", j->output);
        return -1;
    }
    if (j->kind == GEN_OUT_MP4 && !dg_mp4_available()) {
        cli_error("--output '%s': this ditgen was built without FFmpeg; use PNG frames (out_%%03d.png)", j->output);
        return -1;
    }
    return 0;
}

/* A .png pattern numbers the frames of a clip, but the generations of -b when there is one frame. */
static void settle_pattern(gen_job *j) {
    if (j->frame_pattern && j->frames == 1) {
        j->frame_pattern = 0;
        j->batch_pattern = 1;
    }
}

/* Without -o: output.png for one frame, output.mp4 for a clip (PNG frames without FFmpeg). */
static void default_output(gen_job *j) {
    j->output = j->frames == 1 ? "output.png" : dg_mp4_available() ? "output.mp4" : "output_%03d.png";
    j->kind = cli_ends_with(j->output, ".mp4") ? GEN_OUT_MP4 : GEN_OUT_PNG;
    j->frame_pattern = strchr(j->output, '%') != NULL;
}

/* "3:5,7:*" -> (layer, head) pairs, head -1 for '*'; checked against the model later. */
static int parse_heads(gen_job *j, const char *arg) {
    int n = 1;
    for (const char *c = arg; *c; c++) n += *c == ',';
    free(j->pag_heads);
    j->pag_heads = calloc((size_t)n, sizeof *j->pag_heads);
    if (!j->pag_heads) {
        cli_error("out of memory for --pag-heads");
        return -1;
    }
    const char *c = arg;
    for (int i = 0; i < n; i++) {
        char *end;
        long layer = isdigit((unsigned char)*c) ? strtol(c, &end, 10) : -1, head = -1;
        int ok = layer >= 0 && layer < 100000 && *end == ':';
        if (ok && end[1] == '*') {
            end += 2;
        } else if (ok) {
            c = end + 1;
            head = isdigit((unsigned char)*c) ? strtol(c, &end, 10) : -1;
            ok = head >= 0 && head < 100000;
        }
        if (!ok || (*end != ',' && *end != 0)) {
            cli_error("--pag-heads '%s': expected LAYER:HEAD pairs counted from 0, '*' for a whole layer "
                      "(like 3:5,7:*)", arg);
            return -1;
        }
        j->pag_heads[i] = (dg_head){(int)layer, (int)head};
        c = end + 1;
    }
    j->n_pag_heads = n;
    j->pag_heads_arg = arg;
    return 0;
}

void gen_job_free(gen_job *j) {
    free(j->pag_heads);
    j->pag_heads = NULL;
}

int gen_job_parse(int argc, char **argv, gen_job *j, void (*usage)(FILE *)) {
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
        {"batch-count", required_argument, 0, 'b'}, {"pag-scale", required_argument, 0, 12},
        {"pag-heads", required_argument, 0, 13}, {"pag-u", required_argument, 0, 14},
        {"parallel", required_argument, 0, 15}, {"clip-halo", required_argument, 0, 16},
        {"clip-global", required_argument, 0, 17}, {"clip-phase", required_argument, 0, 18},
        {"clip-bias", required_argument, 0, 19}, {"clip-rope", required_argument, 0, 20},
        {"preview", required_argument, 0, 21}, {"preview-every", required_argument, 0, 22},
        {"no-metadata", no_argument, 0, 23}, {"dtype", required_argument, 0, 24},
        {"cache", required_argument, 0, 25},
        {"parallel-attn", required_argument, 0, 40}, {"parallel-blocking", no_argument, 0, 41},
        {"vae-halo", required_argument, 0, 42}, {0, 0, 0, 0}};
    *j = (gen_job){.output = NULL, .width = -1, .height = -1, .frames = -1, .steps = -1,
                   .fps = -1, .cfg = -1, .shift = -1, .seed = 42, .count = 1, .pag_u = 1.0,
                   /* Video-Infinity's schedule; 2 + 1 frames of context per side and rank for Wan's 21 */
                   .parallel = {.halo = 2, .global = 1, .phase_t = 800.0f, .phase_bias = 10.0f}};
    opterr = 0;
    optind = 1;
    int c, pag_u_given = 0;
    int64_t iv;
    double dv;
    while ((c = getopt_long(argc, argv, ":m:W:H:s:o:t:p:n:b:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': j->model = optarg; break;
        case 'o': j->output = optarg; break;
        case 21: j->preview = optarg; break;
        case 22:
            if (cli_parse_int("--preview-every", optarg, 1, DG_SCHEDULER_MAX_STEPS, &iv)) return -1;
            j->preview_every = (int)iv;
            break;
        case 6: j->context = optarg; break;
        case 'p': j->prompt = optarg; break;
        case 'n': j->negative = optarg; break;
        case 8: j->keep_text_encoder = 1; break;
        case 23: j->no_metadata = 1; break;
        case 9: j->attention = optarg; break;
        case 25: j->cache = optarg; break;
        case 11: j->device = optarg; break;
        case 24: j->dtype = optarg; break; /* checked by dg_pipeline_set_dtype */
        case 15:
            if (strcmp(optarg, "exact") && strcmp(optarg, "clip") && strcmp(optarg, "none")) {
                cli_error("--parallel must be exact, clip or none, got '%s'", optarg);
                return -1;
            }
            j->parallel.mode = optarg;
            break;
        case 16: if (cli_parse_int("--clip-halo", optarg, 0, 1024, &iv)) return -1; j->parallel.halo = (int)iv; break;
        case 17: if (cli_parse_int("--clip-global", optarg, 0, 1024, &iv)) return -1; j->parallel.global = (int)iv; break;
        case 18: if (cli_parse_double("--clip-phase", optarg, -1e6, 1e6, &dv)) return -1; j->parallel.phase_t = (float)dv; break;
        case 19: if (cli_parse_double("--clip-bias", optarg, -1e4, 1e4, &dv)) return -1; j->parallel.phase_bias = (float)dv; break;
        case 20:
            if (strcmp(optarg, "true") && strcmp(optarg, "clamped") && strcmp(optarg, "none")) {
                cli_error("--clip-rope must be true, clamped or none, got '%s'", optarg);
                return -1;
            }
            j->parallel.global_rope = optarg;
            break;
        case 40:
            if (strcmp(optarg, "auto") && strcmp(optarg, "ulysses") && strcmp(optarg, "allgather")) {
                cli_error("--parallel-attn must be auto, ulysses or allgather, got '%s'", optarg);
                return -1;
            }
            j->parallel.attention = optarg;
            break;
        case 41: j->parallel.blocking = 1; break;
        case 42: if (cli_parse_int("--vae-halo", optarg, 0, 1024, &iv)) return -1; j->parallel.vae_halo = (int)iv; break;
        case 10: if (cli_parse_int("--vae-tile", optarg, 0, 4096, &iv)) return -1; j->vae_tile = (int)iv; break;
        case 'W': if (cli_parse_int("--width", optarg, 1, DG_MAX_SIDE, &iv)) return -1; j->width = (int)iv; break;
        case 'H': if (cli_parse_int("--height", optarg, 1, DG_MAX_SIDE, &iv)) return -1; j->height = (int)iv; break;
        case 1: if (cli_parse_int("--frames", optarg, 1, DG_MAX_FRAMES, &iv)) return -1; j->frames = (int)iv; break;
        case 2:
            if (cli_parse_int("--steps", optarg, 1, DG_SCHEDULER_MAX_STEPS, &iv)) return -1;
            j->steps = (int)iv;
            break;
        case 7: if (cli_parse_int("--fps", optarg, 1, 240, &iv)) return -1; j->fps = (int)iv; break;
        case 't': if (cli_parse_int("--threads", optarg, 0, 1024, &iv)) return -1; j->threads = (int)iv; break;
        case 'b': if (cli_parse_int("--batch-count", optarg, 1, 10000, &iv)) return -1; j->count = (int)iv; break;
        case 's': if (cli_parse_int("--seed", optarg, INT64_MIN, INT64_MAX, &j->seed)) return -1; break;
        case 3: if (cli_parse_double("--cfg-scale", optarg, 0.0, 100.0, &j->cfg)) return -1; break;
        case 4:
            if (cli_parse_double("--flow-shift", optarg, DG_FLOW_SHIFT_MIN, DG_FLOW_SHIFT_MAX, &j->shift)) return -1;
            break;
        case 12: if (cli_parse_double("--pag-scale", optarg, 0.0, 100.0, &j->pag_scale)) return -1; break;
        case 13: if (parse_heads(j, optarg)) return -1; break;
        case 14: if (cli_parse_double("--pag-u", optarg, 1e-6, 1.0, &j->pag_u)) return -1; pag_u_given = 1; break;
        case 5:
            if (dg_sample_method_parse(optarg, &j->sampler)) {
                cli_library_error();
                return -1;
            }
            j->sampler_given = 1;
            break;
        case 'h':
            if (!usage) goto unknown;
            usage(stdout);
            return 1;
        case ':': cli_error("%s needs a value", argv[optind - 1]); return -1;
        default:
        unknown:
            cli_error("unknown option '%s' (see ditgen generate --help)", cli_refused_option(argv));
            return -1;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (!j->model) j->model = DG_DEFAULT_MODEL;
    if (!j->context == !j->prompt) {
        cli_error("give exactly one of -p PROMPT and --context FILE.safetensors");
        return -1;
    }
    if (j->negative && !j->prompt) {
        cli_error("-n needs -p (with --context the negative comes from the file)");
        return -1;
    }
    if ((j->pag_scale > 0) != (j->pag_heads != NULL) || (pag_u_given && !j->pag_heads)) {
        cli_error(j->pag_scale > 0 ? "--pag-scale needs --pag-heads (LAYER:HEAD,...)"
                                   : "--pag-heads and --pag-u need --pag-scale > 0");
        return -1;
    }
    if (j->seed >= 0 && j->count - 1 > INT64_MAX - j->seed) {
        cli_error("--seed %lld with --batch-count %d runs past the largest seed", (long long)j->seed, j->count);
        return -1;
    }
    if (j->preview && !cli_ends_with(j->preview, ".png")) {
        cli_error("--preview '%s' must end in .png", j->preview);
        return -1;
    }
    if (j->preview_every && !j->preview) {
        cli_error("--preview-every needs --preview FILE.png");
        return -1;
    }
    if (!j->output) return 0; /* chosen by gen_job_resolve once the frame count is known */
    if (parse_output(j)) return -1;
    /* .png means images whatever the model's default frame count; per-frame files need --frames */
    if (j->kind == GEN_OUT_PNG && j->frames < 0) j->frames = 1;
    settle_pattern(j);
    return 0;
}

int gen_job_output_path(const gen_job *j, int i, char *buf, size_t size) {
    int n;
    if (j->batch_pattern) {
        n = snprintf(buf, size, j->output, i); /* passed cli_frame_pattern: one %d */
    } else if (j->count == 1) {
        n = snprintf(buf, size, "%s", j->output);
    } else {
        const char *dot = strrchr(j->output, '.'); /* parse_output saw one of the three extensions */
        n = snprintf(buf, size, "%.*s_%d%s", (int)(dot - j->output), j->output, i, dot);
    }
    if (n < 0 || (size_t)n >= size) return dg_error("--output '%s': the path is too long", j->output);
    return DG_OK;
}

int gen_job_files(const gen_job *j) { return j->frame_pattern ? j->frames : 1; }

int gen_job_file(const gen_job *j, int i, int f, char *buf, size_t size) {
    char out[4096];
    DG_TRY(gen_job_output_path(j, i, j->frame_pattern ? out : buf, j->frame_pattern ? sizeof out : size));
    return j->frame_pattern ? gen_output_frame_path(buf, size, out, f) : DG_OK;
}

/* mkdir -p of path's folder: a missing output folder is created, as the user evidently wants it. */
static int make_folder(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return DG_OK;
    DG_CHECK((size_t)(slash - path) < sizeof dir, "'%s': path too long", path);
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = 0;
    for (char *c = dir + 1;; c++) {
        if (*c && *c != '/') continue;
        char end = *c;
        *c = 0;
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return dg_error("cannot write '%s': cannot create the folder '%s': %s", path, dir, strerror(errno));
        if (!end) return DG_OK;
        *c = end;
    }
}

static int check_writable(const char *path) {
    dg_atomic_file f;
    DG_TRY(make_folder(path));
    DG_TRY(dg_atomic_open(&f, path));
    dg_atomic_abort(&f);
    return DG_OK;
}

int gen_job_check_writable(const gen_job *j) {
    if (j->preview) DG_TRY(check_writable(j->preview));
    if (!j->output) return DG_OK; /* chosen from the model's default frame count */
    for (int i = 0; i < j->count; i++) {
        char first[4096];
        DG_TRY(gen_job_file(j, i, 0, first, sizeof first));
        DG_TRY(check_writable(first));
    }
    return DG_OK;
}

/* The job as pipeline parameters; text embeddings are added by the caller. */
static dg_gen_params job_params(const gen_job *j) {
    return (dg_gen_params){.width = j->width, .height = j->height, .frames = j->frames, .steps = j->steps,
                           .cfg_scale = (float)j->cfg, .flow_shift = j->shift,
                           .sampler = j->sampler, .seed = j->base_seed,
                           .pag_scale = (float)j->pag_scale, .pag_u = (float)j->pag_u, .pag_heads = j->pag_heads,
                           .n_pag_heads = j->n_pag_heads, .cancel = &cli_interrupted,
                           .vae_tile = j->kind == GEN_OUT_LATENTS ? -1 : j->vae_tile};
}

void gen_job_defaults(gen_job *j, const dg_model_defaults *d) {
    if (j->width < 0) j->width = d->width;
    if (j->height < 0) j->height = d->height;
    if (j->frames < 0) j->frames = d->frames;
    if (j->steps < 0) j->steps = d->steps;
    if (j->fps < 0) j->fps = d->fps;
    if (j->cfg < 0) j->cfg = d->cfg_scale;
    if (j->shift < 0) j->shift = d->flow_shift;
    if (!j->sampler_given) j->sampler = d->sampler;
    if (!j->negative && j->prompt) j->negative = d->negative_prompt;
}

int gen_job_resolve(gen_job *j, dg_pipeline *p, const char *configs_dir) {
    const dg_model_info *info = dg_pipeline_info(p);
    /* a prompt to a transformer folder: its missing text encoder is the cause, not the defaults' size */
    if (j->prompt) DG_TRY(dg_pipeline_can_encode(p));
    gen_job_defaults(j, &info->defaults);
    if (!j->output) default_output(j);
    settle_pattern(j);
    j->base_seed = j->seed < 0 ? dg_rng_random_seed() : (uint64_t)j->seed;
    DG_CHECK(j->kind != GEN_OUT_PNG || j->frames == 1 || j->frame_pattern,
             "%d frames into one .png: use .mp4 or a pattern like out_%%03d.png", j->frames);
    DG_CHECK(info->pixel_space || info->has_vae || j->kind == GEN_OUT_LATENTS,
             "%s: the model folder has no vae/ to decode latents; write .safetensors latents instead", j->output);
    dg_gen_params g = job_params(j);
    DG_TRY(dg_pipeline_latent_shape(p, &g, j->shape));
    DG_TRY(gen_job_check_writable(j)); /* again: the output or its meaning may have been settled here */
    DG_TRY(dg_pipeline_set_attention(p, j->attention, configs_dir));
    DG_TRY(dg_pipeline_set_cache(p, j->cache, configs_dir));
    return dg_pipeline_check(p, &g);
}

int gen_job_text(const gen_job *j, dg_pipeline *p, float **ctx, int *ctx_len, float **neg, int *neg_len) {
    return cli_text_conditioning(p, j->prompt, j->negative, j->context, j->cfg > 1.0, ctx, ctx_len, neg, neg_len);
}

typedef struct progress_state {
    double start;
} progress_state;

/* sd.cpp-style bar: |=====>    | 7/20 - 1.23it/s, ETA 0:11 (s/it once a step exceeds a second) */
static void on_progress(void *user, int step, int steps) {
    progress_state *ps = user;
    double per = (cli_now_s() - ps->start) / step;
    char bar[51], eta[32];
    int fill = step * 50 / steps;
    for (int i = 0; i < 50; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[50] = 0;
    cli_format_duration(per * (steps - step), eta, sizeof eta);
    if (per > 1.0) fprintf(stderr, "\r  |%s| %d/%d - %.2fs/it, ETA %s ", bar, step, steps, per, eta);
    else fprintf(stderr, "\r  |%s| %d/%d - %.2fit/s, ETA %s ", bar, step, steps, 1.0 / per, eta);
    if (step == steps) fputc('\n', stderr);
}

/* rank > 0: only its share of the decode, which parallel generation splits over the ranks; rank 0 writes. */
static int write_output(const gen_job *j, dg_pipeline *p, const char *out, const float *lat, uint64_t seed,
                        int rank) {
    if (rank && j->kind == GEN_OUT_LATENTS) return DG_OK;
    char *meta;
    DG_TRY(gen_meta_text(j, seed, &meta));
    int rc = j->kind == GEN_OUT_LATENTS
                 ? gen_output_latents(out, lat, j->shape, j->model, seed, meta)
                 : gen_output_frames(p, lat, j->shape, j->vae_tile, j->kind, j->frame_pattern, out, j->fps, meta,
                                     rank);
    free(meta);
    return rc;
}

/* Under --parallel every rank generates the same latents; rank 0 reports and writes. */
static int generate_one(const gen_job *j, dg_pipeline *p, dg_gen_params *g, float *lat, int i, int rank) {
    char out[4096];
    DG_TRY(gen_job_output_path(j, i, out, sizeof out));
    g->seed = j->base_seed + (uint64_t)i;
    if (rank) return dg_pipeline_generate(p, g, lat, NULL, NULL, NULL) || write_output(j, p, out, lat, g->seed, rank);
    if (j->count > 1) fprintf(stderr, "[%d/%d] ", i + 1, j->count);
    fprintf(stderr, "seed: %llu\n", (unsigned long long)g->seed);
    progress_state ps = {cli_now_s()};
    dg_gen_timing tm;
    cli_preview pv = {.path = j->preview, .p = p};
    memcpy(pv.shape, j->shape, sizeof pv.shape);
    if (j->preview) g->preview = cli_preview_write, g->preview_user = &pv, g->preview_every = j->preview_every;
    if (dg_pipeline_generate(p, g, lat, on_progress, &ps, &tm) != DG_OK) {
        if (cli_interrupted) fputc('\n', stderr); /* past the progress bar */
        return cli_interrupted ? dg_error_wrap("interrupted by %s, '%s' not written: ", cli_interrupted_name(), out)
                               : DG_ERR;
    }
    fprintf(stderr, "denoise: %.2f s (transformer %.2f s, of which self-attention %.2f s)\n", tm.denoise_s,
            tm.model_s, tm.attention_s);
    if (j->cache && strcmp(j->cache, "none"))
        fprintf(stderr, "cache: %d of %d steps reused (%s)\n", tm.steps_reused, g->steps, j->cache);
    if (j->parallel.mode && strcmp(j->parallel.mode, "none"))
        fprintf(stderr, "communication (rank 0): %.3f s in exchanges, %.3f MB received per step\n", tm.comm_s,
                tm.comm_bytes / 1e6 / g->steps);
    cli_stage_s.denoise += tm.denoise_s;
    double w0 = cli_now_s(), decode0 = cli_stage_s.decode;
    DG_TRY(write_output(j, p, out, lat, g->seed, 0));
    cli_stage_s.write += cli_now_s() - w0 - (cli_stage_s.decode - decode0);
    char first[4096], last[4096];
    if (j->frame_pattern && !gen_output_frame_path(first, sizeof first, out, 0) &&
        !gen_output_frame_path(last, sizeof last, out, j->frames - 1))
        fprintf(stderr, "wrote %s .. %s (%d frames) in %.2f s\n", first, last, j->frames, cli_now_s() - w0);
    else
        fprintf(stderr, "wrote %s in %.2f s\n", out, cli_now_s() - w0);
    return DG_OK;
}

int gen_job_run(const gen_job *j, dg_pipeline *p, const char *configs_dir, const float *ctx, int ctx_len,
                const float *neg, int neg_len) {
    DG_TRY(dg_pipeline_set_attention(p, j->attention, configs_dir));
    DG_TRY(dg_pipeline_set_cache(p, j->cache, configs_dir));
    DG_TRY(dg_pipeline_set_parallel(p, j->parallel.mode ? &j->parallel : NULL));
    int rank, ranks;
    dg_pipeline_rank(p, &rank, &ranks);
    dg_gen_params g = job_params(j);
    g.context = ctx, g.context_len = ctx_len, g.negative = neg, g.negative_len = neg_len;
    const int64_t *s = j->shape;
    size_t n = (size_t)(s[0] * s[1] * s[2] * s[3]);
    float *lat = malloc(n * sizeof(float));
    DG_CHECK(lat, "out of memory for %zu latents", n);
    char pag[64] = "";
    if (j->pag_scale > 0) snprintf(pag, sizeof pag, ", PAG %g on %d head entr%s", j->pag_scale, j->n_pag_heads,
                                   j->n_pag_heads == 1 ? "y" : "ies");
    if (ranks > 1 && rank == 0) fprintf(stderr, "parallel: %s over %d ranks\n", j->parallel.mode, ranks);
    if (rank == 0)
        fprintf(stderr, "generating %dx%d, %d frame(s), latent %lldx%lldx%lldx%lld, %d steps (%s, cfg %g, shift %g%s)\n",
            j->width, j->height, j->frames, (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3],
            j->steps, dg_sample_method_name(j->sampler), j->cfg, j->shift, pag);
    int rc = DG_OK;
    for (int i = 0; i < j->count && rc == DG_OK; i++)
        if (!(j->skip && j->skip[i])) rc = generate_one(j, p, &g, lat, i, rank);
    free(lat);
    return rc;
}
