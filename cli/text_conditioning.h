/* Text conditioning shared by `generate` and `bench generate`: a prompt
 * through the model's tokenizer and encoder, or precomputed embeddings from
 * a --context safetensors file (diffusers' prompt_embeds arguments). */
#ifndef DG_CLI_TEXT_CONDITIONING_H
#define DG_CLI_TEXT_CONDITIONING_H

#include "ditgen.h"

/* With prompt: encode it and, when want_negative, negative (NULL = ""). Else
 * read 'prompt_embeds' and, when want_negative, 'negative_prompt_embeds'
 * ([1, L, text_dim] or [L, text_dim]) from context_path. *ctx and *neg are
 * malloc'ed (neg stays NULL unless wanted). DG_ERR with dg_last_error set and nothing allocated. */
int cli_text_conditioning(dg_pipeline *p, const char *prompt, const char *negative, const char *context_path,
                          int want_negative, float **ctx, int *ctx_len, float **neg, int *neg_len);

#endif
