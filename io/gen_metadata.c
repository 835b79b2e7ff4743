#include "io/gen_metadata.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* A growing string; ok drops to 0 on the first failed allocation. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    int ok;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (!b->ok) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->ok = 0;
            return;
        }
        b->s = p, b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

int dg_infotext_init(dg_infotext *t) {
    memset(t, 0, sizeof *t);
    t->prompt = strdup("");
    t->negative = strdup("");
    if (!t->prompt || !t->negative) {
        dg_infotext_free(t);
        return dg_error("out of memory for the generation parameters");
    }
    return DG_OK;
}

void dg_infotext_free(dg_infotext *t) {
    for (int i = 0; i < t->n; i++) free(t->key[i]), free(t->value[i]);
    free(t->key), free(t->value), free(t->prompt), free(t->negative);
    memset(t, 0, sizeof *t);
}

int dg_infotext_set_prompt(dg_infotext *t, const char *prompt, const char *negative) {
    char *p = strdup(prompt ? prompt : ""), *n = strdup(negative ? negative : "");
    if (!p || !n) {
        free(p), free(n);
        return dg_error("out of memory for the generation parameters");
    }
    free(t->prompt), free(t->negative);
    t->prompt = p, t->negative = n;
    return DG_OK;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int key_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == ' ' || c == '-' || c == '/'; }

int dg_infotext_add(dg_infotext *t, const char *key, const char *value) {
    DG_CHECK(key[0] && (isalnum((unsigned char)key[0]) || key[0] == '_') && key[1], "parameter key '%s' is not a word",
             key);
    for (const char *c = key; *c; c++) DG_CHECK(key_char(*c), "parameter key '%s' holds '%c'", key, *c);
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        char **k = realloc(t->key, (size_t)cap * sizeof *k);
        if (k) t->key = k;
        char **v = realloc(t->value, (size_t)cap * sizeof *v);
        if (v) t->value = v;
        DG_CHECK(k && v, "out of memory for the generation parameters");
        t->cap = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k), free(v);
        return dg_error("out of memory for the generation parameters");
    }
    t->key[t->n] = k, t->value[t->n] = v, t->n++;
    return DG_OK;
}

const char *dg_infotext_get(const dg_infotext *t, const char *key) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->key[i], key)) return t->value[i];
    return NULL;
}

/* json.dumps(v, ensure_ascii=False): UTF-8 passes through, quotes, backslashes and control
 * characters are escaped. */
static void put_quoted(sbuf *b, const char *v) {
    sb_puts(b, "\"");
    for (const char *c = v; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': sb_puts(b, "\\\""); break;
        case '\\': sb_puts(b, "\\\\"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\r': sb_puts(b, "\\r"); break;
        case '\t': sb_puts(b, "\\t"); break;
        case '\b': sb_puts(b, "\\b"); break;
        case '\f': sb_puts(b, "\\f"); break;
        default:
            if ((unsigned char)*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", (unsigned char)*c);
                sb_puts(b, esc);
            } else {
                sb_putn(b, c, 1);
            }
        }
    }
    sb_puts(b, "\"");
}

int dg_infotext_format(const dg_infotext *t, char **out) {
    sbuf b = {.ok = 1};
    sb_puts(&b, t->prompt);
    if (t->negative[0]) {
        sb_puts(&b, "\nNegative prompt: ");
        sb_puts(&b, t->negative);
    }
    for (int i = 0; i < t->n; i++) {
        sb_puts(&b, i ? ", " : "\n");
        sb_puts(&b, t->key[i]);
        sb_puts(&b, ": ");
        /* A1111's quote(): values that would split the line are JSON strings; so are values
         * with white space at an end, which parsing would strip */
        const char *v = t->value[i];
        size_t vn = strlen(v);
        if (strpbrk(v, ",:\"\n") || (vn && (is_space(v[0]) || is_space(v[vn - 1])))) put_quoted(&b, v);
        else sb_puts(&b, t->value[i]);
    }
    if (!b.ok || !b.s) {
        free(b.s);
        return dg_error("out of memory formatting the generation parameters");
    }
    *out = b.s;
    return DG_OK;
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s[i]);
        if (h < 0) return 0;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 1;
}

static void put_utf8(sbuf *b, unsigned cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) u[0] = (char)cp, n = 1;
    else if (cp < 0x800) u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    else if (cp < 0x10000)
        u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3f)), u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    else
        u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3f)), u[2] = (char)(0x80 | (cp >> 6 & 0x3f)),
        u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    sb_putn(b, u, n);
}

/* A JSON string starting at *p (on its opening quote); *p ends past the closing quote.
 * Returns NULL on a malformed string. */
