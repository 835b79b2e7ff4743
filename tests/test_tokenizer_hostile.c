/* tokenizer.json files whose normalizer yields text that is not UTF-8 (a
 * Replace with a raw byte, a charsmap mapping into the middle of a character)
 * are refused instead of overflowing the Unigram lattice or looping forever in
 * the pre-tokenizer, the charsmap or the grapheme splitter. An alarm turns a
 * hang into a failure. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "tests/test.h"
#include "text/charsmap.h"
#include "text/grapheme.h"
#include "text/tokenizer.h"

#define HANG_LIMIT_S 20

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "hung: a text loop did not advance\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(1);
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void base64(const unsigned char *p, size_t n, char *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out[k++] = tab[v >> 18 & 63];
        out[k++] = tab[v >> 12 & 63];
        out[k++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[k] = '\0';
}

/* A Darts trie with the one key "a" whose value is `value`, then the strings
 * "\xc3\xa9" (é) NUL: value 1 points into the middle of é. */
static void charsmap_a_to(uint32_t value, char *b64) {
    enum { N_UNITS = 98 };
    unsigned char blob[4 + 4 * N_UNITS + 3] = {0};
    uint32_t units[N_UNITS] = {0};
    units[0] = 1u << 10;                       /* root: offset 1, so 'a' sits at 1 ^ 'a' = 96 */
    units[96] = 'a' | 1u << 8 | 1u << 10;      /* label 'a', has a leaf at 96 ^ 1 = 97 */
    units[97] = value;
    uint32_t trie_bytes = 4 * N_UNITS;
    memcpy(blob, &trie_bytes, 4); /* little-endian hosts only, as the fixtures */
    memcpy(blob + 4, units, sizeof units);
    memcpy(blob + 4 + sizeof units, "\xc3\xa9", 3);
    base64(blob, sizeof blob, b64);
}

static const char *tokenizer_json(const char *normalizer, char *buf, size_t cap) {
    snprintf(buf, cap,
             "{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"a\",-1],[\"b\",-2]]},"
             "\"normalizer\":%s,\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"post_processor\":null}",
             normalizer);
    return buf;
}

static int load(dg_tokenizer *t, const char *normalizer) {
    static char json[4096];
    const char *path = DG_BINARY_DIR "/tokenizer_hostile.json";
    if (write_text(path, tokenizer_json(normalizer, json, sizeof json)) != 0) return DG_ERR;
    return dg_tokenizer_load(t, path);
}

static void check_replace_with_raw_byte(void) {
    dg_tokenizer t;
    int rc = load(&t, "{\"type\":\"Replace\",\"pattern\":{\"String\":\"a\"},\"content\":\"\xf0\"}");
    CHECK(rc == DG_ERR && strstr(dg_last_error(), "content") && strstr(dg_last_error(), "UTF-8"),
          "Replace content \\xf0 must be refused at load: rc %d '%s'", rc, rc ? dg_last_error() : "");
    if (rc == DG_OK) dg_tokenizer_free(&t);
    rc = load(&t, "{\"type\":\"Replace\",\"pattern\":{\"String\":\"\xa9\"},\"content\":\"x\"}");
    CHECK(rc == DG_ERR && strstr(dg_last_error(), "pattern"), "Replace pattern \\xa9 must be refused: rc %d", rc);
    if (rc == DG_OK) dg_tokenizer_free(&t);
}

static void check_charsmap_into_a_character(void) {
    char b64[1024], norm[1200];
    charsmap_a_to(1, b64);
    snprintf(norm, sizeof norm, "{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"%s\"}", b64);
    dg_tokenizer t;
    CHECK_OK(load(&t, norm));
    int32_t ids[16];
    int n = 0;
    int rc = dg_tokenizer_encode(&t, "b a b", 16, 0, ids, NULL, &n);
    CHECK(rc == DG_ERR && strstr(dg_last_error(), "UTF-8"), "charsmap into a character: rc %d '%s'", rc,
          rc ? dg_last_error() : "");
    dg_tokenizer_free(&t);

    charsmap_a_to(0, b64); /* the same trie mapping 'a' to é is fine */
    snprintf(norm, sizeof norm, "{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"%s\"}", b64);
    CHECK_OK(load(&t, norm));
    CHECK_OK(dg_tokenizer_encode(&t, "b a b", 16, 0, ids, NULL, &n));
    CHECK(n == 3 && ids[1] == 0, "a -> \\xc3\\xa9 is unknown: %d ids", n);
    dg_tokenizer_free(&t);
}

/* The loops themselves advance on bytes that are not UTF-8. */
static void check_loops_advance(void) {
    static const char *texts[] = {"\xff", "a\xa9 b", "\xe2\x82", "\xcc\x81\xff\xcc\x81"};
    char b64[1024];
    charsmap_a_to(0, b64);
    dg_charsmap m;
    CHECK_OK(dg_charsmap_load(&m, b64, "test"));
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        size_t n = strlen(texts[k]);
        for (size_t i = 0; i < n;) {
            size_t end = dg_grapheme_next(texts[k], n, i);
            CHECK(end > i && end <= n, "grapheme_next(text %zu, %zu) = %zu", k, i, end);
            i = end > i ? end : n;
        }
        dg_strbuf out = {0};
        CHECK_OK(dg_charsmap_normalize(&m, texts[k], n, &out));
        dg_strbuf_free(&out);
    }
    dg_charsmap_free(&m);

    dg_tokenizer t;
    CHECK_OK(load(&t, "null"));
    int32_t ids[8];
    int n = 0;
    int rc = dg_unigram_encode(&t.model, "a\xf0", 2, ids, 8, &n);
    CHECK(rc == DG_ERR && strstr(dg_last_error(), "byte 1"), "unigram refuses \\xf0: rc %d", rc);
    dg_tokenizer_free(&t);
}

int main(void) {
    signal(SIGALRM, on_alarm);
    alarm(HANG_LIMIT_S);
    check_replace_with_raw_byte();
    check_charsmap_into_a_character();
    check_loops_advance();
    return TEST_END();
}
