#include "text/text_parts.h"

#include "core/error.h"

int dg_text_parts_check(const dg_tokenizer *tok, const dg_t5_config *enc, int text_dim, const char *root) {
    int vocab = dg_tokenizer_vocab_size(tok);
    const char *why = NULL;
    if (vocab > enc->vocab_size) why = "the tokenizer's vocabulary is larger than the encoder's";
    else if (enc->d_model != text_dim) why = "the encoder width differs from the transformer's text_dim";
    else if (tok->pad_id < 0) why = "the tokenizer names no pad token";
    DG_CHECK(!why, "%s: %s (tokenizer %d ids, encoder vocab %d, d_model %d, transformer text_dim %d)", root, why, vocab,
             enc->vocab_size, enc->d_model, text_dim);
    return DG_OK;
}
