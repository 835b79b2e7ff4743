/* A tokenizer folder is read as diffusers reads it with transformers 5.25.0 (the version that
 * made tests/fixtures/tokenizer/classes.bin, tests/reference/make_tokenizer_classes.py): a
 * tokenizer_config.json naming T5Tokenizer / T5TokenizerFast rebuilds the tokenizer from
 * tokenizer.json's vocabulary and charsmap; PreTrainedTokenizerFast reads tokenizer.json
 * literally. Each variant folder is written from the fixture tokenizer.json and compared id
 * for id on the whole corpus, with its pad id, eos id and vocabulary size; other classes and
 * unsupported settings are refused by name. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/json.h"
#include "tests/test.h"
#include "text/tokenizer.h"

#define FIX DG_TEST_DIR "/fixtures/tokenizer"
#define MAX_LEN 512

static char dir[512];
static uint8_t *bin;
static size_t bin_n, bin_at;

static int next_u16(void) {
    if (bin_at + 2 > bin_n) return -1;
    int v = bin[bin_at] | bin[bin_at + 1] << 8;
    bin_at += 2;
    return v;
}

static const char *path_in(const char *name) {
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static int write_json(const char *path, const cJSON *j) {
    char *text = cJSON_PrintUnformatted(j);
    FILE *f = fopen(path, "wb");
    int ok = text && f && fputs(text, f) >= 0;
    if (f && fclose(f)) ok = 0;
    free(text);
    return ok ? 0 : -1;
}

/* The variant's folder: tokenizer.json with its replacements, its config files. */
static void write_folder(const char *sub, const cJSON *base, const cJSON *v) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    CHECK(mkdir(path, 0755) == 0, "cannot create %s", path);
    cJSON *j = cJSON_Duplicate(base, 1);
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(v, "normalizer");
    if (norm) cJSON_ReplaceItemInObjectCaseSensitive(j, "normalizer", cJSON_Duplicate(norm, 1));
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(v, "model");
    cJSON *jm = cJSON_GetObjectItemCaseSensitive(j, "model");
    for (const cJSON *e = model ? model->child : NULL; e; e = e->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(jm, e->string);
        cJSON_AddItemToObject(jm, e->string, cJSON_Duplicate(e, 1));
    }
    snprintf(path, sizeof path, "%s/%s/tokenizer.json", dir, sub);
    CHECK(write_json(path, j) == 0, "cannot write %s", path);
    snprintf(path, sizeof path, "%s/%s/tokenizer_config.json", dir, sub);
    CHECK(write_json(path, cJSON_GetObjectItemCaseSensitive(v, "tokenizer_config")) == 0, "cannot write %s", path);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(v, "special_tokens_map");
    snprintf(path, sizeof path, "%s/%s/special_tokens_map.json", dir, sub);
    if (map) CHECK(write_json(path, map) == 0, "cannot write %s", path);
    cJSON_Delete(j);
}

static void check_variant(const char *name, const cJSON *base, const cJSON *v, const char **texts, int n) {
    write_folder(name, base, v);
    dg_tokenizer t;
    if (dg_tokenizer_load(&t, path_in(name)) != DG_OK) {
        CHECK(0, "[%s] load: %s", name, dg_last_error());
        return;
    }
    int pad = next_u16(), eos = next_u16(), vocab = next_u16(), same = 0, shown = 0;
    CHECK(t.pad_id == pad && t.eos_id == eos && dg_tokenizer_vocab_size(&t) == vocab,
          "[%s] pad %d eos %d vocab %d, transformers %d %d %d", name, t.pad_id, t.eos_id, dg_tokenizer_vocab_size(&t),
          pad, eos, vocab);
    int32_t ids[MAX_LEN], want[MAX_LEN];
    for (int i = 0; i < n; i++) {
        int cnt = next_u16(), got = -1;
        CHECK(cnt > 0 && cnt <= MAX_LEN, "classes.bin is truncated or corrupt at [%s] text %d", name, i);
        if (cnt <= 0 || cnt > MAX_LEN) break;
        for (int k = 0; k < cnt; k++) want[k] = next_u16();
        int rc = dg_tokenizer_encode(&t, texts[i], MAX_LEN, 0, ids, NULL, &got);
        if (rc == DG_OK && got == cnt && !memcmp(ids, want, (size_t)cnt * sizeof(int32_t))) same++;
        else if (shown++ < 3)
            fprintf(stderr, "  [%s] text %d \"%.60s\": %d ids (first %d), transformers %d (first %d)\n", name, i,
                    texts[i], got, got > 0 ? ids[0] : -1, cnt, want[0]);
    }
    printf("%-20s %d / %d texts id-for-id identical\n", name, same, n);
    CHECK(same == n, "[%s] %d of %d texts differ from transformers", name, n - same, n);
    dg_tokenizer_free(&t);
}

