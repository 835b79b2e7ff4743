#include "cli/batch_resume.h"

#include <stdlib.h>

#include "cli/gen_meta.h"
#include "core/error.h"

/* Generation i's files all exist and record want. */
static int generation_done(const gen_job *j, int i, const char *want) {
    for (int f = 0; f < gen_job_files(j); f++) {
        char path[4096], *got = NULL;
        int same = gen_job_file(j, i, f, path, sizeof path) == DG_OK && gen_meta_read(path, &got) == DG_OK && got &&
                   gen_meta_same(want, got, j->seed < 0);
        free(got);
        if (!same) {
            dg_error_clear(); /* a missing or foreign file only means: not done */
            return 0;
        }
    }
    return 1;
}

int batch_resume_scan(const gen_job *j, unsigned char **done) {
    *done = calloc((size_t)j->count, 1);
    if (!*done) return -1;
    gen_job with_meta = *j; /* what the job records, whatever its --no-metadata */
    with_meta.no_metadata = 0;
    int n = 0;
    for (int i = 0; i < j->count; i++) {
        char *want;
        if (gen_meta_text(&with_meta, j->base_seed + (uint64_t)i, &want)) return -1;
        n += (*done)[i] = (unsigned char)generation_done(j, i, want);
        free(want);
    }
    return n;
}
