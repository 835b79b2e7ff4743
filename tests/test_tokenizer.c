/* Tokenizer parity with Hugging Face tokenizers/transformers on the corpus of
 * tests/reference/make_tokenizer.py (a real nmt_nfkc SentencePiece Unigram
 * model converted by transformers' T5Converter), under the current and older
 * tokenizer.json forms; padding, truncation, refusals, and Wan's prompt cleaning. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "tests/test.h"
#include "text/prompt_clean.h"
#include "text/tokenizer.h"

#define FIX DG_TEST_DIR "/fixtures/tokenizer"
#define MAX_LEN 512

typedef struct {
    uint8_t *p;
    size_t n, at;
} reader;

static int read_file(const char *path, reader *r) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    r->p = malloc((size_t)n);
    r->n = fread(r->p, 1, (size_t)n, f);
    r->at = 0;
    fclose(f);
    return r->n == (size_t)n ? 0 : -1;
}

static int next_u16(reader *r) {
    if (r->at + 2 > r->n) return -1;
    int v = r->p[r->at] | r->p[r->at + 1] << 8;
    r->at += 2;
    return v;
}

static void print_ids(const char *what, const int32_t *ids, int n) {
    fprintf(stderr, "    %s (%d):", what, n);
    for (int i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

/* Encode every text and compare with the next expected block of ids.bin. */
static void check_corpus(const char *name, const dg_tokenizer *t, const cJSON *texts, reader *r) {
    int n = cJSON_GetArraySize(texts), same = 0, shown = 0;
    int32_t ids[MAX_LEN], want[MAX_LEN];
    for (int i = 0; i < n; i++) {
        const char *text = cJSON_GetArrayItem(texts, i)->valuestring;
        int cnt = next_u16(r), got_n = -1;
        CHECK(cnt > 0 && cnt <= MAX_LEN, "ids.bin is truncated or corrupt at text %d", i);
        if (cnt <= 0 || cnt > MAX_LEN) return;
        for (int k = 0; k < cnt; k++) want[k] = next_u16(r);
        if (dg_tokenizer_encode(t, text, MAX_LEN, 0, ids, NULL, &got_n) != DG_OK) {
            fprintf(stderr, "  [%s] text %d: %s\n", name, i, dg_last_error());
            continue;
        }
        if (got_n == cnt && !memcmp(ids, want, (size_t)cnt * sizeof(int32_t))) {
            same++;
        } else if (shown++ < 5) {
            fprintf(stderr, "  [%s] mismatch on text %d: \"%.80s\"\n", name, i, text);
            print_ids("got ", ids, got_n);
            print_ids("want", want, cnt);
        }
    }
    printf("%-14s %d / %d texts id-for-id identical\n", name, same, n);
    CHECK(same == n, "[%s] %d of %d texts differ from Hugging Face", name, n - same, n);
}

/* Replace {"type": "Precompiled", "precompiled_charsmap": "@tokenizer.json"}
 * placeholders with the real charsmap normalizer. */
static void fill_charsmap(cJSON *norm, const cJSON *charsmap) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(norm, "type");
    if (cJSON_IsString(type) && !strcmp(type->valuestring, "Precompiled")) {
        cJSON_ReplaceItemInObjectCaseSensitive(norm, "precompiled_charsmap",
                                               cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(charsmap,
                                                                                                "precompiled_charsmap"),
                                                               1));
        return;
    }
    cJSON *list = cJSON_GetObjectItemCaseSensitive(norm, "normalizers");
    for (cJSON *e = list ? list->child : NULL; e; e = e->next) fill_charsmap(e, charsmap);
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void check_variants(const cJSON *corpus, const cJSON *base, const cJSON *texts, reader *r) {
    const cJSON *charsmap = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(base, "normalizer"), "normalizers"), 0);
    const cJSON *variants = cJSON_GetObjectItemCaseSensitive(corpus, "variants");
    for (const cJSON *v = variants ? variants->child : NULL; v; v = v->next) {
        cJSON *j = cJSON_Duplicate(base, 1);
        cJSON *norm = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(v, "normalizer"), 1);
        fill_charsmap(norm, charsmap);
        cJSON_ReplaceItemInObjectCaseSensitive(j, "normalizer", norm);
        cJSON_ReplaceItemInObjectCaseSensitive(j, "pre_tokenizer",
                                               cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(v, "pre_tokenizer"), 1));
        char *text = cJSON_PrintUnformatted(j);
        char path[1024];
        snprintf(path, sizeof(path), "%s/tokenizer_%s.json", DG_BINARY_DIR, v->string);
        CHECK(write_text(path, text) == 0, "cannot write %s", path);
        dg_tokenizer t;
        CHECK_OK(dg_tokenizer_load(&t, path));
        check_corpus(v->string, &t, texts, r);
        dg_tokenizer_free(&t);
        free(text);
        cJSON_Delete(j);
    }
}

