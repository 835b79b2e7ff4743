/* ditgen inspect's parts: each prints one section and reports a refusal in the run. */
#ifndef DG_CLI_INSPECT_H
#define DG_CLI_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"
#include "dit/wan.h"
#include "io/model_folder.h"
#include "io/safetensors.h"

typedef struct inspect_run {
    dg_backend be;       /* CPU: every part is loaded there (weights stay mmapped) */
    char refused[1024];  /* names of the refused parts, ", "-separated */
    char first[1024];    /* the first refusal's message */
    int n_refused;
} inspect_run;

/* Print "  refused: <last error>" and count the part. */
void inspect_refuse(inspect_run *r, const char *part);
/* Parameter count as a person reads it: 1.42B, 126.9M, 28.3K, 512. */
void inspect_human(int64_t n, char *buf, size_t cap);
/* Files, tensors, parameters, bytes and dtypes of a checkpoint, indented. */
void inspect_tensors(const dg_safetensors *st);

/* text_encoder/, tokenizer/, their fit to the transformer (text_dim; wan NULL when it did not
 * load), vae/, the scheduler and model_index.json, and folders nothing reads. */
void inspect_folder_parts(inspect_run *r, const dg_model_folder *f, const dg_wan_model *wan);

#endif
