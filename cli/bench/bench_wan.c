/* ditgen bench wan: time one transformer forward (one denoising step without
 * CFG) of a Wan checkpoint at a given video size, warm-up then median, and the
 * memory it took (peak resident set on the CPU; device memory in use after the
 * runs minus before loading on the GPU: weights, activations, cuBLAS workspace). */
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/video_size.h"
#include "cli/args.h"
#include "cli/bench/bench_commands.h"
#include "cli/bench/bench_opts.h"
#include "cli/param_flags.h"
#include "cli/timing.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/rng.h"
#include "dit/wan.h"
#include "ditgen.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen bench wan -m TRANSFORMER_DIR [options]\n"
            "\n"
            "Times one forward of the transformer (= one denoising step without CFG) on random\n"
            "latents and text embeddings: warm-up runs, then the median of the repetitions.\n"
            "\n"
            "  -m, --model DIR     transformer folder (config.json + safetensors)\n"
            "  -W, --width N       video width in pixels (default 832)\n"
            "  -H, --height N      video height in pixels (default 480)\n"
            "      --frames N      frames, 4k+1 (default 9); latents are the Wan VAE's, /4 in time, /8 in space\n"
            "      --text-len N    text slots (default 512)\n"
            "      --reps N        timed repetitions (default 3)\n"
            "      --warmup N      untimed runs first (default 1)\n"
            "  -t, --threads N     CPU threads (default: all cores)\n"
            "      --device D      cpu (default) or cuda[:N]\n"
            "      --dtype T       CPU: f32 or bf16, as generate's --dtype (bf16 rounds an f32 or f16 model's\n"
            "                      block matrices once, before the runs); default: the weights' type where\n"
            "                      the CPU has AVX512-BF16\n"
            "      --format F      text (default) or json\n");
}