static void check_padded(const dg_tokenizer *t, const cJSON *corpus, const cJSON *texts, reader *r) {
    const cJSON *padded = cJSON_GetObjectItemCaseSensitive(corpus, "padded");
    int32_t ids[MAX_LEN], mask[MAX_LEN], want[MAX_LEN];
    int n = 0, same = 0;
    for (const cJSON *e = padded ? padded->child : NULL; e; e = e->next, n++) {
        const char *text = cJSON_GetArrayItem(texts, e->valueint)->valuestring;
        for (int k = 0; k < MAX_LEN; k++) want[k] = next_u16(r);
        CHECK(r->at + MAX_LEN <= r->n, "ids.bin is truncated in the padded section");
        if (r->at + MAX_LEN > r->n) return;
        const uint8_t *want_mask = r->p + r->at;
        r->at += MAX_LEN;
        int got_n, ok = 1;
        CHECK_OK(dg_tokenizer_encode(t, text, MAX_LEN, 1, ids, mask, &got_n));
        for (int k = 0; k < MAX_LEN; k++) ok &= ids[k] == want[k] && mask[k] == want_mask[k] && mask[k] == (k < got_n);
        same += ok;
        if (!ok) fprintf(stderr, "  padded text %d differs\n", e->valueint);
    }
    printf("padded         %d / %d texts identical (ids and mask)\n", same, n);
    CHECK(n > 0 && same == n, "%d of %d padded encodings differ", n - same, n);
    CHECK(r->at == r->n, "ids.bin has %zu unread bytes", r->n - r->at);
}

/* Explicit truncation cases: HF keeps the first tokens and ends with </s>. */
static void check_truncation(const dg_tokenizer *t) {
    const char *text = "the quick brown fox jumps over the lazy dog at night in the city";
    int32_t full[MAX_LEN], ids[8], mask[8];
    int n_full, n;
    CHECK_OK(dg_tokenizer_encode(t, text, MAX_LEN, 0, full, NULL, &n_full));
    CHECK(n_full > 8 && full[n_full - 1] == t->eos_id, "full encoding has %d tokens", n_full);
    CHECK_OK(dg_tokenizer_encode(t, text, 8, 1, ids, mask, &n));
    CHECK(n == 8 && !memcmp(ids, full, 7 * sizeof(int32_t)) && ids[7] == t->eos_id, "max_len 8 keeps 7 + </s>");
    for (int k = 0; k < 8; k++) CHECK(mask[k] == 1, "mask[%d] of a full row", k);
    CHECK_OK(dg_tokenizer_encode(t, text, 1, 0, ids, mask, &n));
    CHECK(n == 1 && ids[0] == t->eos_id, "max_len 1 leaves only </s>");
    CHECK_OK(dg_tokenizer_encode(t, "", 4, 1, ids, mask, &n));
    CHECK(n == 1 && ids[0] == t->eos_id && ids[1] == t->pad_id && ids[3] == t->pad_id && mask[0] == 1 &&
              mask[1] == 0 && mask[3] == 0,
          "empty text padded: </s> then pads");
    CHECK(dg_tokenizer_encode(t, text, 0, 0, ids, mask, &n) == DG_ERR, "max_len 0 must be refused");
    CHECK(t->eos_id == 1 && t->pad_id == 0, "T5 ids: eos %d pad %d", t->eos_id, t->pad_id);
    CHECK(dg_tokenizer_vocab_size(t) == t->model.n_vocab, "vocab size %d", dg_tokenizer_vocab_size(t));
}

