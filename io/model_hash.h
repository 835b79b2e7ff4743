/* A short identity of a model's weights for generation metadata: the first 10 hex digits of
 * SHA-256 over its transformer's .safetensors files in name order (A1111's "Model hash"
 * length). Hashing a 1.3B checkpoint reads gigabytes, so results are remembered in a cache
 * file by the files' resolved path, total size and latest modification time. */
#ifndef DG_IO_MODEL_HASH_H
#define DG_IO_MODEL_HASH_H

#define DG_MODEL_HASH_LEN 10

/* model: what dg_pipeline_open takes. cache_path NULL: no cache; a cache that cannot be read
 * or written is ignored (it only saves time). */
int dg_model_hash(const char *model, const char *cache_path, char hash[DG_MODEL_HASH_LEN + 1]);

#endif