int bench_wan(int argc, char **argv) {
    static const char *const formats[] = {"text", "json", NULL}, *const dtypes[] = {"default", "f32", "bf16", NULL};
    cli_error_context("bench wan");
    const char *model = NULL, *device = "cpu";
    int json = 0, dtype = 0;
    int64_t W = 832, H = 480, frames = 9, L = DG_WAN_TEXT_LEN, reps = 3, warmup = 1, threads = 0;
    const bench_opt opts[] = {
        BENCH_STRING("model", 'm', &model, .required = 1),
        BENCH_INT64("width", 'W', &W, 1, DG_MAX_SIDE),
        BENCH_INT64("height", 'H', &H, 1, DG_MAX_SIDE),
        BENCH_INT64("frames", 0, &frames, 1, DG_MAX_FRAMES),
        BENCH_INT64("text-len", 0, &L, 1, 4096),
        BENCH_INT64("reps", 0, &reps, 1, 1000),
        BENCH_INT64("warmup", 0, &warmup, 0, 1000),
        BENCH_INT64("threads", 't', &threads, 1, 1024),
        BENCH_CHOICE("format", 0, &json, formats),
        BENCH_STRING("device", 0, &device),
        BENCH_CHOICE("dtype", 0, &dtype, dtypes),
        BENCH_END};
    int pr = bench_opts_parse(argc, argv, opts, usage);
    if (pr) return pr > 0 ? 0 : 2;
    dg_backend be;
    dg_wan_model m;
    size_t used0 = 0, used1 = 0, total = 0;
    if (dg_backend_init_device(&be, device, (int)threads)) {
        cli_library_error();
        return 1;
    }
    int gpu = be.kind == DG_BACKEND_CUDA;
    if ((gpu && dg_backend_cuda_memory(&be, &used0, &total)) || dg_wan_load(&m, &be, model)) {
        cli_library_error();
        dg_backend_free(&be);
        return 1;
    }
    if ((dtype == 2 && dg_wan_round_blocks_bf16(&m)) ||
        (dtype && dg_backend_cpu_set_dtype(&be, dtype == 2 ? DG_BF16 : DG_F32))) {
        cli_library_error();
        dg_wan_free(&m);
        dg_backend_free(&be);
        return 1;
    }
    /* latents as the Wan VAE would give them, checked as the pipeline checks a size */
    dg_video_grid grid = {.channels = m.cfg.in_channels, .temporal_factor = DG_WAN_VAE_TEMPORAL_FACTOR,
                          .spatial_factor = DG_WAN_VAE_SPATIAL_FACTOR, .rope_max_seq_len = m.cfg.rope_max_seq_len};
    memcpy(grid.patch, m.cfg.patch, sizeof grid.patch);
    int64_t xs[4], cs[2] = {L, m.cfg.text_dim};
    if (dg_video_latent_shape(&grid, (int)W, (int)H, (int)frames, xs)) {
        cli_library_error();
        dg_wan_free(&m);
        dg_backend_free(&be);
        return 2;
    }
    int F = (int)xs[1], h = (int)xs[2], w = (int)xs[3];
    dg_tensor x = {0}, ctx = {0}, out = {0};
    dg_wan_sized sized = {0};
    double *times = calloc((size_t)reps, sizeof(double));
    int rc = 1;
    if (!times || dg_tensor_alloc(&x, &be, DG_F32, 4, xs) || dg_tensor_alloc(&out, &be, DG_F32, 4, xs) ||
        dg_tensor_alloc(&ctx, &be, DG_F32, 2, cs) ||
        dg_wan_sized_init(&sized, &m, F, h, w, (int)L, NULL, 0, NULL)) {
        cli_error("%s", times ? dg_last_error() : "out of memory");
        goto done;
    }
    dg_rng rng;
    dg_rng_init(&rng, 0);
    float *hx = malloc((size_t)dg_tensor_numel(&x) * sizeof(float)),
          *hc = malloc((size_t)dg_tensor_numel(&ctx) * sizeof(float));
    if (hx && hc) {
        dg_randn(&rng, hx, (size_t)dg_tensor_numel(&x));
        dg_randn(&rng, hc, (size_t)dg_tensor_numel(&ctx));
    }
    if (!hx || !hc || dg_tensor_upload(&x, hx) || dg_tensor_upload(&ctx, hc)) {
        cli_error("%s", hx && hc ? dg_last_error() : "out of memory");
        free(hx), free(hc);
        goto done;
    }
    free(hx), free(hc);
    for (int64_t i = 0; i < warmup + reps; i++) {
        double t0 = cli_now_s();
        if (dg_wan_forward(&m, &sized, &x, 500.0f, &ctx, &out, NULL, NULL) || dg_backend_sync(&be)) {
            cli_library_error();
            goto done;
        }
        if (i >= warmup) times[i - warmup] = cli_now_s() - t0;
    }
    if (gpu && dg_backend_cuda_memory(&be, &used1, &total)) {
        cli_library_error();
        goto done;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double mem_mib = gpu ? (double)(used1 - used0) / 1048576.0 : (double)ru.ru_maxrss / 1024.0;
    double med = cli_median(times, reps);
    long tokens = (long)F * (h / m.cfg.patch[1]) * (w / m.cfg.patch[2]);
    if (json)
        printf("{\"bench\": \"wan\", \"width\": %lld, \"height\": %lld, \"frames\": %lld, \"tokens\": %ld, "
               "\"layers\": %d, \"dim\": %d, \"device\": \"%s\", \"threads\": %d, \"reps\": %lld, "
               "\"weights\": \"%s\", \"median_s\": %.6f, \"min_s\": %.6f, \"%s\": %.1f}\n",
               (long long)W, (long long)H, (long long)frames, tokens, m.cfg.num_layers, m.cfg.dim, device, be.threads,
               (long long)reps, dg_dtype_name(m.blocks[0].ffn1_w.dtype), med, times[0],
               gpu ? "device_mib" : "peak_rss_mib", mem_mib);
    else
        printf("wan forward %lldx%lldx%lld (%ld tokens, %d layers, dim %d, %s weights, %s, %d threads): median %.3f "
               "s, min %.3f s over %lld reps; %s %.0f MiB\n",
               (long long)W, (long long)H, (long long)frames, tokens, m.cfg.num_layers, m.cfg.dim,
               dg_dtype_name(m.blocks[0].ffn1_w.dtype), device, be.threads, med, times[0], (long long)reps,
               gpu ? "device memory" : "peak RSS", mem_mib);
    rc = 0;
done:
    free(times);
    dg_wan_sized_free(&sized);
    dg_tensor_free(&x), dg_tensor_free(&out), dg_tensor_free(&ctx);
    dg_wan_free(&m);
    dg_backend_free(&be);
    return rc;
}
