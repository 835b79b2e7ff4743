/* A private temporary folder for tests that write files: paths inside it and
 * a count of its entries, to prove that refused or aborted writes leave
 * nothing behind. One per test program (static state). */
#ifndef DG_TESTS_SCRATCH_DIR_H
#define DG_TESTS_SCRATCH_DIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[512];

/* Create DG_BINARY_DIR/<prefix>_XXXXXX; 0 on success. */
static int scratch_dir_make(const char *prefix) {
    snprintf(dir, sizeof dir, "%s/%s_XXXXXX", DG_BINARY_DIR, prefix);
    if (mkdtemp(dir)) return 0;
    perror(dir);
    return -1;
}

/* dir/name (a static buffer: valid until the next call). */
static char *path_in(const char *name) {
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static int n_entries(void) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n;
}

#endif
