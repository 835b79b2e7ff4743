/* SIGINT/SIGTERM for the commands that run long: the first one sets a flag the library sees at its
 * next step boundary (dg_gen_params.cancel), so outputs are either complete or absent; a second one
 * removes the temp files being written and exits at once. (main ignores SIGXFSZ for every command,
 * so that a file-size limit, ulimit -f, makes a write fail with an error instead of a kill.) */
#ifndef DG_CLI_SIGNALS_H
#define DG_CLI_SIGNALS_H

#include <signal.h>

/* 0, or the number of the first SIGINT/SIGTERM received. */
extern volatile sig_atomic_t cli_interrupted;

void cli_signals_install(void);
/* The exit status for an interrupted run: 128 + the signal's number, as a shell reports a kill. */
int cli_interrupted_status(void);
const char *cli_interrupted_name(void);

#endif
