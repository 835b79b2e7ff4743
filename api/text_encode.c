/* Prompt -> text embeddings with the model folder's tokenizer and umT5/T5
 * encoder, as diffusers' WanPipeline.encode_prompt does: prompt_clean,
 * tokenize to max length with padding, encode, zero the slots past the prompt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/pipeline_internal.h"
#include "core/error.h"
#include "text/prompt_clean.h"
#include "text/text_parts.h"

int dg_pipeline_can_encode(const dg_pipeline *p) {
    const dg_model_folder *f = &p->folder;
    DG_CHECK(*f->root,
             "'%s' is a transformer folder, without the tokenizer/ and text_encoder/ a prompt needs: pass the "
             "diffusers folder above it, or text embeddings (--context)", f->transformer);
    DG_CHECK(*f->tokenizer || *f->text_encoder,
             "model folder '%s' has no tokenizer/ and no text_encoder/ (needed for a prompt; or give text embeddings)",
             f->root);
    DG_CHECK(*f->tokenizer, "model folder '%s' has no tokenizer/ (needed for a prompt; or give text embeddings)",
             f->root);
    DG_CHECK(*f->text_encoder, "model folder '%s' has no text_encoder/ (needed for a prompt; or give text embeddings)",
             f->root);
    return DG_OK;
}

static int load_text(dg_pipeline *p) {
    if (p->text_loaded) return DG_OK;
    DG_TRY(dg_pipeline_can_encode(p));
    const dg_model_folder *f = &p->folder;
    const char *tdir = f->tokenizer, *edir = f->text_encoder;
    DG_TRY(dg_tokenizer_load(&p->tok, tdir));
    if (dg_t5_load(&p->enc, p->dit_be, edir) != DG_OK) { /* the transformer's device: the GPU with cuda */
        dg_tokenizer_free(&p->tok);
        return DG_ERR;
    }
    if (dg_text_parts_check(&p->tok, &p->enc.cfg, p->info.text_dim, f->root) != DG_OK) {
        dg_t5_free(&p->enc);
        dg_tokenizer_free(&p->tok);
        return DG_ERR;
    }
    p->text_loaded = 1;
    return DG_OK;
}

static int encode_uncached(dg_pipeline *p, const char *prompt, float **emb) {
    int L = p->info.defaults.max_sequence_length, n = 0, rc = DG_ERR;
    char *clean = NULL;
    int32_t *ids = malloc((size_t)L * sizeof(int32_t)), *mask = malloc((size_t)L * sizeof(int32_t));
    *emb = malloc((size_t)L * p->info.text_dim * sizeof(float));
    if (!ids || !mask || !*emb) {
        dg_error("out of memory encoding the prompt");
        goto done;
    }
    if (dg_prompt_clean(prompt, &clean) || dg_tokenizer_encode(&p->tok, clean, L, 1, ids, mask, &n) ||
        dg_t5_encode_wan(&p->enc, ids, mask, L, *emb))
        goto done;
    rc = DG_OK;
done:
    free(clean), free(ids), free(mask);
    if (rc != DG_OK) {
        free(*emb);
        *emb = NULL;
    }
    return rc;
}

/* The cached entry for prompt, encoding (and caching) it on a miss. */
static int cached_entry(dg_pipeline *p, const char *prompt, const dg_prompt_cache_entry **out) {
    for (int i = 0; i < DG_PROMPT_CACHE; i++)
        if (p->cache[i].prompt && !strcmp(p->cache[i].prompt, prompt)) {
            *out = &p->cache[i];
            return DG_OK;
        }
    DG_TRY(load_text(p));
    float *e;
    DG_TRY(encode_uncached(p, prompt, &e));
    char *copy = strdup(prompt);
    if (!copy) {
        free(e);
        return dg_error("out of memory caching the prompt");
    }
    dg_prompt_cache_entry *slot = &p->cache[p->cache_next];
    p->cache_next = (p->cache_next + 1) % DG_PROMPT_CACHE;
    free(slot->prompt), free(slot->emb);
    *slot = (dg_prompt_cache_entry){copy, e, p->info.defaults.max_sequence_length};
    *out = slot;
    return DG_OK;
}

int dg_pipeline_encode_prompt(dg_pipeline *p, const char *prompt, float **emb, int *len) {
    DG_CHECK(prompt, "no prompt");
    const dg_prompt_cache_entry *c = NULL;
    if (cached_entry(p, prompt, &c) != DG_OK) {
        /* a default negative prompt the user never typed: name where it comes from */
        if (p->default_negative && !strcmp(prompt, p->default_negative) && p->text_loaded)
            return dg_error_wrap("the default negative prompt (%s, _ditgen_defaults.negative_prompt): ",
                                 p->folder.model_index);
        return DG_ERR;
    }
    size_t bytes = (size_t)c->len * p->info.text_dim * sizeof(float);
    *emb = malloc(bytes);
    DG_CHECK_ALLOC(*emb);
    memcpy(*emb, c->emb, bytes);
    *len = c->len;
    return DG_OK;
}

void dg_pipeline_release_text_encoder(dg_pipeline *p) {
    if (!p->text_loaded) return;
    dg_t5_free(&p->enc);
    dg_tokenizer_free(&p->tok);
    p->text_loaded = 0;
}

void dg_pipeline_text_free(dg_pipeline *p) {
    dg_pipeline_release_text_encoder(p);
    for (int i = 0; i < DG_PROMPT_CACHE; i++) {
        free(p->cache[i].prompt);
        free(p->cache[i].emb);
        p->cache[i] = (dg_prompt_cache_entry){0};
    }
}
