/* ditgen decode: a latents file (generate -o x.safetensors) -> PNG frames or MP4, with the model,
 * size, frame rate and parameters its metadata records. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/gen_meta.h"
#include "cli/gen_output.h"
#include "cli/param_flags.h"
#include "cli/timing.h"
#include "core/error.h"
#include "ditgen.h"
#include "io/mp4.h"
#include "io/safetensors.h"
#include "io/safetensors_meta.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen decode LATENTS.safetensors [-m MODEL] -o OUT.png|OUT_%%03d.png|OUT.mp4\n"
            "\n"
            "Decodes the final latents that 'ditgen generate -o LATENTS.safetensors' wrote, as generate\n"
            "would have: the file records the model, the size, the frame rate and the parameters,\n"
            "which the output carries as its own metadata. A latents file that does not fit the\n"
            "model's VAE (channels, size) is refused.\n"
            "\n"
            "  -m, --model DIR        the model folder (default: the one the file records)\n"
            "  -o, --output PATH      .png (one frame, or a %%03d pattern for one file per frame) or .mp4\n"
            "      --fps N            frame rate of .mp4 output (default: the file's, else the model's)\n"
            "      --vae-tile N       decode in spatial tiles of N latent cells (default: the file's, else 0)\n"
            "      --no-metadata      write no parameters into the output\n"
            "      --device D         cpu (default) or cuda[:N]\n"
            "  -t, --threads N        CPU threads (default: all cores)\n"
            "  -h, --help             this help\n");
}

typedef struct decode_args {
    const char *latents, *model, *output, *device;
    int fps, vae_tile, threads, no_metadata, frame_pattern;
    gen_out_kind kind;
} decode_args;

static int parse(int argc, char **argv, decode_args *a) {
    static const struct option longs[] = {{"model", required_argument, 0, 'm'},   {"output", required_argument, 0, 'o'},
                                          {"fps", required_argument, 0, 1},       {"vae-tile", required_argument, 0, 2},
                                          {"no-metadata", no_argument, 0, 3},     {"device", required_argument, 0, 4},
                                          {"threads", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    *a = (decode_args){.fps = -1, .vae_tile = -1};
    int c;
    int64_t iv;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":m:o:t:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'o': a->output = optarg; break;
        case 1: if (cli_parse_int("--fps", optarg, 1, 240, &iv)) return -1; a->fps = (int)iv; break;
        case 2: if (cli_parse_int("--vae-tile", optarg, 0, 4096, &iv)) return -1; a->vae_tile = (int)iv; break;
        case 3: a->no_metadata = 1; break;
        case 4: a->device = optarg; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &iv)) return -1; a->threads = (int)iv; break;
        case 'h': usage(stdout); return 1;
        case ':': cli_error("%s needs a value", argv[optind - 1]); return -1;
        default: cli_error("unknown option '%s' (see ditgen decode --help)", cli_refused_option(argv)); return -1;
        }
    }
    if (optind >= argc || optind + 1 < argc) {
        cli_error(optind >= argc ? "give a LATENTS.safetensors file" : "unexpected argument '%s'", argv[argc - 1]);
        return -1;
    }
    a->latents = argv[optind];
    if (!a->output) {
        cli_error("give -o OUT.png or -o OUT.mp4");
        return -1;
    }
    if (cli_ends_with(a->output, ".png")) {
        a->kind = GEN_OUT_PNG;
        if ((a->frame_pattern = cli_frame_pattern("--output", a->output)) < 0) return -1;
    } else if (cli_ends_with(a->output, ".mp4")) {
        a->kind = GEN_OUT_MP4;
        if (!dg_mp4_available()) {
            cli_error("--output '%s': this ditgen was built without FFmpeg; use PNG frames (out_%%03d.png)", a->output);
            return -1;
        }
    } else {
        cli_error("--output '%s' must end in .png or .mp4", a->output);
        return -1;
    }
    return 0;
}

/* An integer parameter of the recorded text, or fallback. */
static int recorded_int(const dg_infotext *t, const char *key, int fallback) {
    const char *v = t ? dg_infotext_get(t, key) : NULL;
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    return v && *v && !*end && n >= 0 && n <= 100000 ? (int)n : fallback;
}

/* The latents [1, C, F, h, w] must be what the model's VAE takes: its channels, and a size the
 * model could have generated (the shape it gives for the matching pixel size). */
