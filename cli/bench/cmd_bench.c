/* ditgen bench: dispatch to the benchmarks (cli/bench/bench_*.c). */
#include <stdio.h>
#include <string.h>

#include "cli/bench/bench_commands.h"
#include "cli/commands.h"

static void bench_usage(FILE *f) {
    fprintf(f, "usage: ditgen bench <benchmark> [options]\n"
               "\n"
               "benchmarks:\n"
               "  attention   dense CPU flash attention vs OpenBLAS sgemm; --method: sparse methods vs dense\n"
               "  wan         one Wan transformer forward\n"
               "  generate    a whole generation with dense and each attention preset: times, PSNR/SSIM, grid\n"
               "\n"
               "Run 'ditgen bench <benchmark> --help' for its options.\n");
}

int cmd_bench(int argc, char **argv) {
    if (argc < 2) {
        bench_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        bench_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "attention")) return bench_attention(argc - 1, argv + 1);
    if (!strcmp(argv[1], "wan")) return bench_wan(argc - 1, argv + 1);
    if (!strcmp(argv[1], "generate")) return bench_generate(argc - 1, argv + 1);
    fprintf(stderr, "ditgen bench: unknown benchmark '%s'\n", argv[1]);
    bench_usage(stderr);
    return 2;
}
