/* The parameters a generation records in its outputs (PNG `parameters` chunk, MP4 comment,
 * latents metadata) as A1111 infotext, and reading them back from any of those files. */
#ifndef DG_CLI_GEN_META_H
#define DG_CLI_GEN_META_H

#include <stdint.h>

#include "cli/gen_job.h"
#include "io/gen_metadata.h"

/* "ditgen X.Y.Z (commit)" as baked in at configure time. */
const char *gen_meta_version(void);
/* The model's short weight hash, computed once per process and cached on disk
 * ($XDG_CACHE_HOME/ditgen or ~/.cache/ditgen). */
int gen_meta_model_hash(const char *model, char hash[16]);
/* The parameters of generation `seed` of a resolved job: the prompt (for --context, the one
 * the embeddings file records), the settings that reproduce it, the model by folder name and
 * weight hash, and the version. */
int gen_meta_build(const gen_job *j, uint64_t seed, dg_infotext *t);
/* The same as text; *out NULL with --no-metadata. */
int gen_meta_text(const gen_job *j, uint64_t seed, char **out);
/* The parameters text of a .png, .mp4 or .safetensors file; *out NULL when it has none. */
int gen_meta_read(const char *path, char **out);
/* Two parameter texts describe the same generation: every pair equal but Version (and Seed
 * when ignore_seed). */
int gen_meta_same(const char *a, const char *b, int ignore_seed);

#endif