static void check_invalid_utf8(const dg_tokenizer *t) {
    static const struct {
        const char *text;
        const char *where;
    } cases[] = {{"\xff", "byte 0"}, {"ab\xc3", "byte 2"}, {"a\xc0\xaf", "byte 1"}, {"xy\xed\xa0\x80", "byte 2"},
                 {"ok \xf4\x90\x80\x80", "byte 3"}, {"\xe2\x82", "byte 0"}};
    int32_t ids[16];
    int n;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = dg_tokenizer_encode(t, cases[i].text, 16, 0, ids, NULL, &n);
        CHECK(rc == DG_ERR && strstr(dg_last_error(), "UTF-8") && strstr(dg_last_error(), cases[i].where),
              "invalid UTF-8 case %zu: rc %d, '%s'", i, rc, dg_last_error());
    }
    char *out = NULL;
    CHECK(dg_prompt_clean("a\xff", &out) == DG_ERR && strstr(dg_last_error(), "byte 1"), "prompt clean refuses bad UTF-8");
}

/* Each broken file must be refused with a message naming the file and the field. */
static void check_refusals(const char *good_json) {
    static const struct {
        const char *from, *to, *expect;
    } edits[] = {
        {"\"type\":\"Unigram\"", "\"type\":\"BPE\"", "Unigram"},
        {"\"unk_id\":2,", "", "unk_id"},
        {"\"byte_fallback\":false", "\"byte_fallback\":true", "byte_fallback"},
        {"\"vocab\":[[", "\"vocab\":[[3,", "vocab[0]"},
        {"\"type\":\"Strip\"", "\"type\":\"NFKC\"", "NFKC"},
        {"\"Regex\":\" {2,}\"", "\"Regex\":\"\\\\s+\"", "regex"},
        {"\"type\":\"Metaspace\"", "\"type\":\"ByteLevel\"", "ByteLevel"},
        {"\"precompiled_charsmap\":\"", "\"precompiled_charsmap\":\"!", "base64"},
        {"\"model\":{", "\"modelx\":{", "model"},
        {"\"prepend_scheme\":\"always\"", "\"prepend_scheme\":\"sometimes\"", "prepend_scheme"},
        {"\"type\":\"TemplateProcessing\"", "\"type\":\"BertProcessing\"", "post_processor"},
        {"\"normalized\":false", "\"normalized\":true", "normalized"},
        {"{", "{{", "JSON"},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        const char *at = strstr(good_json, edits[i].from);
        CHECK(at != NULL, "refusal case %zu: '%s' not in the fixture", i, edits[i].from);
        if (!at) continue;
        size_t pre = (size_t)(at - good_json), len = strlen(good_json);
        char *bad = malloc(len + strlen(edits[i].to) + 1);
        memcpy(bad, good_json, pre);
        strcpy(bad + pre, edits[i].to);
        strcat(bad, at + strlen(edits[i].from));
        char path[1024];
        snprintf(path, sizeof(path), "%s/tokenizer_bad%zu.json", DG_BINARY_DIR, i);
        CHECK(write_text(path, bad) == 0, "cannot write %s", path);
        dg_tokenizer t;
        int rc = dg_tokenizer_load(&t, path);
        CHECK(rc == DG_ERR && strstr(dg_last_error(), path) && strstr(dg_last_error(), edits[i].expect),
              "refusal case %zu (%s): rc %d, '%s'", i, edits[i].expect, rc, rc ? dg_last_error() : "");
        if (rc == DG_OK) dg_tokenizer_free(&t);
        free(bad);
    }
    dg_tokenizer t;
    CHECK(dg_tokenizer_load(&t, DG_BINARY_DIR "/no_such_dir/tokenizer.json") == DG_ERR, "missing file is refused");
}

