/* How transformers (5.x; checked against 5.25.0) builds a tokenizer folder whose
 * tokenizer_config.json names T5Tokenizer or T5TokenizerFast (one class there): it keeps only
 * tokenizer.json's Unigram vocabulary and the first Precompiled charsmap of its normalizer, and
 * rebuilds the rest (models/t5/tokenization_t5.py, TokenizersBackend.convert_to_native_format):
 *   model          Unigram(vocab, unk_id=2, byte_fallback=False)
 *   normalizer     Precompiled(charsmap) alone, or none (Strip/Replace steps are dropped)
 *   pre-tokenizer  WhitespaceSplit, then Metaspace("▁", prepend_scheme="always", split=True)
 *   post-processor "$A </s>" with the eos token's id
 *   added tokens   tokenizer_config.json's added_tokens_decoder (else tokenizer.json's
 *                  added_tokens) in id order, then the named special tokens (eos "</s>",
 *                  unk "<unk>", pad "<pad>" by default), then extra_special_tokens /
 *                  additional_special_tokens, else "<extra_id_0>".."<extra_id_{extra_ids-1}>"
 *                  (extra_ids 100 by default); a token already in the vocabulary keeps its id,
 *                  others get the next ids after it.
 * Configuration this does not model is refused by name. */
#ifndef DG_TEXT_TOKENIZER_T5_H
#define DG_TEXT_TOKENIZER_T5_H

#include <cjson/cJSON.h>

#include "text/tokenizer.h"

/* 1 when tokenizer_config.json's tokenizer_class is rebuilt as above. */
int dg_tokenizer_class_is_t5(const char *tokenizer_class);

/* Build everything but the vocabulary, which t->model already holds (loaded from root, the
 * parsed tokenizer.json, with any byte_fallback flag dropped). config: tokenizer_config.json;
 * special_map: special_tokens_map.json or NULL; ctx names the folder in errors. */
int dg_tokenizer_t5_build(dg_tokenizer *t, const cJSON *root, const cJSON *config, const cJSON *special_map,
                          const char *ctx);

#endif
