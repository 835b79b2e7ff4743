/* The tokenizer.json `normalizer` steps a T5/umT5 tokenizer uses: Precompiled
 * (SentencePiece charsmap), Strip, Replace (a literal string, or a regex of
 * one literal character repeated: "c", "c+", "c{n,}"), possibly in a
 * Sequence. Other normalizers (NFKC, Lowercase, ...) are refused by name. */
#ifndef DG_TEXT_NORMALIZER_H
#define DG_TEXT_NORMALIZER_H

#include <cjson/cJSON.h>

#include "text/charsmap.h"
#include "text/strbuf.h"

typedef enum { DG_NORM_PRECOMPILED, DG_NORM_STRIP, DG_NORM_REPLACE } dg_norm_kind;

typedef struct dg_norm_step {
    dg_norm_kind kind;
    dg_charsmap charsmap;    /* PRECOMPILED */
    int strip_left, strip_right; /* STRIP */
    char *pattern;           /* REPLACE: literal text, or the repeated character */
    int min_repeat;          /* REPLACE: 0 = literal string, else at least this many repeats */
    char *content;           /* REPLACE */
} dg_norm_step;

typedef struct dg_normalizer {
    dg_norm_step *steps;
    int n_steps;
} dg_normalizer;

/* json may be NULL or JSON null (no normalization). ctx names the file. */
int dg_normalizer_load(dg_normalizer *nz, const cJSON *json, const char *ctx);
void dg_normalizer_free(dg_normalizer *nz);
/* Normalize valid UTF-8 s[0..n) into *out (reset first). *lead_removed is set
 * when Strip or Replace removed leading characters, so the result no longer
 * starts at the text's original offset (which Metaspace's "first" scheme
 * checks). Characters the charsmap removes do not count: tokenizers aligns the
 * first kept character to the original start then. A step whose output is not
 * UTF-8 (a corrupt charsmap) is an error. */
int dg_normalizer_apply(const dg_normalizer *nz, const char *s, size_t n, dg_strbuf *out, int *lead_removed);

#endif
