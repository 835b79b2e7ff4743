/* The pipeline object shared by the files in api/ (not part of the public API). */
#ifndef DG_API_PIPELINE_INTERNAL_H
#define DG_API_PIPELINE_INTERNAL_H

#include "dit/wan.h"
#include "parallel/comm.h"
#include "sampler/scheduler.h"
#include "sampler/step_cache.h"
#include "ditgen.h"
#include "io/model_folder.h"
#include "text/t5_encoder.h"
#include "text/tokenizer.h"
#include "vae/wan_vae.h"

#define DG_PROMPT_CACHE 4

typedef struct dg_prompt_cache_entry {
    char *prompt; /* NULL: empty slot */
    float *emb;   /* [len, text_dim] */
    int len;
} dg_prompt_cache_entry;

struct dg_pipeline {
    dg_backend be;       /* CPU: the text encoder, transformer and VAE unless on a GPU */
    dg_backend gpu;      /* their backend on a GPU device */
    dg_backend *dit_be;  /* &be or &gpu */
    dg_wan_model wan;
    dg_wan_model wan2;   /* transformer_2: the low-noise expert, when has_wan2 */
    int has_wan2;
    float boundary_t;    /* steps at t < boundary_t run wan2 (boundary_ratio x num_train_timesteps) */
    dg_model_info info;
    dg_model_folder folder;  /* the model path's parts (root "" for a bare transformer) */
    int text_loaded;         /* tokenizer + encoder currently in memory */
    dg_tokenizer tok;
    dg_t5_encoder enc;
    dg_prompt_cache_entry cache[DG_PROMPT_CACHE];
    dg_wan_vae vae;    /* valid when info.has_vae */
    dg_attn_plan plan; /* valid when has_plan */
    char *plan_request; /* the configs folder and preset or path the plan was loaded from */
    dg_wan_sized sized; /* the transformer prepared for the last generation's size (arena.base NULL: none) */
    dg_comm comm;         /* MPI over the job's processes, once parallel generation was asked for */
    dg_comm device_comm;  /* NCCL over the same processes, for a GPU transformer */
    dg_wan_split split;   /* how the transformer's forward is split (split.comm NULL: one process) */
    int vae_halo;         /* parallel: the VAE decode's warm-up latent frames per rank (0: all) */
    char *default_negative; /* info.defaults.negative_prompt when the folder sets one */
    dg_scheduler_opts scheduler_opts; /* the folder's scheduler options, for its own sampler (info.defaults.sampler) */
    int has_plan;
    dg_step_cache_opts cache_opts; /* valid when has_cache */
    int has_cache;
    int cache_next;
};

/* Fill p->info.defaults from the folder's configs (built-in defaults where it has none). */
int dg_model_defaults_load(dg_pipeline *p);
/* Free the prompt cache and the text encoder (pipeline close). */
void dg_pipeline_text_free(dg_pipeline *p);

#endif
