/* ditgen: command-line entry point; dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/signals.h"
#include "cli/gen_meta.h"
#include "core/cpu/blas_tune.h"
#include "core/cpu/ops_cpu.h"
#include "parallel/comm.h"

#ifdef DG_HAVE_CUDA
#define DG_HAS_CUDA 1
#else
#define DG_HAS_CUDA 0
#endif
#ifdef DG_HAVE_FFMPEG
#define DG_HAS_FFMPEG 1
#else
#define DG_HAS_FFMPEG 0
#endif

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen <command> [options]\n"
            "\n"
            "commands:\n"
            "  generate   run the denoising loop and write an image, video or latents\n"
            "  batch      many generations from a JSON file with one model load\n"
            "  encode     prompt -> text embeddings file (generate --context)\n"
            "  decode     latents file (generate -o x.safetensors) -> image or video\n"
            "  metadata   print the parameters an image, video or latents file was made with\n"
            "  inspect    show a checkpoint's config, tensors and validation result\n"
            "  bench      benchmarks (bench attention)\n"
            "  version    version, commit and build features (also --version)\n"
            "\n"
            "Run 'ditgen <command> --help' for the options of each command.\n"
            "\n"
            "Without -m, ditgen uses the small model shipped in assets/shapes-tiny. It knows only\n"
            "32x32 pictures of one or two shapes (circle, square, triangle; small or large) coloured\n"
            "red, green, blue, yellow, white or black on a plain background of another of those\n"
            "colours, placed left, right, top, bottom or center, and 5-frame clips of a shape moving\n"
            "left, right, up or down, growing or shrinking: \"a red circle on a blue background\".\n"
            "Anything else (\"a cat\") gives coloured blobs. For Wan2.1, give -m a\n"
            "Wan2.1-T2V-1.3B-Diffusers folder.\n");
}

int main(int argc, char **argv) {
    /* OpenBLAS picks its kernels at load time; when it fell back to legacy ones on a
     * CPU it does not know, restart once with the right OPENBLAS_CORETYPE. */
    dg_blas_tune_process(argv);
    /* past a file-size limit (ulimit -f) a write then fails with EFBIG, reported, instead of killing us */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        const char *why;
        /* "cpu bf16": this build and CPU run bf16 models in bf16 (the GEMM and the attention) */
        const int bf16 = dg_gemm_bf16_supported() && dg_attention_bf16_cpu_supported();
        printf("%s [C11%s%s%s, openblas %s %s%s]\n", gen_meta_version(), DG_HAS_CUDA ? ", cuda" : "",
               dg_comm_available(&why) ? ", mpi" : "", DG_HAS_FFMPEG ? ", ffmpeg mp4" : "", dg_blas_corename(),
               dg_blas_threading(), bf16 ? ", cpu bf16" : "");
        return 0;
    }
    /* the long-running commands stop cleanly at a step boundary on SIGINT/SIGTERM */
    if (!strcmp(cmd, "generate") || !strcmp(cmd, "batch")) cli_signals_install();
    if (!strcmp(cmd, "generate")) return cmd_generate(argc - 1, argv + 1);
    if (!strcmp(cmd, "batch")) return cmd_batch(argc - 1, argv + 1);
    if (!strcmp(cmd, "encode")) return cmd_encode(argc - 1, argv + 1);
    if (!strcmp(cmd, "decode")) return cmd_decode(argc - 1, argv + 1);
    if (!strcmp(cmd, "metadata")) return cmd_metadata(argc - 1, argv + 1);
    if (!strcmp(cmd, "inspect")) return cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    fprintf(stderr, "ditgen: unknown command '%s' (try 'ditgen --help')\n", cmd);
    return 2;
}
