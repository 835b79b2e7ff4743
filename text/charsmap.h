/* SentencePiece precompiled charsmap (the `Precompiled` normalizer of
 * tokenizer.json): a Darts double-array trie over UTF-8 keys whose values
 * index NUL-terminated replacement strings. Mirrors spm_precompiled and
 * tokenizers' normalizers/precompiled.rs, including their grapheme rule. */
#ifndef DG_TEXT_CHARSMAP_H
#define DG_TEXT_CHARSMAP_H

#include <stddef.h>
#include <stdint.h>

#include "text/strbuf.h"

typedef struct dg_charsmap {
    uint32_t *units;   /* double-array trie */
    size_t n_units;
    char *normalized;  /* replacement strings, each NUL-terminated */
    size_t n_normalized;
} dg_charsmap;

/* Decode the base64 blob `[u32 LE trie bytes][trie][strings]`; ctx names the
 * file and field in errors. */
int dg_charsmap_load(dg_charsmap *m, const char *base64, const char *ctx);
void dg_charsmap_free(dg_charsmap *m);
/* Append the normalization of valid UTF-8 s[0..n) to out. */
int dg_charsmap_normalize(const dg_charsmap *m, const char *s, size_t n, dg_strbuf *out);

#endif
