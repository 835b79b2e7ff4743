/* SentencePiece-Unigram tokenizer (T5 / umT5) driven by a Hugging Face
 * tokenizer.json, producing the same ids as the `tokenizers` library with
 * add_special_tokens=True, truncation=True, padding="max_length":
 *   1. added tokens (</s>, <pad>, <extra_id_k>, ...) are split out of the raw
 *      text (leftmost-longest), each remaining segment is normalized
 *      (normalizer.h), pre-tokenized (WhitespaceSplit / Metaspace) and
 *      segmented by the Unigram model (unigram.h);
 *   2. content is truncated to leave room for the post-processor's special
 *      tokens (TemplateProcessing, e.g. "$A </s>"), which are then added;
 *   3. padding on the right with the pad id, attention mask 0 there. */
#ifndef DG_TEXT_TOKENIZER_H
#define DG_TEXT_TOKENIZER_H

#include <stdint.h>

#include "text/normalizer.h"
#include "text/unigram.h"

typedef struct dg_added_token {
    char *content;
    int id;
    int lstrip, rstrip; /* absorb whitespace on that side into the token */
} dg_added_token;

typedef enum { DG_PRETOK_WHITESPACE_SPLIT, DG_PRETOK_METASPACE } dg_pretok_kind;
typedef enum { DG_PREPEND_ALWAYS, DG_PREPEND_FIRST, DG_PREPEND_NEVER } dg_prepend_scheme;

typedef struct dg_pretok_step {
    dg_pretok_kind kind;
    char replacement[5]; /* Metaspace: UTF-8 of the replacement character */
    dg_prepend_scheme prepend;
    int split;
} dg_pretok_step;

#define DG_TOKENIZER_MAX_PRETOK 4
#define DG_TOKENIZER_MAX_SPECIAL 8

typedef struct dg_tokenizer {
    dg_unigram model;
    dg_normalizer normalizer;
    dg_pretok_step pretok[DG_TOKENIZER_MAX_PRETOK];
    int n_pretok;
    dg_added_token *added;
    int n_added;
    unsigned char added_first[256]; /* first bytes of added tokens, to skip most positions */
    int32_t prefix[DG_TOKENIZER_MAX_SPECIAL], suffix[DG_TOKENIZER_MAX_SPECIAL]; /* template specials */
    int n_prefix, n_suffix;
    int pad_id; /* -1 when the file names no pad token */
    int eos_id; /* id of "</s>" (the eos token when rebuilt), or -1 */
    int t5_rebuilt; /* built as transformers builds T5Tokenizer (text/tokenizer_t5.h), not read literally */
} dg_tokenizer;

/* path_or_dir: a tokenizer.json (read literally), or a directory holding one, read as
 * transformers reads it: literally, unless tokenizer_config.json names T5Tokenizer or
 * T5TokenizerFast (rebuilt as text/tokenizer_t5.h says). Refuses other classes and models,
 * unsupported components, malformed or incomplete files. */
int dg_tokenizer_load(dg_tokenizer *t, const char *path_or_dir);
void dg_tokenizer_free(dg_tokenizer *t);
/* Append an added token (text/tokenizer_t5.c builds its list with it). flags: an object with
 * optional lstrip/rstrip/normalized/single_word, or NULL for none. */
int dg_tokenizer_add(dg_tokenizer *t, const char *content, int id, const cJSON *flags, const char *ctx);

/* Encode NUL-terminated UTF-8 text (invalid UTF-8 is an error giving the byte
 * offset). ids (and mask, which may be NULL) hold max_len entries; the result
 * is truncated to max_len including the special tokens. With pad != 0 the
 * rest is filled with the pad id and mask 0. *n_tokens = tokens before
 * padding (including the special tokens). */
int dg_tokenizer_encode(const dg_tokenizer *t, const char *utf8, int max_len, int pad, int32_t *ids, int32_t *mask,
                        int *n_tokens);
/* Model vocabulary plus added tokens outside it. */
int dg_tokenizer_vocab_size(const dg_tokenizer *t);

#endif
