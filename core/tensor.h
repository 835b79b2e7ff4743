/* A dense, contiguous, row-major tensor of up to 5 dims living in one
 * backend's memory. The struct is a view: it does not own its data (weights
 * point into mmapped checkpoints, activations into an arena). */
#ifndef DG_CORE_TENSOR_H
#define DG_CORE_TENSOR_H

#include <stdint.h>
#include <stddef.h>

#include "core/dtype.h"

#define DG_MAX_DIMS 5

struct dg_backend;

typedef struct dg_tensor {
    dg_dtype dtype;
    int ndim;
    int64_t shape[DG_MAX_DIMS];
    void *data;
    struct dg_backend *backend;
    const char *name; /* for error messages; may be NULL */
} dg_tensor;

/* Build a view over existing memory; returns DG_ERR on a bad rank or negative size. */
int dg_tensor_view(dg_tensor *t, struct dg_backend *be, dg_dtype dtype, int ndim,
                   const int64_t *shape, void *data);
int64_t dg_tensor_numel(const dg_tensor *t);
size_t dg_tensor_nbytes(const dg_tensor *t);
/* Product of all dims but the last (the "rows" of a [..., C] tensor). */
int64_t dg_tensor_rows(const dg_tensor *t);
/* "[2, 16, 3]" into buf. */
const char *dg_shape_str(const dg_tensor *t, char *buf, size_t len);
/* Same shape (and rank)? */
int dg_tensor_same_shape(const dg_tensor *a, const dg_tensor *b);
/* Check that t has exactly this shape; the error names `what`. */
int dg_tensor_expect_shape(const dg_tensor *t, const char *what, int ndim, const int64_t *shape);
/* Reinterpret with a new shape of the same element count. */
int dg_tensor_reshape(dg_tensor *t, int ndim, const int64_t *shape);

#endif
