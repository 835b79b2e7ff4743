/* The library names a parameter by its API name ("steps", "cfg_scale", "width/height/frames");
 * the user typed a flag. These turn a library message into the flags' terms. */
#ifndef DG_CLI_PARAM_FLAGS_H
#define DG_CLI_PARAM_FLAGS_H

#include <stddef.h>

/* msg with parameter names replaced by their flags into buf: names with an underscore wherever
 * they stand as a word, plain words ("steps") only where they open the message, alone or
 * joined by '/' ("width/height 30x40 ..."), since elsewhere they are prose. */
void cli_params_as_flags(const char *msg, char *buf, size_t size);
/* dg_last_error() in the flags' terms, as one cli_error line. */
void cli_library_error(void);

#endif
