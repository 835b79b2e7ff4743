#include "text/normalizer.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "text/utf8.h"

/* Regex patterns accepted by Replace: one literal character (optionally
 * backslash-escaped punctuation), then nothing, "+" or "{n,}". This covers
 * " {2,}" of the T5 converters; anything else is refused. */
static int parse_regex(dg_norm_step *st, const char *re, const char *ctx) {
    const char *p = re;
    size_t n = strlen(re), i = 0;
    int escaped = p[0] == '\\';
    if (escaped) i = 1;
    size_t start = i;
    int32_t cp = dg_utf8_next(p, n, &i);
    int ok = cp >= 0;
    if (ok && escaped) ok = cp < 0x80 && strchr(".^$*+?()[]{}|\\/-", (int)cp) != NULL;
    if (ok && !escaped) ok = !(cp < 0x80 && strchr(".^$*+?()[]{}|\\", (int)cp));
    int min = 1;
    if (ok && p[i] == '+') {
        i++;
    } else if (ok && p[i] == '{') {
        char *end;
        long v = strtol(p + i + 1, &end, 10);
        ok = end != p + i + 1 && v >= 1 && v < 1000 && end[0] == ',' && end[1] == '}';
        min = (int)v;
        i = ok ? (size_t)(end + 2 - p) : i;
    }
    DG_CHECK(ok && i == n, "%s: normalizer Replace regex '%s' is not supported (only a literal character, "
             "optionally followed by '+' or '{n,}')", ctx, re);
    st->pattern = malloc(i - start + 1);
    DG_CHECK_ALLOC(st->pattern);
    memcpy(st->pattern, p + start, (size_t)dg_utf8_len((unsigned char)p[start]));
    st->pattern[dg_utf8_len((unsigned char)p[start])] = '\0';
    st->min_repeat = min;
    return DG_OK;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Replace on UTF-8 text keeps it UTF-8 only when its own strings are (the
 * encoder and the pre-tokenizers need UTF-8); tokenizers' JSON reader refuses
 * such files, cJSON copies the raw bytes. */
static int check_utf8(const char *s, const char *field, const char *ctx) {
    long bad = dg_utf8_invalid_at(s, strlen(s));
    DG_CHECK(bad < 0, "%s: normalizer Replace '%s' is not valid UTF-8 (byte %ld)", ctx, field, bad);
    return DG_OK;
}

static int load_step(dg_norm_step *st, const cJSON *j, const char *ctx) {
    const char *type;
    DG_CHECK(cJSON_IsObject(j), "%s: normalizer entry must be an object", ctx);
    DG_TRY(dg_json_get_string(ctx, j, "type", &type, 1));
    if (!strcmp(type, "Precompiled")) {
        const char *blob;
        DG_TRY(dg_json_get_string(ctx, j, "precompiled_charsmap", &blob, 1));
        st->kind = DG_NORM_PRECOMPILED;
        return dg_charsmap_load(&st->charsmap, blob, ctx);
    }
    if (!strcmp(type, "Strip")) {
        st->kind = DG_NORM_STRIP;
        DG_TRY(dg_json_get_bool(ctx, j, "strip_left", &st->strip_left, 1));
        return dg_json_get_bool(ctx, j, "strip_right", &st->strip_right, 1);
    }
    if (!strcmp(type, "Replace")) {
        const char *content, *lit = NULL, *re = NULL;
        st->kind = DG_NORM_REPLACE;
        DG_TRY(dg_json_get_string(ctx, j, "content", &content, 1));
        DG_TRY(check_utf8(content, "content", ctx));
        st->content = dup_str(content);
        DG_CHECK_ALLOC(st->content);
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
        DG_CHECK(cJSON_IsObject(pat), "%s: normalizer Replace needs an object 'pattern'", ctx);
        DG_TRY(dg_json_get_string(ctx, pat, "String", &lit, 0));
        DG_TRY(dg_json_get_string(ctx, pat, "Regex", &re, 0));
        DG_CHECK((lit != NULL) != (re != NULL), "%s: normalizer Replace 'pattern' needs one of 'String', 'Regex'", ctx);
        if (re) return parse_regex(st, re, ctx);
        DG_CHECK(lit[0] != '\0', "%s: normalizer Replace has an empty pattern", ctx);
        DG_TRY(check_utf8(lit, "pattern", ctx));
        st->pattern = dup_str(lit);
        DG_CHECK_ALLOC(st->pattern);
        return DG_OK;
    }
    return dg_error("%s: normalizer '%s' is not supported (only Precompiled, Strip, Replace, Sequence)", ctx, type);
}

int dg_normalizer_load(dg_normalizer *nz, const cJSON *json, const char *ctx) {
    memset(nz, 0, sizeof(*nz));
    if (!json || cJSON_IsNull(json)) return DG_OK;
    const char *type;
    DG_CHECK(cJSON_IsObject(json), "%s: 'normalizer' must be an object or null", ctx);
    DG_TRY(dg_json_get_string(ctx, json, "type", &type, 1));
    const cJSON *list = json;
    int n = 1;
    if (!strcmp(type, "Sequence")) {
        list = cJSON_GetObjectItemCaseSensitive(json, "normalizers");
        DG_CHECK(cJSON_IsArray(list), "%s: normalizer Sequence needs an array 'normalizers'", ctx);
        n = cJSON_GetArraySize(list);
        if (n == 0) return DG_OK;
    }
    nz->steps = calloc((size_t)n, sizeof(*nz->steps));
    DG_CHECK_ALLOC(nz->steps);
    nz->n_steps = n;
    for (int i = 0; i < n; i++) {
        if (load_step(&nz->steps[i], list == json ? json : cJSON_GetArrayItem(list, i), ctx) != DG_OK) {
            dg_normalizer_free(nz);
            return DG_ERR;
        }
    }
    return DG_OK;
}

void dg_normalizer_free(dg_normalizer *nz) {
    for (int i = 0; i < nz->n_steps; i++) {
        dg_charsmap_free(&nz->steps[i].charsmap);
        free(nz->steps[i].pattern);
        free(nz->steps[i].content);
    }
    free(nz->steps);
    memset(nz, 0, sizeof(*nz));
}

static int strip(const dg_norm_step *st, const char *s, size_t n, dg_strbuf *out, int *lead_removed) {
    size_t a = 0, b = n;
    if (st->strip_left) {
        while (a < n) {
            size_t j = a;
            if (!dg_unicode_is_white_space((uint32_t)dg_utf8_next_lossy(s, n, &j))) break;
            a = j;
        }
        if (a > 0) *lead_removed = 1;
    }
    if (st->strip_right) {
        while (b > a) {
            size_t j = b - 1;
            while (j > a && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
            size_t k = j;
            if (!dg_unicode_is_white_space((uint32_t)dg_utf8_next_lossy(s, n, &k))) break;
            b = j;
        }
    }
    return dg_strbuf_add(out, s + a, b - a);
}

static int replace(const dg_norm_step *st, const char *s, size_t n, dg_strbuf *out, int *lead_removed) {
    size_t plen = strlen(st->pattern), clen = strlen(st->content), i = 0, copied = 0;
    while (i + plen <= n) {
        if (memcmp(s + i, st->pattern, plen) != 0) {
            i++;
            continue;
        }
        size_t end = i + plen;
        int reps = 1;
        if (st->min_repeat)
            for (; end + plen <= n && !memcmp(s + end, st->pattern, plen); end += plen) reps++;
        if (reps >= (st->min_repeat ? st->min_repeat : 1)) {
            if (i == 0 && clen == 0) *lead_removed = 1;
            DG_TRY(dg_strbuf_add(out, s + copied, i - copied));
            DG_TRY(dg_strbuf_add(out, st->content, clen));
            copied = end;
        }
        i = end;
    }
    return dg_strbuf_add(out, s + copied, n - copied);
}

int dg_normalizer_apply(const dg_normalizer *nz, const char *s, size_t n, dg_strbuf *out, int *lead_removed) {
    dg_strbuf tmp = {0};
    *lead_removed = 0;
    out->n = 0;
    DG_TRY(dg_strbuf_add(out, s, n));
    for (int k = 0; k < nz->n_steps; k++) {
        const dg_norm_step *st = &nz->steps[k];
        tmp.n = 0;
        int rc = st->kind == DG_NORM_PRECOMPILED
                     ? dg_charsmap_normalize(&st->charsmap, out->p, out->n, &tmp)
                 : st->kind == DG_NORM_STRIP ? strip(st, out->p, out->n, &tmp, lead_removed)
                                             : replace(st, out->p, out->n, &tmp, lead_removed);
        if (rc == DG_OK) rc = dg_strbuf_add(&tmp, "", 0); /* keep tmp.p non-NULL for the swap */
        /* A corrupt charsmap can map a character to the middle of another one. */
        long bad = rc == DG_OK ? dg_utf8_invalid_at(tmp.p, tmp.n) : -1;
        if (bad >= 0)
            rc = dg_error("tokenizer: normalizer step %d produced text that is not UTF-8 (byte %ld): corrupt "
                          "precompiled_charsmap", k, bad);
        if (rc != DG_OK) {
            dg_strbuf_free(&tmp);
            return DG_ERR;
        }
        dg_strbuf swap = *out;
        *out = tmp;
        tmp = swap;
    }
    dg_strbuf_free(&tmp);
    return DG_OK;
}
