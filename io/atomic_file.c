#define _GNU_SOURCE
#include "io/atomic_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

/* The registered files; a handler walks it while the main thread may be adding or removing,
 * so a node is complete before it is linked and unlinked before it is reused. */
static dg_pending *volatile pending_head;

void dg_pending_add(dg_pending *node, const char *path) {
    node->path = path;
    node->prev = NULL;
    node->next = pending_head;
    if (node->next) node->next->prev = node;
    pending_head = node;
}

void dg_pending_remove(dg_pending *node) {
    if (node->prev) node->prev->next = node->next;
    else if (pending_head == node) pending_head = node->next;
    if (node->next) node->next->prev = node->prev;
    node->next = node->prev = NULL;
}

void dg_pending_unlink_all(void) {
    for (dg_pending *n = pending_head; n; n = n->next) unlink(n->path);
}

int dg_atomic_open(dg_atomic_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    DG_CHECK(path && *path, "empty output path");
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    DG_CHECK(*base, "output path '%s' names a directory", path);
    struct stat st;
    DG_CHECK(stat(path, &st) != 0 || !S_ISDIR(st.st_mode), "output path '%s' is an existing directory", path);
    size_t len = strlen(path) + 32;
    f->tmp_path = malloc(len);
    f->final_path = strdup(path);
    if (!f->tmp_path || !f->final_path) {
        dg_atomic_abort(f);
        return dg_error("out of memory opening '%s'", path);
    }
    snprintf(f->tmp_path, len, "%.*s.%s.tmp.XXXXXX", (int)dir_len, path, base);
    int fd = mkstemp(f->tmp_path);
    if (fd < 0) {
        int e = errno;
        free(f->tmp_path);
        f->tmp_path = NULL;
        dg_atomic_abort(f);
        return dg_error("cannot write '%s': %s", path, strerror(e));
    }
    /* mkstemp makes the file 0600; a finished output should honour the umask like any new file. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        int e = errno;
        close(fd);
        dg_atomic_abort(f);
        return dg_error("cannot write '%s': %s", path, strerror(e));
    }
    dg_pending_add(&f->pending, f->tmp_path);
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        close(fd);
        dg_atomic_abort(f);
        return dg_error("cannot write '%s': %s", path, strerror(errno));
    }
    return DG_OK;
}

int dg_atomic_commit(dg_atomic_file *f) {
    int bad = ferror(f->fp) != 0;
    if (fclose(f->fp) != 0) bad = 1;
    f->fp = NULL;
    if (bad) {
        dg_error("writing '%s' failed: %s", f->final_path, strerror(errno));
        dg_atomic_abort(f);
        return DG_ERR;
    }
    if (rename(f->tmp_path, f->final_path) != 0) {
        dg_error("cannot rename onto '%s': %s", f->final_path, strerror(errno));
        dg_atomic_abort(f);
        return DG_ERR;
    }
    dg_pending_remove(&f->pending);
    free(f->tmp_path);
    free(f->final_path);
    memset(f, 0, sizeof *f);
    return DG_OK;
}

void dg_atomic_abort(dg_atomic_file *f) {
    if (f->fp) fclose(f->fp);
    if (f->tmp_path) {
        dg_pending_remove(&f->pending);
        unlink(f->tmp_path);
    }
    free(f->tmp_path);
    free(f->final_path);
    memset(f, 0, sizeof *f);
}

int dg_atomic_write_all(const char *path, const void *data, size_t len) {
    dg_atomic_file f;
    DG_TRY(dg_atomic_open(&f, path));
    if (len && fwrite(data, 1, len, f.fp) != len) {
        const int err = errno;
        dg_atomic_abort(&f);
        return dg_error("writing '%s' failed: %s", path, strerror(err));
    }
    return dg_atomic_commit(&f);
}
