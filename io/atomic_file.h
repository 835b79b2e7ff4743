/* Write-then-rename output files: a failed or interrupted write never leaves
 * a half-written file at the final path. */
#ifndef DG_IO_ATOMIC_FILE_H
#define DG_IO_ATOMIC_FILE_H

#include <stdio.h>

/* A file this process may leave behind if it is killed: registered while it exists, so that a
 * signal handler can remove it (dg_pending_unlink_all). The node lives at a fixed address (the
 * caller's) between add and remove. */
typedef struct dg_pending {
    const char *path;
    struct dg_pending *next, *prev;
} dg_pending;

void dg_pending_add(dg_pending *node, const char *path);
void dg_pending_remove(dg_pending *node);
/* Unlinks every registered file; async-signal-safe (only unlink), for a handler about to _exit. */
void dg_pending_unlink_all(void);

typedef struct dg_atomic_file {
    FILE *fp;
    char *final_path;
    char *tmp_path;
    dg_pending pending; /* the temp file, until commit or abort */
} dg_atomic_file;

/* Opens "<dir>/.<name>.tmp.XXXXXX" beside `path` for binary writing. A path that is an existing
 * directory is refused here, not at the rename after the work. */
int dg_atomic_open(dg_atomic_file *f, const char *path);
/* Flush, close and rename onto the final path. On failure the temp file is removed. */
int dg_atomic_commit(dg_atomic_file *f);
/* Close and remove the temp file (safe to call after a failed commit or twice). */
void dg_atomic_abort(dg_atomic_file *f);
/* Write a whole buffer atomically. */
int dg_atomic_write_all(const char *path, const void *data, size_t len);

#endif