static char *unquote(const char **p) {
    const char *c = *p + 1;
    sbuf b = {.ok = 1};
    sb_puts(&b, "");
    for (; *c && *c != '"'; c++) {
        if (*c != '\\') {
            sb_putn(&b, c, 1);
            continue;
        }
        c++;
        unsigned cp, lo;
        switch (*c) {
        case '"': case '\\': case '/': sb_putn(&b, c, 1); break;
        case 'n': sb_puts(&b, "\n"); break;
        case 'r': sb_puts(&b, "\r"); break;
        case 't': sb_puts(&b, "\t"); break;
        case 'b': sb_puts(&b, "\b"); break;
        case 'f': sb_puts(&b, "\f"); break;
        case 'u':
            if (!hex4(c + 1, &cp)) goto bad;
            c += 4;
            if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair */
                if (c[1] != '\\' || c[2] != 'u' || !hex4(c + 3, &lo) || lo < 0xdc00 || lo > 0xdfff) goto bad;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                c += 6;
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                goto bad;
            }
            if (cp == 0) goto bad; /* would cut the C string */
            put_utf8(&b, cp);
            break;
        default: goto bad;
        }
    }
    if (*c != '"' || !b.ok) goto bad;
    *p = c + 1;
    return b.s;
bad:
    free(b.s);
    return NULL;
}

/* The pairs of one parameters line; the number parsed, or -1 when the line is not one. */
static int parse_params(const char *line, dg_infotext *t) {
    const char *c = line;
    for (;;) {
        while (*c == ' ' || *c == '\t') c++;
        if (!*c) return t->n;
        const char *k = c;
        if (!(isalnum((unsigned char)*c) || *c == '_')) return -1;
        while (key_char(*c)) c++;
        if (*c != ':' || c - k < 2) return -1;
        char key[128];
        size_t klen = (size_t)(c - k);
        while (klen && k[klen - 1] == ' ') klen--;
        if (klen >= sizeof key) return -1;
        memcpy(key, k, klen);
        key[klen] = 0;
        c++;
        while (*c == ' ' || *c == '\t') c++;
        char *v;
        if (*c == '"') {
            if (!(v = unquote(&c))) return -1;
        } else {
            const char *e = strchr(c, ',');
            size_t n = e ? (size_t)(e - c) : strlen(c);
            if (!(v = malloc(n + 1))) return -1;
            memcpy(v, c, n);
            v[n] = 0;
            c += n;
        }
        int rc = dg_infotext_add(t, key, v);
        free(v);
        if (rc) return -1;
        while (*c == ' ' || *c == '\t') c++;
        if (*c == ',') c++;
        else if (*c) return -1;
    }
}

int dg_infotext_parse(const char *ctx, const char *text, dg_infotext *t) {
    DG_TRY(dg_infotext_init(t));
    /* A1111 strips the text and each line */
    while (is_space(*text)) text++;
    size_t len = strlen(text);
    while (len && is_space(text[len - 1])) len--;
    const char *last = text + len;
    while (last > text && last[-1] != '\n') last--;
    char *params = strndup(last, (size_t)(text + len - last));
    DG_CHECK_ALLOC(params);
    int n = parse_params(params, t);
    free(params);
    if (n < 3) { /* not a parameters line: all prompt */
        for (int i = 0; i < t->n; i++) free(t->key[i]), free(t->value[i]);
        t->n = 0;
        last = text + len;
    }
    sbuf prompt = {.ok = 1}, neg = {.ok = 1};
    sb_puts(&prompt, ""), sb_puts(&neg, "");
    int in_negative = 0;
    for (const char *l = text; l < last;) {
        const char *e = memchr(l, '\n', (size_t)(last - l));
        const char *end = e ? e : last, *s = l;
        while (s < end && is_space(*s)) s++;
        while (end > s && is_space(end[-1])) end--;
        if ((size_t)(end - s) >= 16 && !memcmp(s, "Negative prompt:", 16)) {
            in_negative = 1;
            s += 16;
            while (s < end && is_space(*s)) s++;
        }
        sbuf *b = in_negative ? &neg : &prompt;
        if (b->len) sb_puts(b, "\n");
        sb_putn(b, s, (size_t)(end - s));
        l = e ? e + 1 : last;
    }
    if (!prompt.ok || !neg.ok) {
        free(prompt.s), free(neg.s);
        dg_infotext_free(t);
        return dg_error("%s: out of memory parsing the parameters", ctx);
    }
    free(t->prompt), free(t->negative);
    t->prompt = prompt.s, t->negative = neg.s;
    return DG_OK;
}

void dg_format_double(char *buf, int size, double v) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, (size_t)size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}