/* Settings transformers applies that this reader does not model. */
static void check_refusals(const cJSON *base) {
    static const struct {
        const char *config, *map, *expect;
    } cases[] = {
        {"{\"tokenizer_class\": \"LlamaTokenizer\"}", NULL, "tokenizer_class 'LlamaTokenizer' is not supported"},
        {"{\"tokenizer_class\": \"T5Tokenizer\", \"padding_side\": \"left\"}", NULL, "padding_side 'left'"},
        {"{\"split_special_tokens\": true}", NULL, "split_special_tokens"},
        {"{\"tokenizer_class\": \"T5Tokenizer\"}", "{\"additional_special_tokens\": [\"<x>\"]}",
         "special_tokens_map.json lists extra special tokens"},
        {"{\"tokenizer_class\": \"T5Tokenizer\", \"extra_ids\": -1}", NULL, "extra_ids -1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[32];
        snprintf(name, sizeof name, "refused%zu", i);
        cJSON *v = cJSON_CreateObject();
        cJSON_AddItemToObject(v, "tokenizer_config", cJSON_Parse(cases[i].config));
        if (cases[i].map) cJSON_AddItemToObject(v, "special_tokens_map", cJSON_Parse(cases[i].map));
        write_folder(name, base, v);
        dg_tokenizer t;
        int rc = dg_tokenizer_load(&t, path_in(name));
        CHECK(rc == DG_ERR && strstr(dg_last_error(), cases[i].expect), "refusal %zu (%s): rc %d '%s'", i,
              cases[i].expect, rc, rc ? dg_last_error() : "");
        if (rc == DG_OK) dg_tokenizer_free(&t);
        cJSON_Delete(v);
    }
}

int main(void) {
    cJSON *corpus = NULL, *classes = NULL, *base = NULL;
    FILE *f = fopen(FIX "/classes.bin", "rb");
    if (dg_json_load(FIX "/corpus.json", &corpus) || dg_json_load(FIX "/classes.json", &classes) ||
        dg_json_load(FIX "/tokenizer.json", &base) || !f || !mkdtemp(strcpy(dir, DG_BINARY_DIR "/tokenizer_classes_XXXXXX"))) {
        fprintf(stderr, "fixture missing: %s (run tests/reference/make_tokenizer_classes.py)\n", dg_last_error());
        return 1;
    }
    fseek(f, 0, SEEK_END);
    bin_n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    bin = malloc(bin_n);
    CHECK(bin && fread(bin, 1, bin_n, f) == bin_n, "cannot read classes.bin");
    fclose(f);
    const cJSON *corpus_texts = cJSON_GetObjectItemCaseSensitive(corpus, "texts");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(classes, "extra_texts");
    int n = cJSON_GetArraySize(corpus_texts) + cJSON_GetArraySize(extra), i = 0;
    const char **texts = malloc((size_t)n * sizeof(*texts));
    for (const cJSON *e = corpus_texts->child; e; e = e->next) texts[i++] = e->valuestring;
    for (const cJSON *e = extra->child; e; e = e->next) texts[i++] = e->valuestring;
    const cJSON *variants = cJSON_GetObjectItemCaseSensitive(classes, "variants");
    for (const cJSON *v = variants->child; v; v = v->next) check_variant(v->string, base, v, texts, n);
    CHECK(bin_at == bin_n, "classes.bin has %zu bytes left over", bin_n - bin_at);
    check_refusals(base);
    free(texts);
    free(bin);
    cJSON_Delete(corpus);
    cJSON_Delete(classes);
    cJSON_Delete(base);
    return TEST_END();
}
