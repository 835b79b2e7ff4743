/* The CPU backend's float workspace for the video VAE ops. */
#include <stdlib.h>

#include "core/cpu/ops_cpu.h"
#include "core/cpu/video_cpu.h"
#include "core/error.h"

int dg_cpu_work(dg_backend *be, size_t n, float **out) {
    dg_cpu_ctx *c = be->ctx;
    if (c->work_len < n) {
        /* free + malloc, not realloc: the old contents are not needed */
        free(c->work);
        c->work_len = 0;
        c->work = malloc(n * sizeof(float));
        DG_CHECK(c->work != NULL, "out of memory for a %zu MiB CPU workspace", n * sizeof(float) >> 20);
        c->work_len = n;
    }
    *out = c->work;
    return DG_OK;
}
