/* UTF-8 decoding/encoding and the few Unicode character classes the tokenizer
 * needs. Strings are byte arrays with explicit lengths (no NUL needed). */
#ifndef DG_TEXT_UTF8_H
#define DG_TEXT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decode the code point at s[*i] and advance *i. Returns -1 (and leaves *i)
 * for an invalid sequence: bad lead or continuation byte, truncation,
 * overlong form, surrogate, or a value above U+10FFFF. */
int32_t dg_utf8_next(const char *s, size_t n, size_t *i);
/* For loops over text that may not be UTF-8 (*i < n): as dg_utf8_next, but an
 * invalid byte decodes as U+FFFD and is skipped alone, so *i always advances
 * and never passes n. */
int32_t dg_utf8_next_lossy(const char *s, size_t n, size_t *i);
/* Byte offset of the first invalid sequence in s[0..n), or -1 if valid. */
long dg_utf8_invalid_at(const char *s, size_t n);
/* Length of the character whose lead byte is c, in a string known valid. */
static inline size_t dg_utf8_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }
/* Encode cp (a Unicode scalar value) into out; returns the byte count. */
int dg_utf8_encode(uint32_t cp, char out[4]);
/* Unicode White_Space (Rust char::is_whitespace, the regex module's \s). */
int dg_unicode_is_white_space(uint32_t cp);

#endif
