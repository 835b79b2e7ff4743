/* A diffusers folder's generation defaults and scheduler options, from scheduler_config.json and
 * model_index.json (refusing the parts ditgen does not run), without loading any weights: for
 * the pipeline and for `ditgen inspect`. */
#ifndef DG_API_MODEL_DEFAULTS_H
#define DG_API_MODEL_DEFAULTS_H

#include "ditgen.h"
#include "io/model_folder.h"
#include "sampler/scheduler.h"

/* *negative: the folder's negative prompt (malloc'd, d->negative_prompt points to it), or NULL. */
int dg_model_defaults_read(const dg_model_folder *f, dg_model_defaults *d, dg_scheduler_opts *opts, char **negative);

#endif
