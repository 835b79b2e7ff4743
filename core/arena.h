/* Activation arena: one backend allocation handed out by bumping a pointer.
 * A model sizes it once per geometry and resets it between forwards, so the
 * denoising loop never calls the allocator. */
#ifndef DG_CORE_ARENA_H
#define DG_CORE_ARENA_H

#include "core/backend.h"

typedef struct dg_arena {
    dg_backend *backend;
    char *base;
    size_t size, used, peak;
} dg_arena;

int dg_arena_init(dg_arena *a, dg_backend *be, size_t bytes);
void dg_arena_free(dg_arena *a);
/* A tensor carved from the arena; fails (naming `name`) when it does not fit. */
int dg_arena_tensor(dg_arena *a, dg_tensor *t, const char *name, dg_dtype dtype, int ndim, const int64_t *shape);
static inline size_t dg_arena_mark(const dg_arena *a) { return a->used; }
static inline void dg_arena_reset(dg_arena *a, size_t mark) { a->used = mark; }

#endif
