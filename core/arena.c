#include "core/arena.h"

#include "core/error.h"

int dg_arena_init(dg_arena *a, dg_backend *be, size_t bytes) {
    a->backend = be;
    a->size = (bytes + 63) & ~(size_t)63;
    a->used = a->peak = 0;
    a->base = be->ops->alloc(be, a->size ? a->size : 64);
    DG_CHECK(a->base != NULL, "out of memory: activation arena of %.1f MiB on %s", (double)bytes / (1 << 20),
             be->ops->name);
    return DG_OK;
}

void dg_arena_free(dg_arena *a) {
    if (a->base) a->backend->ops->free(a->backend, a->base);
    a->base = NULL;
    a->size = a->used = 0;
}

int dg_arena_tensor(dg_arena *a, dg_tensor *t, const char *name, dg_dtype dtype, int ndim, const int64_t *shape) {
    DG_TRY(dg_tensor_view(t, a->backend, dtype, ndim, shape, NULL));
    size_t n = (dg_tensor_nbytes(t) + 63) & ~(size_t)63;
    DG_CHECK(a->used + n <= a->size, "activation arena exhausted allocating %s (%zu bytes, %zu of %zu used)", name, n,
             a->used, a->size);
    t->data = a->base + a->used;
    t->name = name;
    a->used += n;
    if (a->used > a->peak) a->peak = a->used;
    return DG_OK;
}
