/* Write-then-rename output files: a failed or interrupted write never leaves
 * a half-written file at the final path. */
#ifndef DG_IO_ATOMIC_FILE_H
#define DG_IO_ATOMIC_FILE_H

#include <stdio.h>

typedef struct dg_atomic_file {
    FILE *fp;
    char *final_path;
    char *tmp_path;
} dg_atomic_file;

/* Opens "<dir>/.<name>.tmp.XXXXXX" beside `path` for binary writing. */
int dg_atomic_open(dg_atomic_file *f, const char *path);
/* Flush, close and rename onto the final path. On failure the temp file is removed. */
int dg_atomic_commit(dg_atomic_file *f);
/* Close and remove the temp file (safe to call after a failed commit or twice). */
void dg_atomic_abort(dg_atomic_file *f);
/* Write a whole buffer atomically. */
int dg_atomic_write_all(const char *path, const void *data, size_t len);

#endif
