/* Checkpoint tensors bound as backend tensors. Matrices may keep their
 * checkpoint dtype and, on the CPU, stay in the mmapped file (zero copy);
 * everything else (and every weight off the CPU) is copied once into one
 * backend allocation, converted to f32 unless the dtype is kept. */
#ifndef DG_IO_WEIGHTS_H
#define DG_IO_WEIGHTS_H

#include "core/backend.h"
#include "io/safetensors.h"

typedef struct dg_weight_store {
    dg_backend *be;
    char *base;
    size_t len, used;
} dg_weight_store;

/* Store bytes that binding s with keep_dtype on be takes (64-byte aligned; 0
 * when it stays in the mmap): io/weight_binder.c sums it to size the store. */
size_t dg_weight_store_bytes(const dg_backend *be, const dg_st_tensor *s, int keep_dtype);
int dg_weight_store_init(dg_weight_store *w, dg_backend *be, size_t bytes);
void dg_weight_store_free(dg_weight_store *w);
/* t = checkpoint tensor s viewed as [ndim, shape] (the caller checked the
 * shape); keep_dtype leaves matrices in their dtype for dg_linear. */
int dg_weight_store_bind(dg_weight_store *w, dg_tensor *t, const dg_st_tensor *s, int ndim, const int64_t *shape,
                         int keep_dtype);

#endif
