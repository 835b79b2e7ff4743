#include "text/prompt_clean.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/strbuf.h"
#include "text/utf8.h"

/* Named entities from Python's html.entities.html5: name, UTF-8 value, and
 * whether the name is also valid without ';' (the HTML4-era set). */
typedef struct {
    const char *name, *value;
    int bare;
} entity;

static const entity ENTITIES[] = {
    {"AElig", "\xc3\x86", 1},
    {"AMP", "&", 1},
    {"Aacute", "\xc3\x81", 1},
    {"Acirc", "\xc3\x82", 1},
    {"Agrave", "\xc3\x80", 1},
    {"Aring", "\xc3\x85", 1},
    {"Atilde", "\xc3\x83", 1},
    {"Auml", "\xc3\x84", 1},
    {"COPY", "\xc2\xa9", 1},
    {"Ccedil", "\xc3\x87", 1},
    {"Dagger", "\xe2\x80\xa1", 0},
    {"ETH", "\xc3\x90", 1},
    {"Eacute", "\xc3\x89", 1},
    {"Ecirc", "\xc3\x8a", 1},
    {"Egrave", "\xc3\x88", 1},
    {"Euml", "\xc3\x8b", 1},
    {"GT", ">", 1},
    {"Iacute", "\xc3\x8d", 1},
    {"Icirc", "\xc3\x8e", 1},
    {"Igrave", "\xc3\x8c", 1},
    {"Iuml", "\xc3\x8f", 1},
    {"LT", "<", 1},
    {"Ntilde", "\xc3\x91", 1},
    {"Oacute", "\xc3\x93", 1},
    {"Ocirc", "\xc3\x94", 1},
    {"Ograve", "\xc3\x92", 1},
    {"Oslash", "\xc3\x98", 1},
    {"Otilde", "\xc3\x95", 1},
    {"Ouml", "\xc3\x96", 1},
    {"Prime", "\xe2\x80\xb3", 0},
    {"QUOT", "\x22", 1},
    {"REG", "\xc2\xae", 1},
    {"THORN", "\xc3\x9e", 1},
    {"Uacute", "\xc3\x9a", 1},
    {"Ucirc", "\xc3\x9b", 1},
    {"Ugrave", "\xc3\x99", 1},
    {"Uuml", "\xc3\x9c", 1},
    {"Yacute", "\xc3\x9d", 1},
    {"aacute", "\xc3\xa1", 1},
    {"acirc", "\xc3\xa2", 1},
    {"acute", "\xc2\xb4", 1},
    {"aelig", "\xc3\xa6", 1},
    {"agrave", "\xc3\xa0", 1},
    {"amp", "&", 1},
    {"apos", "'", 0},
    {"aring", "\xc3\xa5", 1},
    {"asymp", "\xe2\x89\x88", 0},
    {"atilde", "\xc3\xa3", 1},
    {"auml", "\xc3\xa4", 1},
    {"bdquo", "\xe2\x80\x9e", 0},
    {"brvbar", "\xc2\xa6", 1},
    {"bull", "\xe2\x80\xa2", 0},
    {"ccedil", "\xc3\xa7", 1},
    {"cedil", "\xc2\xb8", 1},
    {"cent", "\xc2\xa2", 1},
    {"clubs", "\xe2\x99\xa3", 0},
    {"copy", "\xc2\xa9", 1},
    {"curren", "\xc2\xa4", 1},
    {"dagger", "\xe2\x80\xa0", 0},
    {"darr", "\xe2\x86\x93", 0},
    {"deg", "\xc2\xb0", 1},
    {"diams", "\xe2\x99\xa6", 0},
    {"divide", "\xc3\xb7", 1},
    {"eacute", "\xc3\xa9", 1},
    {"ecirc", "\xc3\xaa", 1},
    {"egrave", "\xc3\xa8", 1},
    {"emsp", "\xe2\x80\x83", 0},
    {"ensp", "\xe2\x80\x82", 0},
    {"eth", "\xc3\xb0", 1},
    {"euml", "\xc3\xab", 1},
    {"euro", "\xe2\x82\xac", 0},
    {"frac12", "\xc2\xbd", 1},
    {"frac14", "\xc2\xbc", 1},
    {"frac34", "\xc2\xbe", 1},
    {"ge", "\xe2\x89\xa5", 0},
    {"gt", ">", 1},
    {"harr", "\xe2\x86\x94", 0},
    {"hearts", "\xe2\x99\xa5", 0},
    {"hellip", "\xe2\x80\xa6", 0},
    {"iacute", "\xc3\xad", 1},
    {"icirc", "\xc3\xae", 1},
    {"iexcl", "\xc2\xa1", 1},
    {"igrave", "\xc3\xac", 1},
    {"infin", "\xe2\x88\x9e", 0},
    {"iquest", "\xc2\xbf", 1},
    {"iuml", "\xc3\xaf", 1},
    {"laquo", "\xc2\xab", 1},
    {"larr", "\xe2\x86\x90", 0},
    {"ldquo", "\xe2\x80\x9c", 0},
    {"le", "\xe2\x89\xa4", 0},
    {"lrm", "\xe2\x80\x8e", 0},
    {"lsaquo", "\xe2\x80\xb9", 0},
    {"lsquo", "\xe2\x80\x98", 0},
    {"lt", "<", 1},
    {"macr", "\xc2\xaf", 1},
    {"mdash", "\xe2\x80\x94", 0},
    {"micro", "\xc2\xb5", 1},
    {"middot", "\xc2\xb7", 1},
    {"minus", "\xe2\x88\x92", 0},
    {"nbsp", "\xc2\xa0", 1},
    {"ndash", "\xe2\x80\x93", 0},
    {"ne", "\xe2\x89\xa0", 0},
    {"not", "\xc2\xac", 1},
    {"ntilde", "\xc3\xb1", 1},
    {"oacute", "\xc3\xb3", 1},
    {"ocirc", "\xc3\xb4", 1},
    {"ograve", "\xc3\xb2", 1},
    {"ordf", "\xc2\xaa", 1},
    {"ordm", "\xc2\xba", 1},
    {"oslash", "\xc3\xb8", 1},
    {"otilde", "\xc3\xb5", 1},
    {"ouml", "\xc3\xb6", 1},
    {"para", "\xc2\xb6", 1},
    {"permil", "\xe2\x80\xb0", 0},
    {"plusmn", "\xc2\xb1", 1},
    {"pound", "\xc2\xa3", 1},
    {"prime", "\xe2\x80\xb2", 0},
    {"quot", "\x22", 1},
    {"raquo", "\xc2\xbb", 1},
    {"rarr", "\xe2\x86\x92", 0},
    {"rdquo", "\xe2\x80\x9d", 0},
    {"reg", "\xc2\xae", 1},
    {"rlm", "\xe2\x80\x8f", 0},
    {"rsaquo", "\xe2\x80\xba", 0},
    {"rsquo", "\xe2\x80\x99", 0},
    {"sbquo", "\xe2\x80\x9a", 0},
    {"sect", "\xc2\xa7", 1},
    {"shy", "\xc2\xad", 1},
    {"spades", "\xe2\x99\xa0", 0},
    {"sup1", "\xc2\xb9", 1},
    {"sup2", "\xc2\xb2", 1},
    {"sup3", "\xc2\xb3", 1},
    {"szlig", "\xc3\x9f", 1},
    {"thinsp", "\xe2\x80\x89", 0},
    {"thorn", "\xc3\xbe", 1},
    {"times", "\xc3\x97", 1},
    {"trade", "\xe2\x84\xa2", 0},
    {"uacute", "\xc3\xba", 1},
    {"uarr", "\xe2\x86\x91", 0},
    {"ucirc", "\xc3\xbb", 1},
    {"ugrave", "\xc3\xb9", 1},
    {"uml", "\xc2\xa8", 1},
    {"uuml", "\xc3\xbc", 1},
    {"yacute", "\xc3\xbd", 1},
    {"yen", "\xc2\xa5", 1},
    {"yuml", "\xc3\xbf", 1},
    {"zwj", "\xe2\x80\x8d", 0},
    {"zwnj", "\xe2\x80\x8c", 0},
};