static void check_prompt_clean(void) {
    /* Expected outputs from diffusers' prompt_clean without ftfy (Python html + regex). */
    static const char *cases[][2] = {
        {"  a &amp;amp; b  ", "a & b"},
        {"&lt;p&gt;Hi&lt;/p&gt;", "<p>Hi</p>"},
        {"&#65;&#x42;&#X43", "ABC"},
        {"&#128;&#150;", "\xe2\x82\xac\xe2\x80\x93"},
        {"&#0;|&#1;|&#xD800;|&#99999999999;|&#xFFFE;", "\xef\xbf\xbd||\xef\xbf\xbd|\xef\xbf\xbd|"},
        {"&ampx &amp", "&x &"},
        {"&notit; &not", "\xc2\xac" "it; \xc2\xac"},
        {"&unknown; & &; &#; &#x;", "&unknown; & &; &#; &#x;"},
        {"a\xe3\x80\x80\xe3\x80\x80" "b\n\tc\r\n", "a b c"},
        {"\x1c a \x1c", "a"},
        {"a\x1c" "b", "a\x1c" "b"},
        {"&nbsp;x&nbsp;", "x"},
        {"&amp;nbsp;", ""},
        {"&#38;#65;", "A"},
        {"caf&eacute; &eacutex &Eacute;", "caf\xc3\xa9 \xc3\xa9x \xc3\x89"},
        {"&copy2024 &hellip;", "\xc2\xa9" "2024 \xe2\x80\xa6"},
        {"", ""},
        {"x\xc2\xa0\xe2\x80\xa8y\xc2\x85z", "x y z"},
        {"&mdash&quot;", "&mdash\""},
        {"\xe2\x80\x8bzero\xe2\x80\x8b", "\xe2\x80\x8bzero\xe2\x80\x8b"},
        {"&AMP;&AMP", "&&"},
        {"&#x1F600; &#128512;", "\xf0\x9f\x98\x80 \xf0\x9f\x98\x80"},
    };
    int same = 0, n = (int)(sizeof(cases) / sizeof(cases[0]));
    for (int i = 0; i < n; i++) {
        char *out = NULL;
        CHECK_OK(dg_prompt_clean(cases[i][0], &out));
        int ok = out && !strcmp(out, cases[i][1]);
        CHECK(ok, "prompt_clean case %d: got \"%s\", want \"%s\"", i, out ? out : "(null)", cases[i][1]);
        same += ok;
        free(out);
    }
    printf("prompt_clean   %d / %d cases\n", same, n);
}

int main(void) {
    cJSON *corpus = NULL, *base = NULL;
    reader r = {0};
    if (dg_json_load(FIX "/corpus.json", &corpus) != DG_OK || dg_json_load(FIX "/tokenizer.json", &base) != DG_OK ||
        read_file(FIX "/ids.bin", &r) != 0) {
        fprintf(stderr, "fixture missing: %s (run tests/reference/make_tokenizer.py)\n", dg_last_error());
        return 1;
    }
    const cJSON *texts = cJSON_GetObjectItemCaseSensitive(corpus, "texts");
    dg_tokenizer t;
    CHECK_OK(dg_tokenizer_load(&t, FIX)); /* directory form */
    check_corpus("current", &t, texts, &r);
    check_variants(corpus, base, texts, &r);
    check_padded(&t, corpus, texts, &r);
    check_truncation(&t);
    check_invalid_utf8(&t);
    char *good = cJSON_PrintUnformatted(base);
    check_refusals(good);
    free(good);
    check_prompt_clean();
    dg_tokenizer_free(&t);
    cJSON_Delete(corpus);
    cJSON_Delete(base);
    free(r.p);
    return TEST_END();
}
