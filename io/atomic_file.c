#define _GNU_SOURCE
#include "io/atomic_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

int dg_atomic_open(dg_atomic_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    DG_CHECK(path && *path, "empty output path");
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    DG_CHECK(*base, "output path '%s' names a directory", path);
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
    free(f->tmp_path);
    free(f->final_path);
    memset(f, 0, sizeof *f);
    return DG_OK;
}

void dg_atomic_abort(dg_atomic_file *f) {
    if (f->fp) fclose(f->fp);
    if (f->tmp_path) unlink(f->tmp_path);
    free(f->tmp_path);
    free(f->final_path);
    memset(f, 0, sizeof *f);
}

int dg_atomic_write_all(const char *path, const void *data, size_t len) {
    dg_atomic_file f;
    DG_TRY(dg_atomic_open(&f, path));
    if (len && fwrite(data, 1, len, f.fp) != len) {
        dg_atomic_abort(&f);
        return dg_error("writing '%s' failed (disk full?)", path);
    }
    return dg_atomic_commit(&f);
}
