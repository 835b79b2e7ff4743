/* safetensors checkpoints: one file, a sharded set (*.safetensors.index.json)
 * or a folder holding either. Files are mmapped; tensors point into the
 * mapping (zero copy). Opening validates everything a hostile file could get
 * wrong: header length, JSON, dtype, shape x dtype == byte range, ranges inside
 * the data section, no overlaps, alignment to the element size. */
#ifndef DG_IO_SAFETENSORS_H
#define DG_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"

typedef struct dg_st_tensor {
    char *name;
    dg_dtype dtype;
    int ndim;
    int64_t shape[5];
    const void *data; /* inside the mmapped file */
    size_t nbytes;
    int file; /* index into the checkpoint's files */
} dg_st_tensor;

typedef struct dg_st_file {
    char *path;
    void *map;
    size_t size;
} dg_st_file;

typedef struct dg_safetensors {
    dg_st_file *files;
    int n_files;
    dg_st_tensor *tensors; /* sorted by name */
    int n_tensors;
} dg_safetensors;

/* path: a .safetensors file, a *.safetensors.index.json, or a directory that
 * holds exactly one of diffusion_pytorch_model / model (.safetensors or
 * .safetensors.index.json). Errors name the file and the tensor at fault. */
int dg_safetensors_open(dg_safetensors *st, const char *path);
void dg_safetensors_close(dg_safetensors *st);
/* NULL when absent. */
const dg_st_tensor *dg_safetensors_find(const dg_safetensors *st, const char *name);

/* For writing latents and test fixtures: tensors given as host memory. */
typedef struct dg_st_entry {
    const char *name;
    dg_dtype dtype;
    int ndim;
    const int64_t *shape;
    const void *data;
} dg_st_entry;
/* Atomic (temp file + rename); metadata may be NULL (string key/values, n_meta pairs).
 * The data section holds tensors with larger elements first, otherwise in the
 * given order: each is aligned to its element size, with no gaps, so the files
 * also load with the reference Python/Rust safetensors. */
int dg_safetensors_save(const char *path, const dg_st_entry *entries, int n, const char *const *meta_kv, int n_meta);

#endif
