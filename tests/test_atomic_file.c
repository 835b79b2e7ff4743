/* Atomic outputs: a path that is a directory is refused at open, and every temp file in progress
 * is registered so that a signal handler can remove it (dg_pending_unlink_all), then forgotten
 * once committed or aborted. */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "test.h"
#include "tests/scratch_dir.h"

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

int main(void) {
    if (scratch_dir_make("test_atomic_file")) return 1;
    dg_atomic_file f;
    CHECK(mkdir(path_in("d.png"), 0777) == 0, "mkdir");
    CHECK(dg_atomic_open(&f, path_in("d.png")) == DG_ERR, "a directory accepted as output");
    CHECK(strstr(dg_last_error(), "is an existing directory"), "message: %s", dg_last_error());
    rmdir(path_in("d.png"));

    /* two files in progress, then the handler's cleanup: both temp files go, no final file appears */
    dg_atomic_file a, b;
    CHECK_OK(dg_atomic_open(&a, path_in("a.bin")));
    CHECK_OK(dg_atomic_open(&b, path_in("b.bin")));
    fputs("partial", a.fp), fflush(a.fp);
    CHECK(n_entries() == 2, "%d entries with two files open", n_entries());
    dg_pending_unlink_all();
    CHECK(n_entries() == 0, "%d entries left after dg_pending_unlink_all", n_entries());
    dg_atomic_abort(&a), dg_atomic_abort(&b);

    /* a committed file is no longer registered: the cleanup leaves it */
    CHECK_OK(dg_atomic_open(&a, path_in("c.bin")));
    CHECK_OK(dg_atomic_open(&b, path_in("e.bin")));
    CHECK_OK(dg_atomic_commit(&a));
    dg_pending_unlink_all();
    CHECK(exists(path_in("c.bin")) && n_entries() == 1, "the committed file should stay alone (%d entries)",
          n_entries());
    dg_atomic_abort(&b);

    /* caller-owned nodes (the frames of a pattern) */
    dg_pending n1, n2;
    FILE *t = fopen(path_in("f1"), "w");
    if (t) fclose(t);
    t = fopen(path_in("f2"), "w");
    if (t) fclose(t);
    char p1[1024], p2[1024];
    snprintf(p1, sizeof p1, "%s", path_in("f1"));
    snprintf(p2, sizeof p2, "%s", path_in("f2"));
    dg_pending_add(&n1, p1);
    dg_pending_add(&n2, p2);
    dg_pending_remove(&n1); /* renamed into place: kept */
    dg_pending_unlink_all();
    CHECK(exists(p1) && !exists(p2), "f1 (removed from the list) should stay, f2 go");
    dg_pending_remove(&n2);
    unlink(p1);
    rmdir(dir);
    return TEST_END();
}
