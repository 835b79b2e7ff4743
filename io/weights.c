#include "io/weights.h"

#include <stdlib.h>

#include "core/error.h"

static int stays_mapped(const dg_backend *be, int keep_dtype) { return keep_dtype && be->kind == DG_BACKEND_CPU; }

size_t dg_weight_store_bytes(const dg_backend *be, const dg_st_tensor *s, int keep_dtype) {
    if (stays_mapped(be, keep_dtype)) return 0;
    size_t n = 1;
    for (int d = 0; d < s->ndim; d++) n *= (size_t)s->shape[d];
    return (n * dg_dtype_size(keep_dtype ? s->dtype : DG_F32) + 63) & ~(size_t)63;
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
    if (stays_mapped(w->be, keep_dtype)) {
        t->data = (void *)s->data;
        return DG_OK;
    }
    size_t bytes = dg_weight_store_bytes(w->be, s, keep_dtype);
    DG_CHECK(w->used + bytes <= w->len, "out of weight memory for '%s'", s->name);
    t->data = w->base + w->used;
    w->used += bytes;
    size_t n = (size_t)dg_tensor_numel(t);
    if (dt == s->dtype) return dg_tensor_upload(t, s->data);
    if (w->be->kind == DG_BACKEND_CPU) { /* converted in place: no second copy at the peak */
        dg_convert_to_f32(t->data, s->data, s->dtype, n);
        return DG_OK;
    }
    float *tmp = malloc(n * sizeof(float));
    DG_CHECK_ALLOC(tmp);
    dg_convert_to_f32(tmp, s->data, s->dtype, n);
    int rc = dg_tensor_upload(t, tmp);
    free(tmp);
    return rc;
}
