/* The string metadata ("__metadata__") of one .safetensors file, read without mapping its
 * tensors: latents files carry their generation's parameters there, embeddings files their
 * prompts. */
#ifndef DG_IO_SAFETENSORS_META_H
#define DG_IO_SAFETENSORS_META_H

/* *out: a malloc'ed copy of the value of key, NULL when the file has no such string. */
int dg_safetensors_metadata(const char *path, const char *key, char **out);

#endif
