#define _POSIX_C_SOURCE 200809L
#include "io/regular_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

static const char *type_name(mode_t m) {
    if (S_ISFIFO(m)) return "a FIFO or pipe";
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

static int refuse(const char *path, mode_t m) {
    return dg_error("'%s' is %s: ditgen reads only regular files (it needs to know the size and map the file), "
                    "not pipes, devices or /dev/fd/N", path, type_name(m));
}

int dg_regular_file_open(const char *path, int *fd, size_t *size) {
    *fd = -1;
    struct stat sb;
    if (stat(path, &sb) != 0) return dg_error("cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return refuse(path, sb.st_mode);
    /* O_NONBLOCK: the path may have become a FIFO since stat(); fstat() below refuses it then. */
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (f < 0) return dg_error("cannot open '%s': %s", path, strerror(errno));
    if (fstat(f, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(f);
        return refuse(path, sb.st_mode);
    }
    *fd = f;
    *size = (size_t)sb.st_size;
    return DG_OK;
}
