/* ditgen inspect: a diffusers folder's parts besides the transformers. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model_defaults.h"
#include "cli/inspect.h"
#include "core/error.h"
#include "io/json.h"
#include "text/t5_encoder.h"
#include "text/text_parts.h"
#include "text/tokenizer.h"
#include "text/tokenizer_t5.h"
#include "vae/wan_vae.h"

/* Returns 1 with *e loaded. */
static int inspect_text_encoder(inspect_run *r, const char *dir, dg_t5_encoder *e) {
    printf("text_encoder: %s\n", *dir ? dir : "none (prompts need one; generate --context takes embeddings instead)");
    if (!*dir) return 0;
    if (dg_t5_load(e, &r->be, dir) != DG_OK) {
        inspect_refuse(r, "text_encoder");
        return 0;
    }
    inspect_tensors(&e->st);
    const dg_t5_config *c = &e->cfg;
    printf("  %s: %d layers, %d heads x %d, d_model %d, d_ff %d (%s), vocab %d\n",
           c->per_layer_bias ? "UMT5EncoderModel" : "T5EncoderModel", c->num_layers, c->num_heads, c->d_kv, c->d_model,
           c->d_ff, c->gated ? "gated-gelu" : "relu", c->vocab_size);
    printf("  validation: OK (decoder.* and lm_head.* tensors, if any, are not read: only the encoder runs)\n");
    return 1;
}

/* model_index.json's tokenizer class, when it names one ditgen reads differently than the folder's own
 * tokenizer_config.json says: diffusers loads the class model_index.json names. */
static void note_index_class(const char *model_index, const dg_tokenizer *t) {
    cJSON *j;
    if (!*model_index || dg_json_load(model_index, &j) != DG_OK) return; /* refused with model_index below */
    const cJSON *cls = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "tokenizer"), 1);
    if (cJSON_IsString(cls) && dg_tokenizer_class_is_t5(cls->valuestring) && !t->t5_rebuilt)
        printf("  not read: model_index.json's tokenizer class %s (tokenizer_config.json does not name it, so "
               "tokenizer.json is read literally; diffusers would rebuild it as a T5Tokenizer)\n",
               cls->valuestring);
    cJSON_Delete(j);
}

static int inspect_tokenizer(inspect_run *r, const char *dir, const char *model_index, dg_tokenizer *t) {
    printf("tokenizer: %s\n", *dir ? dir : "none (prompts need one)");
    if (!*dir) return 0;
    if (dg_tokenizer_load(t, dir) != DG_OK) {
        inspect_refuse(r, "tokenizer");
        return 0;
    }
    printf("  %s, %d ids, pad id %d, eos id %d\n",
           t->t5_rebuilt ? "T5Tokenizer: rebuilt from tokenizer.json's vocabulary and charsmap as transformers 5 does"
                         : "tokenizer.json read literally",
           dg_tokenizer_vocab_size(t), t->pad_id, t->eos_id);
    note_index_class(model_index, t);
    printf("  OK\n");
    return 1;
}

static void inspect_vae(inspect_run *r, const char *dir) {
    printf("vae: %s\n", *dir ? dir : "none (the transformer's output is the image when it has 3 channels, else only "
                                     "latents can be written)");
    if (!*dir) return;
    dg_wan_vae v;
    if (dg_wan_vae_load(&v, &r->be, dir) != DG_OK) {
        inspect_refuse(r, "vae");
        return;
    }
    inspect_tensors(&v.st);
    char kind[64] = "";
    if (v.cfg.residual || v.cfg.patch > 1)
        snprintf(kind, sizeof kind, " (Wan2.2: %s, patch_size %d)", v.cfg.residual ? "is_residual" : "not residual",
                 v.cfg.patch);
    printf("  AutoencoderKLWan decoder%s: z_dim %d, base_dim %d, %d levels, %d res blocks, x%d frames, x%d pixels\n",
           kind, v.cfg.z_dim, v.cfg.base_dim, v.cfg.n_levels, v.cfg.num_res_blocks, v.cfg.scale_t, v.cfg.scale_s);
    printf("  validation: OK (encoder.* and quant_conv.* tensors are not read: ditgen only decodes)\n");
    dg_wan_vae_free(&v);
}

static void inspect_defaults(inspect_run *r, const dg_model_folder *f) {
    printf("scheduler: %s\n", *f->scheduler_config ? f->scheduler_config : "none (UniPC, flow_shift 3)");
    printf("model_index: %s\n", *f->model_index ? f->model_index : "none (WanPipeline defaults)");
    dg_model_defaults d;
    dg_scheduler_opts opts;
    char *negative;
    if (dg_model_defaults_read(f, &d, &opts, &negative) != DG_OK) {
        inspect_refuse(r, "scheduler/model_index");
        return;
    }
    printf("  sampler %s, flow_shift %g; defaults %dx%d, %d frames, %d steps, guidance %g, %d fps, %d text slots%s\n",
           dg_sample_method_name(d.sampler), d.flow_shift, d.width, d.height, d.frames, d.steps, d.cfg_scale, d.fps,
           d.max_sequence_length, negative ? ", a negative prompt" : "");
    if (d.boundary_ratio > 0)
        printf("  two experts: transformer at t >= %g, transformer_2 below t = %g with guidance %g\n",
               d.boundary_ratio * opts.num_train_timesteps, d.boundary_ratio * opts.num_train_timesteps,
               d.cfg_scale_2 > 0 ? d.cfg_scale_2 : d.cfg_scale);
    if (d.expand_timesteps)
        printf("  expand_timesteps: text-to-video (every token at the step's t, as WanPipeline; no image input)\n");
    printf("  OK\n");
    free(negative);
}

/* Sub-folders no part of ditgen reads (model_index.json naming one is refused above). */
static void inspect_unread(const char *root) {
    static const char *const read[] = {"transformer", "transformer_2", "text_encoder", "tokenizer", "vae",
                                       "scheduler"};
    DIR *d = opendir(root);
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t k = 0;
        while (k < sizeof read / sizeof *read && strcmp(e->d_name, read[k])) k++;
        if (e->d_name[0] != '.' && k == sizeof read / sizeof *read && e->d_type == DT_DIR)
            printf("not read: %s/%s/ (not a part of a WanPipeline folder)\n", root, e->d_name);
    }
    if (d) closedir(d);
}

void inspect_folder_parts(inspect_run *r, const dg_model_folder *f, const dg_wan_model *wan) {
    dg_t5_encoder e;
    dg_tokenizer t;
    int has_enc = inspect_text_encoder(r, f->text_encoder, &e);
    int has_tok = inspect_tokenizer(r, f->tokenizer, f->model_index, &t);
    if (has_enc && has_tok && wan) {
        printf("text parts with the transformer:\n");
        if (dg_text_parts_check(&t, &e.cfg, wan->cfg.text_dim, f->root) != DG_OK) inspect_refuse(r, "text parts");
        else printf("  OK (every token id has an embedding; d_model %d = text_dim)\n", e.cfg.d_model);
    }
    if (has_enc) dg_t5_free(&e);
    if (has_tok) dg_tokenizer_free(&t);
    inspect_vae(r, f->vae);
    inspect_defaults(r, f);
    inspect_unread(f->root);
}
