/* The benchmarks cmd_bench dispatches to; each gets argv starting at its own name and returns
 * the exit code (2 for a bad command line). */
#ifndef DG_CLI_BENCH_COMMANDS_H
#define DG_CLI_BENCH_COMMANDS_H

/* bench attention: dense CPU attention vs sgemm; with --method, bench_attn_methods */
int bench_attention(int argc, char **argv);
/* bench attention --method ...: methods vs dense on video geometries */
int bench_attn_methods(int argc, char **argv);
/* bench wan: one transformer forward */
int bench_wan(int argc, char **argv);
/* bench generate: whole generations with dense and attention presets, compared */
int bench_generate(int argc, char **argv);

#endif
