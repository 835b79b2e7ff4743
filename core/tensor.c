#include "core/tensor.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

int dg_tensor_view(dg_tensor *t, struct dg_backend *be, dg_dtype dtype, int ndim,
                   const int64_t *shape, void *data) {
    DG_CHECK(ndim >= 0 && ndim <= DG_MAX_DIMS, "tensor rank %d outside 0..%d", ndim, DG_MAX_DIMS);
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        DG_CHECK(shape[i] >= 0, "negative tensor dimension %lld", (long long)shape[i]);
        t->shape[i] = shape[i];
    }
    t->data = data;
    t->backend = be;
    return DG_OK;
}

int64_t dg_tensor_numel(const dg_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t dg_tensor_nbytes(const dg_tensor *t) {
    return (size_t)dg_tensor_numel(t) * dg_dtype_size(t->dtype);
}

int64_t dg_tensor_rows(const dg_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i + 1 < t->ndim; i++) n *= t->shape[i];
    return n;
}

const char *dg_shape_str(const dg_tensor *t, char *buf, size_t len) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, len - off, "[");
    for (int i = 0; i < t->ndim && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (off < len) snprintf(buf + off, len - off, "]");
    return buf;
}

int dg_tensor_same_shape(const dg_tensor *a, const dg_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

int dg_tensor_expect_shape(const dg_tensor *t, const char *what, int ndim, const int64_t *shape) {
    dg_tensor want = {0};
    want.ndim = ndim;
    for (int i = 0; i < ndim; i++) want.shape[i] = shape[i];
    if (dg_tensor_same_shape(t, &want)) return DG_OK;
    char got_s[96], want_s[96];
    return dg_error("%s: shape %s, expected %s", what, dg_shape_str(t, got_s, sizeof got_s),
                    dg_shape_str(&want, want_s, sizeof want_s));
}

int dg_tensor_reshape(dg_tensor *t, int ndim, const int64_t *shape) {
    dg_tensor r = *t;
    r.ndim = ndim;
    DG_CHECK(ndim >= 0 && ndim <= DG_MAX_DIMS, "reshape to rank %d", ndim);
    for (int i = 0; i < ndim; i++) r.shape[i] = shape[i];
    DG_CHECK(dg_tensor_numel(&r) == dg_tensor_numel(t), "reshape of %s changes the element count",
             t->name ? t->name : "tensor");
    *t = r;
    return DG_OK;
}
