/* Error reporting for library code: functions return DG_OK (0) or DG_ERR (-1)
 * and leave one human-readable line in a thread-local buffer. Only cli/ prints
 * and exits. The message names the file, tensor or parameter at fault, never a
 * CLI flag (cli/ maps parameter names to its flags); in debug builds the source
 * location is prefixed. */
#ifndef DG_CORE_ERROR_H
#define DG_CORE_ERROR_H

#include "ditgen_error.h" /* DG_OK, DG_ERR, dg_last_error: public */

/* Set the last error (printf-style). Always returns DG_ERR so callers can
 * write `return dg_error(...)`. */
int dg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prepend context ("loading transformer: ") to the current error. */
int dg_error_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dg_error_clear(void);

/* Check a condition; on failure record "file:line: message" and return DG_ERR. */
#define DG_CHECK(cond, ...)                                                     \
    do {                                                                        \
        if (!(cond)) {                                                          \
            dg_error(__VA_ARGS__);                                              \
            return DG_ERR;                                                      \
        }                                                                       \
    } while (0)

/* Propagate a failing call (which has already set the message). */
#define DG_TRY(call)                                                            \
    do {                                                                        \
        if ((call) != DG_OK) return DG_ERR;                                     \
    } while (0)

/* Allocation check: names the file and line, since OOM has no better context. */
#define DG_CHECK_ALLOC(ptr)                                                     \
    DG_CHECK((ptr) != NULL, "%s:%d: out of memory", __FILE__, __LINE__)

#endif
