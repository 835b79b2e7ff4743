/* The pipeline object shared by the files in api/ (not part of the public API). */
#ifndef DG_API_PIPELINE_INTERNAL_H
#define DG_API_PIPELINE_INTERNAL_H

#include "dit/wan.h"
#include "ditgen.h"
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
    dg_backend be;       /* CPU: VAE, and the transformer and text encoder unless on a GPU */
    dg_backend gpu;      /* the transformer's backend with --device cuda */
    dg_backend *dit_be;  /* &be or &gpu */
    dg_wan_model wan;
    dg_model_info info;
    char *root;              /* diffusers folder; NULL when opened on a bare transformer folder */
    int text_loaded;         /* tokenizer + encoder currently in memory */
    dg_tokenizer tok;
    dg_t5_encoder enc;
    int max_text_len;        /* text slots (Wan: 512) */
    dg_prompt_cache_entry cache[DG_PROMPT_CACHE];
    dg_wan_vae vae;    /* valid when info.has_vae */
    dg_attn_plan plan; /* valid when has_plan */
    char *default_negative; /* info.defaults.negative_prompt when the folder sets one */
    int has_plan;
    int cache_next;
};

/* Fill p->info.defaults from the folder's configs (root NULL: built-in defaults). */
int dg_model_defaults_load(dg_pipeline *p, const char *root);
/* Free the prompt cache and the text encoder (pipeline close). */
void dg_pipeline_text_free(dg_pipeline *p);

#endif
