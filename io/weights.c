#include "io/weights.h"

#include <stdlib.h>

#include "core/error.h"

size_t dg_weight_store_need(const dg_st_tensor *s) {
    int64_t n = 1;
    for (int d = 0; d < s->ndim; d++) n *= s->shape[d];
    return ((size_t)n * 4 + 63) & ~(size_t)63;
}

int dg_weight_store_init(dg_weight_store *w, dg_backend *be, size_t bytes) {
    w->be = be;
    w->len = bytes;
    w->used = 0;
    w->base = be->ops->alloc(be, bytes ? bytes : 64);
    DG_CHECK(w->base != NULL, "out of memory: %.1f MiB of weights on %s", (double)bytes / (1 << 20), be->ops->name);
    return DG_OK;
}

void dg_weight_store_free(dg_weight_store *w) {
    if (w->base) w->be->ops->free(w->be, w->base);
    w->base = NULL;
    w->len = w->used = 0;
}

int dg_weight_store_bind(dg_weight_store *w, dg_tensor *t, const dg_st_tensor *s, int ndim, const int64_t *shape,
                         int keep_dtype) {
    dg_dtype dt = keep_dtype ? s->dtype : DG_F32;
    DG_TRY(dg_tensor_view(t, w->be, dt, ndim, shape, NULL));
    t->name = s->name;
    if (keep_dtype && w->be->kind == DG_BACKEND_CPU) {
        t->data = (void *)s->data;
        return DG_OK;
    }
    size_t bytes = (dg_tensor_nbytes(t) + 63) & ~(size_t)63;
    DG_CHECK(w->used + bytes <= w->len, "out of weight memory for '%s'", s->name);
    t->data = w->base + w->used;
    w->used += bytes;
    size_t n = (size_t)dg_tensor_numel(t);
    if (dt == s->dtype) return dg_tensor_upload(t, s->data);
    float *tmp = malloc(n * sizeof(float));
    DG_CHECK_ALLOC(tmp);
    dg_convert_to_f32(tmp, s->data, s->dtype, n);
    int rc = dg_tensor_upload(t, tmp);
    free(tmp);
    return rc;
}
