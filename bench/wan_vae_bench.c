/* Times one Wan VAE decode and reports the process's peak resident memory.
 * Driven by bench/bench_wan_vae.py (which documents the build command):
 *   wan_vae_bench VAE_DIR LATENTS.safetensors THREADS TILE [OUT.f32 [DEVICE]]
 * LATENTS holds "z" [z_dim, F, h, w] (f32, already denormalized); OUT gets
 * the raw f32 frames for a parity check ("-": none); DEVICE as --device
 * (default cpu; on cuda the time includes the latents' upload and the
 * frames' download). Prints one line of key=value. In a CUDA build the peak
 * RSS includes the mapped CUDA libraries (~150 MiB), as ditgen's does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/timing.h"
#include "core/cpu/blas_tune.h"
#include "core/backend.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "vae/wan_vae.h"

/* VmHWM from /proc/self/status, in MiB. */
static double peak_mib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
    if (f) fclose(f);
    return kb / 1024.0;
}

int main(int argc, char **argv) {
    dg_blas_tune_process(argv); /* OpenBLAS kernels suited to this CPU, as ditgen does */
    if (argc < 5) {
        fprintf(stderr, "usage: %s VAE_DIR LATENTS.safetensors THREADS TILE [OUT.f32 [DEVICE]]\n", argv[0]);
        return 2;
    }
    dg_backend be;
    dg_wan_vae v;
    dg_safetensors st;
    if (dg_backend_init_device(&be, argc > 6 ? argv[6] : NULL, atoi(argv[3])) || dg_safetensors_open(&st, argv[2]) ||
        dg_wan_vae_load(&v, &be, argv[1])) {
        fprintf(stderr, "error: %s\n", dg_last_error());
        return 1;
    }
    const dg_st_tensor *z = dg_safetensors_find(&st, "z");
    if (!z || z->ndim != 4 || z->dtype != DG_F32) {
        fprintf(stderr, "error: %s has no f32 tensor 'z' [z_dim, F, h, w]\n", argv[2]);
        return 1;
    }
    const int F = (int)z->shape[1], h = (int)z->shape[2], w = (int)z->shape[3], tile = atoi(argv[4]);
    const size_t n = (size_t)v.cfg.out_channels * (1 + (size_t)v.cfg.scale_t * (F - 1)) * h * v.cfg.scale_s * w *
                     v.cfg.scale_s;
    float *out = malloc(n * sizeof(float));
    double t0 = cli_now_s();
    if (!out || dg_wan_vae_decode(&v, z->data, F, h, w, out, tile)) {
        fprintf(stderr, "error: %s\n", out ? dg_last_error() : "out of memory");
        return 1;
    }
    double dt = cli_now_s() - t0;
    printf("seconds=%.2f peak_mib=%.0f frames=%zu\n", dt, peak_mib(),
           n / ((size_t)v.cfg.out_channels * h * v.cfg.scale_s * w * v.cfg.scale_s));
    if (argc > 5 && strcmp(argv[5], "-")) {
        FILE *f = fopen(argv[5], "wb");
        if (!f || fwrite(out, sizeof(float), n, f) != n || fclose(f)) {
            fprintf(stderr, "error: cannot write %s\n", argv[5]);
            return 1;
        }
    }
    free(out);
    dg_wan_vae_free(&v);
    dg_safetensors_close(&st);
    dg_backend_free(&be);
    return 0;
}
