/* Binding checkpoint tensors to model tensors by name, shared by every model:
 * a shape check whose error names the file and the tensor, an optional
 * rename (model name -> checkpoint name), and a refusal of any checkpoint
 * tensor left unbound (config and weights disagree).
 *
 * dg_weight_bind_model runs the model's binding function twice: the first
 * pass checks names and shapes and measures the weight store, the second
 * binds into the store. So the store's size comes from the very calls that
 * decide what is copied, and a bad checkpoint is refused before any big
 * allocation. */
#ifndef DG_IO_WEIGHT_BINDER_H
#define DG_IO_WEIGHT_BINDER_H

#include "io/safetensors.h"
#include "io/weights.h"

#define DG_F16_WIDEN_BYTES ((size_t)1 << 30)

/* How a bound tensor is stored. */
typedef enum {
    DG_WEIGHT_F32,         /* converted (or copied) to f32 in the store: vectors, tables */
    DG_WEIGHT_STORED,      /* checkpoint dtype (dg_linear converts); on the CPU read from the mmap,
                            * except a model's f16 matrices when their f32 copies take at most
                            * dg_weight_binding.f16_widen_bytes: widened in the store (the CPU
                            * computes no f16) */
    DG_WEIGHT_F32_MAPPED,  /* f32; an f32 checkpoint tensor on the CPU is read from the mmap */
} dg_weight_kind;

typedef struct dg_weight_binder {
    const dg_safetensors *st;
    dg_weight_store *store;
    dg_backend *be;
    const char *path;                                             /* file or folder, for messages */
    const char *(*rename)(const char *name, char *buf, size_t len); /* NULL: names as given */
    unsigned char *used;                                          /* per checkpoint tensor: bound? */
    int measuring;                                                /* first pass: count store bytes only */
    size_t store_bytes;
    size_t f16_widened_bytes; /* the f32 copies of the f16 matrices (CPU), counted in the first pass */
    int widen_f16;            /* second pass: widen them (their total is within the spec's limit) */
} dg_weight_binder;

typedef struct dg_weight_binding {
    const char *what;   /* "the transformer": a store failure reads "loading the transformer from 'path': ..." */
    const char *path;   /* file or folder, for messages */
    const char *config; /* what the config says, for the disagreement message ("num_layers 30") */
    const char *(*rename)(const char *name, char *buf, size_t len); /* optional; NULL: no such name */
    int (*ignorable)(const char *name); /* checkpoint tensors the model may leave unbound; NULL: none */
    int (*bind_all)(dg_weight_binder *b, void *model); /* binds every tensor through dg_weight_bind* */
    void *model;
    size_t f16_widen_bytes; /* the CPU widens f16 matrices at load when their f32 copies total at most
                             * this; 0: DG_F16_WIDEN_BYTES */
} dg_weight_binding;

/* Bind all of spec's model into store (initialised here on be; the caller
 * frees it with dg_weight_store_free, also after a failure). */
int dg_weight_bind_model(dg_weight_store *store, dg_backend *be, const dg_safetensors *st,
                         const dg_weight_binding *spec);

/* The checkpoint tensor named by fmt..., shape-checked against [ndim, shape]
 * and marked used; for tensors the model reads from the mmap itself. */
int dg_weight_find(dg_weight_binder *b, const dg_st_tensor **out, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* t = the checkpoint tensor named by fmt..., checked to be [ndim, shape], stored as kind. */
int dg_weight_bind(dg_weight_binder *b, dg_tensor *t, int ndim, const int64_t *shape, dg_weight_kind kind,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* A 1-D f32 tensor [n]. */
int dg_weight_bind_vec(dg_weight_binder *b, dg_tensor *t, int64_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A linear layer `prefix`.weight [out, in] (checkpoint dtype) and, unless bias
 * is NULL, `prefix`.bias [out] (f32); fmt... names the prefix. */
int dg_weight_bind_linear(dg_weight_binder *b, dg_tensor *w, dg_tensor *bias, int64_t out, int64_t in,
                          const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
