#include "text/charsmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/grapheme.h"
#include "text/utf8.h"

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 with optional '=' padding; *out is malloc'ed. */
static int b64_decode(const char *s, unsigned char **out, size_t *n_out, const char *ctx) {
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '=') n--;
    DG_CHECK(n % 4 != 1, "%s: precompiled_charsmap is not valid base64 (length)", ctx);
    unsigned char *buf = malloc(n / 4 * 3 + 3);
    DG_CHECK_ALLOC(buf);
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            free(buf);
            return dg_error("%s: precompiled_charsmap is not valid base64 (byte %zu)", ctx, i);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[k++] = (unsigned char)(acc >> bits);
        }
    }
    *out = buf;
    *n_out = k;
    return DG_OK;
}

int dg_charsmap_load(dg_charsmap *m, const char *base64, const char *ctx) {
    memset(m, 0, sizeof(*m));
    unsigned char *blob = NULL;
    size_t n = 0;
    DG_TRY(b64_decode(base64, &blob, &n, ctx));
    uint32_t trie_bytes = n >= 4 ? (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 |
                                       (uint32_t)blob[3] << 24
                                 : 0;
    if (n < 4 || trie_bytes > n - 4 || trie_bytes < 4) {
        free(blob);
        return dg_error("%s: precompiled_charsmap is truncated (trie of %u bytes in a %zu-byte blob)", ctx,
                        trie_bytes, n);
    }
    m->n_units = trie_bytes / 4;
    m->n_normalized = n - 4 - trie_bytes;
    m->units = malloc(m->n_units * sizeof(uint32_t));
    m->normalized = malloc(m->n_normalized + 1);
    if (!m->units || !m->normalized) {
        free(blob);
        dg_charsmap_free(m);
        DG_CHECK_ALLOC(NULL);
    }
    for (size_t i = 0; i < m->n_units; i++) {
        const unsigned char *p = blob + 4 + 4 * i;
        m->units[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
    memcpy(m->normalized, blob + 4 + trie_bytes, m->n_normalized);
    m->normalized[m->n_normalized] = '\0';
    free(blob);
    /* spm_precompiled keeps the strings as a Rust String: they must be UTF-8. */
    long bad = dg_utf8_invalid_at(m->normalized, m->n_normalized);
    if (bad >= 0) {
        dg_charsmap_free(m);
        return dg_error("%s: precompiled_charsmap strings are not valid UTF-8 (byte %ld)", ctx, bad);
    }
    return DG_OK;
}

void dg_charsmap_free(dg_charsmap *m) {
    free(m->units);
    free(m->normalized);
    memset(m, 0, sizeof(*m));
}

/* Darts unit fields. */
static uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static uint32_t unit_label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
static int unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t unit_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* First (shortest) trie key that is a prefix of s[0..n): the replacement
 * string, or NULL. Out-of-range trie positions end the search, where Rust
 * would panic on a corrupt blob. */
static const char *transform(const dg_charsmap *m, const char *s, size_t n) {
    size_t pos = unit_offset(m->units[0]);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0) break;
        pos ^= c;
        if (pos >= m->n_units) return NULL;
        uint32_t u = m->units[pos];
        if (unit_label(u) != c) return NULL;
        pos ^= unit_offset(u);
        if (pos >= m->n_units) return NULL;
        if (unit_has_leaf(u)) {
            uint32_t v = unit_value(m->units[pos]);
            return v <= m->n_normalized ? m->normalized + v : NULL;
        }
    }
    return NULL;
}

int dg_charsmap_normalize(const dg_charsmap *m, const char *s, size_t n, dg_strbuf *out) {
    size_t i = 0;
    while (i < n) {
        size_t end = dg_grapheme_next(s, n, i);
        /* A short cluster whose any prefix is a key is replaced whole (Google's rule, kept by HF). */
        const char *rep = end - i < 6 ? transform(m, s + i, end - i) : NULL;
        if (rep) {
            DG_TRY(dg_strbuf_add(out, rep, strlen(rep)));
            i = end;
            continue;
        }
        while (i < end) {
            size_t next = i;
            dg_utf8_next_lossy(s, end, &next);
            size_t len = next - i;
            rep = transform(m, s + i, len);
            DG_TRY(rep ? dg_strbuf_add(out, rep, strlen(rep)) : dg_strbuf_add(out, s + i, len));
            i += len;
        }
    }
    return DG_OK;
}
