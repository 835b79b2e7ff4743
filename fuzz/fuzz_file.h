/* The loaders under fuzz read paths, not buffers: each input is written to a
 * file in a folder of this process first ($TMPDIR/dg_fuzz_<pid>, which
 * scripts/fuzz.sh points at a folder it removes). */
#ifndef DG_FUZZ_FILE_H
#define DG_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The folder's path/name (a static buffer per slot, 4 slots), holding data when data is not NULL. */
static inline const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size) {
    static char path[4][600];
    static int next;
    char *p = path[next++ % 4];
    const char *tmp = getenv("TMPDIR");
    snprintf(p, sizeof path[0], "%s/dg_fuzz_%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    mkdir(p, 0700);
    size_t len = strlen(p);
    snprintf(p + len, sizeof path[0] - len, "/%s", name);
    if (!data) return p;
    FILE *f = fopen(p, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) abort();
    return p;
}

/* data as a NUL-terminated string (malloc'ed; the caller frees). */
static inline char *fuzz_string(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
