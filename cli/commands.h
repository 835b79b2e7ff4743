#ifndef DG_CLI_COMMANDS_H
#define DG_CLI_COMMANDS_H

/* Each subcommand gets argv starting at its own name; returns the exit code. */
int cmd_generate(int argc, char **argv);
/* many generate jobs from a JSON file, one model load */
int cmd_batch(int argc, char **argv);
/* prompt -> embeddings file for --context */
int cmd_encode(int argc, char **argv);
/* latents file -> frames, with the parameters its metadata records */
int cmd_decode(int argc, char **argv);
/* the parameters text of an output file */
int cmd_metadata(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
/* the benchmarks of cli/bench/ */
int cmd_bench(int argc, char **argv);

#endif
