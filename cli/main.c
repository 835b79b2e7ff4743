/* ditgen: command-line entry point; dispatches to subcommands. */
#include <libavutil/log.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/cpu/blas_tune.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen <command> [options]\n"
            "\n"
            "commands:\n"
            "  generate   run the denoising loop and write an image, video or latents\n"
            "  inspect    show a checkpoint's config, tensors and validation result\n"
            "  bench      benchmarks (bench attention)\n"
            "\n"
            "Run 'ditgen <command> --help' for the options of each command.\n");
}

int main(int argc, char **argv) {
    /* OpenBLAS picks its kernels at load time; when it fell back to legacy ones on a
     * CPU it does not know, restart once with the right OPENBLAS_CORETYPE. */
    dg_blas_tune_process(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    /* libx264 reports its settings through av_log; only errors belong on our stderr. */
    av_log_set_level(AV_LOG_ERROR);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "generate")) return cmd_generate(argc - 1, argv + 1);
    if (!strcmp(cmd, "inspect")) return cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    fprintf(stderr, "ditgen: unknown command '%s' (try 'ditgen --help')\n", cmd);
    return 2;
}
