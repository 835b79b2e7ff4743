/* Python's html.unescape: numeric references with its replacements for invalid code points,
 * named references from the full HTML5 table with the longest-prefix rule for names that
 * html5 also knows without ';'. */
#include "text/html_unescape.h"

#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "text/html_entities.h"
#include "text/utf8.h"

/* Python html._invalid_charrefs: C1 controls read as Windows-1252. */
static const uint16_t CP1252[32] = {
    0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x8D,   0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};

/* Code point a numeric reference yields; -1 for none (Python returns ''). */
static int32_t numeric_ref(uint32_t v, int too_big) {
    if (too_big || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || v == 0) return 0xFFFD;
    if (v >= 0x80 && v <= 0x9F) return CP1252[v - 0x80];
    if ((v >= 0x1 && v <= 0x8) || v == 0xB || (v >= 0xE && v <= 0x1F) || v == 0x7F || (v >= 0xFDD0 && v <= 0xFDEF) ||
        (v & 0xFFFE) == 0xFFFE)
        return -1;
    return (int32_t)v;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One html.unescape pass: the regex
 * &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?) and its replacement. */
int dg_html_unescape(const char *s, size_t n, dg_strbuf *out) {
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t a = amp ? (size_t)(amp - s) : n;
        DG_TRY(dg_strbuf_add(out, s + i, a - i));
        if (a == n) break;
        size_t j = a + 1;
        i = a + 1; /* where to go on when nothing matches: the '&' is kept */
        if (j < n && s[j] == '#') {
            int hex = j + 1 < n && (s[j + 1] == 'x' || s[j + 1] == 'X');
            size_t d = j + 1 + (size_t)hex, k = d;
            uint32_t v = 0;
            int big = 0;
            while (k < n && (hex ? hexval(s[k]) >= 0 : (s[k] >= '0' && s[k] <= '9'))) {
                v = v * (hex ? 16 : 10) + (uint32_t)(hex ? hexval(s[k]) : s[k] - '0');
                if (v > 0x10FFFF) big = 1, v = 0x110000;
                k++;
            }
            if (k == d) {
                DG_TRY(dg_strbuf_add(out, "&", 1));
                continue;
            }
            if (k < n && s[k] == ';') k++;
            int32_t cp = numeric_ref(v, big);
            char buf[4];
            if (cp >= 0) DG_TRY(dg_strbuf_add(out, buf, (size_t)dg_utf8_encode((uint32_t)cp, buf)));
            i = k;
            continue;
        }
        /* Up to 32 characters outside [\t\n\f <&#;], then an optional ';'. */
        size_t k = j;
        int chars = 0;
        while (k < n && chars < 32 && !strchr("\t\n\f <&#;", s[k])) {
            k += dg_utf8_len((unsigned char)s[k]);
            chars++;
        }
        int semi = k < n && s[k] == ';';
        const char *value = chars ? dg_html_entity_value(s + j, k - j, semi) : NULL;
        if (value) {
            DG_TRY(dg_strbuf_add(out, value, strlen(value)));
            i = k + (size_t)semi;
            continue;
        }
        /* Else the longest proper prefix of name+';' (at least 2 characters)
         * that is an entity valid without ';'; the rest stays as it is. */
        for (size_t q = k + (size_t)semi - 1; q >= j + 2 && !value; q--)
            if ((value = dg_html_entity_value(s + j, q - j, 0))) i = q;
        if (value) {
            DG_TRY(dg_strbuf_add(out, value, strlen(value)));
            continue;
        }
        DG_TRY(dg_strbuf_add(out, "&", 1));
    }
    return DG_OK;
}
