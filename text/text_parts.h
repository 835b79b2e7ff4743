/* Whether a tokenizer and a text encoder can condition a transformer whose text width is
 * text_dim: every token id has an embedding row, the widths agree, padding has a token.
 * Used when a pipeline loads its text parts and by `ditgen inspect`. */
#ifndef DG_TEXT_TEXT_PARTS_H
#define DG_TEXT_TEXT_PARTS_H

#include "text/t5_encoder.h"
#include "text/tokenizer.h"

/* root names the model folder in the error. */
int dg_text_parts_check(const dg_tokenizer *tok, const dg_t5_config *enc, int text_dim, const char *root);

#endif
