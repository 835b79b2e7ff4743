#define _POSIX_C_SOURCE 200809L
#include "cli/signals.h"

#include <string.h>
#include <unistd.h>

#include "io/atomic_file.h"

volatile sig_atomic_t cli_interrupted;

static void on_signal(int sig) {
    if (!cli_interrupted) {
        cli_interrupted = sig;
        static const char msg[] = "\nditgen: interrupted; stopping after the current step (again to quit now)\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        return;
    }
    static const char quit[] = "ditgen: interrupted twice; quitting now, unfinished outputs removed\n";
    ssize_t w = write(STDERR_FILENO, quit, sizeof quit - 1);
    (void)w;
    dg_pending_unlink_all();
    _exit(128 + sig);
}

void cli_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* a read or write in progress finishes; the flag is checked after it */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_interrupted_status(void) { return 128 + (int)cli_interrupted; }

const char *cli_interrupted_name(void) { return cli_interrupted == SIGTERM ? "SIGTERM" : "SIGINT"; }
