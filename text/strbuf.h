/* Growable byte string used while building normalized text. */
#ifndef DG_TEXT_STRBUF_H
#define DG_TEXT_STRBUF_H

#include <stddef.h>

typedef struct dg_strbuf {
    char *p; /* NUL-terminated once anything was appended */
    size_t n, cap;
} dg_strbuf;

/* Append n bytes; DG_ERR on out of memory. */
int dg_strbuf_add(dg_strbuf *b, const char *s, size_t n);
void dg_strbuf_free(dg_strbuf *b);

#endif