static int check_shape(dg_pipeline *p, const decode_args *a, const dg_st_tensor *t, int64_t shape[4]) {
    const dg_model_info *info = dg_pipeline_info(p);
    const char *model = a->model;
    DG_CHECK(t->dtype == DG_F32 && t->ndim == 5 && t->shape[0] == 1,
             "%s: 'latents' must be f32 [1, C, F, h, w], as generate writes them", a->latents);
    int64_t C = t->shape[1], F = t->shape[2], h = t->shape[3], w = t->shape[4];
    int64_t want[4] = {-1, -1, -1, -1};
    dg_gen_params g = {.width = (int)(w * info->spatial_factor), .height = (int)(h * info->spatial_factor),
                       .frames = (int)(1 + info->temporal_factor * (F - 1))};
    int fits = F >= 1 && F <= DG_MAX_FRAMES && h >= 1 && w >= 1 && h * info->spatial_factor <= DG_MAX_SIDE &&
               w * info->spatial_factor <= DG_MAX_SIDE && dg_pipeline_latent_shape(p, &g, want) == DG_OK;
    dg_error_clear();
    if (!fits || want[0] != C || want[1] != F || want[2] != h || want[3] != w)
        return dg_error("%s: latents [1, %lld, %lld, %lld, %lld] do not fit the %s of %s, which takes [1, %d, F, h, w] "
                        "latents of a size it generates (was the file made with another model?)",
                        a->latents, (long long)C, (long long)F, (long long)h, (long long)w,
                        info->has_vae ? "VAE" : "pixel-space output", model, info->out_channels);
    memcpy(shape, want, sizeof want);
    return DG_OK;
}

static int run(decode_args *a, const dg_infotext *recorded, const char *text, char **model_owned) {
    if (!a->model) {
        DG_TRY(dg_safetensors_metadata(a->latents, "model", model_owned));
        DG_CHECK(*model_owned, "%s records no model: give -m MODEL", a->latents);
        a->model = *model_owned;
    }
    dg_pipeline *p;
    DG_TRY(dg_pipeline_open(&p, a->model, a->device, a->threads));
    const dg_model_info *info = dg_pipeline_info(p);
    if (a->fps < 0) a->fps = recorded_int(recorded, "FPS", info->defaults.fps);
    if (a->vae_tile < 0) a->vae_tile = recorded_int(recorded, "VAE tile", 0);
    dg_safetensors st = {0};
    int64_t shape[4];
    int rc = dg_safetensors_open(&st, a->latents);
    const dg_st_tensor *t = rc ? NULL : dg_safetensors_find(&st, "latents");
    if (rc == DG_OK && !t) rc = dg_error("%s has no 'latents' tensor (write one with generate -o x.safetensors)", a->latents);
    if (rc == DG_OK) rc = check_shape(p, a, t, shape);
    if (rc == DG_OK && a->kind == GEN_OUT_PNG && !a->frame_pattern && shape[1] > 1)
        rc = dg_error("%s holds %lld latent frames: write .mp4 or a pattern like out_%%03d.png", a->latents,
                      (long long)shape[1]);
    if (rc == DG_OK) {
        double w0 = cli_now_s();
        rc = gen_output_frames(p, t->data, shape, a->vae_tile, a->kind, a->frame_pattern, a->output, a->fps,
                               a->no_metadata ? NULL : text, 0);
        if (rc == DG_OK) fprintf(stderr, "wrote %s in %.2f s\n", a->output, cli_now_s() - w0);
    }
    dg_safetensors_close(&st);
    dg_pipeline_close(p);
    return rc;
}

int cmd_decode(int argc, char **argv) {
    cli_error_context("decode");
    decode_args a;
    int pr = parse(argc, argv, &a);
    if (pr) return pr > 0 ? 0 : 2;
    char *text = NULL, *model = NULL;
    dg_infotext t, *recorded = NULL;
    int rc = dg_safetensors_metadata(a.latents, "parameters", &text);
    if (rc == DG_OK && text) {
        rc = dg_infotext_parse(a.latents, text, &t);
        if (rc == DG_OK) recorded = &t;
    }
    if (rc == DG_OK) rc = run(&a, recorded, text, &model);
    if (rc) cli_library_error();
    if (recorded) dg_infotext_free(recorded);
    free(text), free(model);
    return rc ? 1 : 0;
}
