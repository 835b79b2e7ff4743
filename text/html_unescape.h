/* Python's html.unescape on UTF-8 text. */
#ifndef DG_TEXT_HTML_UNESCAPE_H
#define DG_TEXT_HTML_UNESCAPE_H

#include <stddef.h>

#include "text/strbuf.h"

/* Appends html.unescape(s[0..n)) to out; DG_ERR on out of memory. */
int dg_html_unescape(const char *s, size_t n, dg_strbuf *out);

#endif