static const entity *find_entity(const char *name, size_t len, int semicolon) {
    for (size_t i = 0; i < sizeof(ENTITIES) / sizeof(ENTITIES[0]); i++)
        if (strlen(ENTITIES[i].name) == len && !memcmp(ENTITIES[i].name, name, len) &&
            (semicolon || ENTITIES[i].bare))
            return &ENTITIES[i];
    return NULL;
}

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
static int unescape(const char *s, size_t n, dg_strbuf *out) {
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
        const entity *e = chars ? find_entity(s + j, k - j, semi) : NULL;
        if (e) {
            DG_TRY(dg_strbuf_add(out, e->value, strlen(e->value)));
            i = k + (size_t)semi;
            continue;
        }
        /* Else the longest proper prefix of name+';' (at least 2 characters)
         * that is an entity valid without ';'; the rest stays as it is. */
        size_t best = 0;
        for (size_t p = j; p < k;) {
            size_t q = p + dg_utf8_len((unsigned char)s[p]);
            if (q < k + (size_t)semi && q - j >= 2 && find_entity(s + j, q - j, 0)) best = q;
            p = q;
        }
        if (best) {
            e = find_entity(s + j, best - j, 0);
            DG_TRY(dg_strbuf_add(out, e->value, strlen(e->value)));
            i = best;
            continue;
        }
        DG_TRY(dg_strbuf_add(out, "&", 1));
    }
    return DG_OK;
}

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
    DG_TRY(unescape(in, n, once));
    DG_TRY(dg_strbuf_add(twice, "", 0));
    DG_TRY(unescape(once->p, once->n, twice));
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
