/* ditgen's return codes and last error, shared by the public API (ditgen.h) and
 * the library's internal error helpers (core/error.h). */
#ifndef DITGEN_ERROR_H
#define DITGEN_ERROR_H

#define DG_OK 0
#define DG_ERR (-1)

/* One line naming the file, tensor or parameter at fault in the calling
 * thread's last failed call ("unknown error" when none was recorded). */
const char *dg_last_error(void);

#endif
