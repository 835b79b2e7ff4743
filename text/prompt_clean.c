#include "text/prompt_clean.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/html_unescape.h"
#include "text/strbuf.h"
#include "text/utf8.h"

/* Python str.isspace: White_Space plus the separators U+001C..U+001F. */
static int py_isspace(uint32_t cp) { return dg_unicode_is_white_space(cp) || (cp >= 0x1C && cp <= 0x1F); }

/* Trim py_isspace characters from both ends of s[*a..*b). */
static void py_strip(const char *s, size_t *a, size_t *b) {
    while (*a < *b) {
        size_t k = *a;
        if (!py_isspace((uint32_t)dg_utf8_next(s, *b, &k))) break;
        *a = k;
    }
    while (*b > *a) {
        size_t j = *b - 1;
        while (j > *a && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
        size_t k = j;
        if (!py_isspace((uint32_t)dg_utf8_next(s, *b, &k))) break;
        *b = j;
    }
}

static int clean(const char *in, size_t n, dg_strbuf *once, dg_strbuf *twice, dg_strbuf *out) {
    DG_TRY(dg_strbuf_add(once, "", 0));
    DG_TRY(dg_html_unescape(in, n, once));
    DG_TRY(dg_strbuf_add(twice, "", 0));
    DG_TRY(dg_html_unescape(once->p, once->n, twice));
    size_t a = 0, b = twice->n;
    py_strip(twice->p, &a, &b);
    /* regex \s+ -> " " (the regex module's \s is Unicode White_Space). */
    DG_TRY(dg_strbuf_add(out, "", 0));
    for (size_t i = a; i < b;) {
        size_t k = i;
        if (!dg_unicode_is_white_space((uint32_t)dg_utf8_next(twice->p, b, &k))) {
            DG_TRY(dg_strbuf_add(out, twice->p + i, k - i));
            i = k;
            continue;
        }
        while (k < b) {
            size_t m = k;
            if (!dg_unicode_is_white_space((uint32_t)dg_utf8_next(twice->p, b, &m))) break;
            k = m;
        }
        DG_TRY(dg_strbuf_add(out, " ", 1));
        i = k;
    }
    a = 0, b = out->n;
    py_strip(out->p, &a, &b);
    memmove(out->p, out->p + a, b - a);
    out->n = b - a;
    out->p[out->n] = '\0';
    return DG_OK;
}

int dg_prompt_clean(const char *in, char **out) {
    size_t n = strlen(in);
    long bad = dg_utf8_invalid_at(in, n);
    DG_CHECK(bad < 0, "prompt is not valid UTF-8 (byte %ld)", bad);
    dg_strbuf once = {0}, twice = {0}, res = {0};
    int rc = clean(in, n, &once, &twice, &res);
    dg_strbuf_free(&once);
    dg_strbuf_free(&twice);
    if (rc != DG_OK) {
        dg_strbuf_free(&res);
        return DG_ERR;
    }
    *out = res.p;
    return DG_OK;
}
