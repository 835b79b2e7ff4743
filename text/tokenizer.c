#include "text/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/json.h"
#include "text/tokenizer_t5.h"
#include "text/utf8.h"

/* ---- loading ---------------------------------------------------------- */

static int load_metaspace(dg_pretok_step *st, const cJSON *j, const char *ctx) {
    const char *rep, *scheme = NULL;
    int add_prefix_space = -1;
    st->kind = DG_PRETOK_METASPACE;
    st->split = 1;
    DG_TRY(dg_json_get_string(ctx, j, "replacement", &rep, 1));
    size_t i = 0, n = strlen(rep);
    DG_CHECK(dg_utf8_next(rep, n, &i) >= 0 && i == n, "%s: Metaspace 'replacement' must be one character", ctx);
    memcpy(st->replacement, rep, n + 1);
    DG_TRY(dg_json_get_string(ctx, j, "prepend_scheme", &scheme, 0));
    DG_TRY(dg_json_get_bool(ctx, j, "add_prefix_space", &add_prefix_space, 0));
    DG_TRY(dg_json_get_bool(ctx, j, "split", &st->split, 0));
    /* Legacy files have only add_prefix_space: true = always, false = never. */
    st->prepend = add_prefix_space == 0 ? DG_PREPEND_NEVER : DG_PREPEND_ALWAYS;
    if (scheme) {
        if (!strcmp(scheme, "always")) st->prepend = DG_PREPEND_ALWAYS;
        else if (!strcmp(scheme, "first")) st->prepend = DG_PREPEND_FIRST;
        else if (!strcmp(scheme, "never")) st->prepend = DG_PREPEND_NEVER;
        else return dg_error("%s: Metaspace prepend_scheme '%s' is not always/first/never", ctx, scheme);
        DG_CHECK(add_prefix_space != 0 || st->prepend == DG_PREPEND_NEVER,
                 "%s: Metaspace add_prefix_space=false contradicts prepend_scheme '%s'", ctx, scheme);
    }
    return DG_OK;
}

static int load_pretok_step(dg_tokenizer *t, const cJSON *j, const char *ctx) {
    const char *type;
    DG_CHECK(cJSON_IsObject(j), "%s: pre_tokenizer entry must be an object", ctx);
    DG_TRY(dg_json_get_string(ctx, j, "type", &type, 1));
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
        DG_CHECK(cJSON_IsArray(list), "%s: pre_tokenizer Sequence needs an array 'pretokenizers'", ctx);
        for (const cJSON *e = list->child; e; e = e->next) DG_TRY(load_pretok_step(t, e, ctx));
        return DG_OK;
    }
    DG_CHECK(t->n_pretok < DG_TOKENIZER_MAX_PRETOK, "%s: more than %d pre-tokenizers", ctx, DG_TOKENIZER_MAX_PRETOK);
    dg_pretok_step *st = &t->pretok[t->n_pretok++];
    if (!strcmp(type, "WhitespaceSplit")) {
        st->kind = DG_PRETOK_WHITESPACE_SPLIT;
        return DG_OK;
    }
    if (!strcmp(type, "Metaspace")) return load_metaspace(st, j, ctx);
    return dg_error("%s: pre_tokenizer '%s' is not supported (only Metaspace, WhitespaceSplit, Sequence)", ctx, type);
}

int dg_tokenizer_add(dg_tokenizer *t, const char *content, int id, const cJSON *flags, const char *ctx) {
    int normalized = 0, single_word = 0, lstrip = 0, rstrip = 0;
    DG_CHECK(content[0] != '\0', "%s: added token %d has empty content", ctx, t->n_added);
    DG_CHECK(id >= 0 && id < (1 << 30), "%s: added token '%s' has id %d", ctx, content, id);
    if (flags)
        DG_TRY(dg_json_get_bool(ctx, flags, "normalized", &normalized, 0) ||
               dg_json_get_bool(ctx, flags, "single_word", &single_word, 0) ||
               dg_json_get_bool(ctx, flags, "lstrip", &lstrip, 0) || dg_json_get_bool(ctx, flags, "rstrip", &rstrip, 0));
    DG_CHECK(!normalized, "%s: added token '%s' has normalized=true, which is not supported", ctx, content);
    DG_CHECK(!single_word, "%s: added token '%s' has single_word=true, which is not supported", ctx, content);
    if ((t->n_added & (t->n_added - 1)) == 0) { /* grow at 0, 1, 2, 4, ... entries */
        dg_added_token *a = realloc(t->added, (size_t)(t->n_added ? 2 * t->n_added : 1) * sizeof(*a));
        DG_CHECK_ALLOC(a);
        t->added = a;
    }
    size_t len = strlen(content) + 1;
    char *copy = malloc(len);
    DG_CHECK_ALLOC(copy);
    memcpy(copy, content, len);
    t->added[t->n_added++] = (dg_added_token){copy, id, lstrip, rstrip};
    t->added_first[(unsigned char)content[0]] = 1;
    return DG_OK;
}

static int load_added(dg_tokenizer *t, const cJSON *list, const char *ctx) {
    if (!list || cJSON_IsNull(list)) return DG_OK;
    DG_CHECK(cJSON_IsArray(list), "%s: 'added_tokens' must be an array", ctx);
    for (const cJSON *e = list->child; e; e = e->next) {
        const char *content;
        int64_t id;
        DG_CHECK(cJSON_IsObject(e), "%s: added_tokens[%d] must be an object", ctx, t->n_added);
        DG_TRY(dg_json_get_string(ctx, e, "content", &content, 1));
        DG_TRY(dg_json_get_int(ctx, e, "id", &id, 1));
        DG_CHECK(id >= 0 && id < (1 << 30), "%s: added token '%s' has id %lld", ctx, content, (long long)id);
        DG_TRY(dg_tokenizer_add(t, content, (int)id, e, ctx));
    }
    return DG_OK;
}

static int added_id(const dg_tokenizer *t, const char *content) {
    for (int i = 0; i < t->n_added; i++)
        if (!strcmp(t->added[i].content, content)) return t->added[i].id;
    return -1;
}

/* TemplateProcessing "single": specials before and after "$A". */
static int load_post(dg_tokenizer *t, const cJSON *j, const char *ctx) {
    if (!j || cJSON_IsNull(j)) return DG_OK;
    const char *type;
    DG_CHECK(cJSON_IsObject(j), "%s: 'post_processor' must be an object or null", ctx);
    DG_TRY(dg_json_get_string(ctx, j, "type", &type, 1));
    DG_CHECK(!strcmp(type, "TemplateProcessing"), "%s: post_processor '%s' is not supported (only TemplateProcessing)",
             ctx, type);
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(j, "single");
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
    DG_CHECK(cJSON_IsArray(single), "%s: post_processor needs an array 'single'", ctx);
    DG_CHECK(cJSON_IsObject(specials), "%s: post_processor needs an object 'special_tokens'", ctx);
    int seen_a = 0;
    for (const cJSON *e = single->child; e; e = e->next) {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(e, "Sequence");
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
        const char *id;
        if (seq) {
            DG_TRY(dg_json_get_string(ctx, seq, "id", &id, 1));
            DG_CHECK(!strcmp(id, "A") && !seen_a, "%s: post_processor 'single' must use sequence A once", ctx);
            seen_a = 1;
            continue;
        }
        DG_CHECK(cJSON_IsObject(sp), "%s: post_processor 'single' entries must be Sequence or SpecialToken", ctx);
        DG_TRY(dg_json_get_string(ctx, sp, "id", &id, 1));
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(specials, id);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(def, "ids");
        DG_CHECK(cJSON_IsArray(ids), "%s: post_processor special_tokens['%s'] needs an array 'ids'", ctx, id);
        for (const cJSON *v = ids->child; v; v = v->next) {
            int32_t *dst = seen_a ? t->suffix : t->prefix;
            int *n = seen_a ? &t->n_suffix : &t->n_prefix;
            DG_CHECK(cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < (1 << 30) &&
                         v->valuedouble == (double)(int)v->valuedouble,
                     "%s: post_processor special_tokens['%s'].ids must be token ids", ctx, id);
            DG_CHECK(*n < DG_TOKENIZER_MAX_SPECIAL, "%s: post_processor adds too many special tokens", ctx);
            dst[(*n)++] = (int32_t)v->valuedouble;
        }
    }
    DG_CHECK(seen_a, "%s: post_processor 'single' lacks the sequence $A", ctx);
    return DG_OK;
}

/* tokenizer.json read literally (what transformers' PreTrainedTokenizerFast does). */
static int load_json(dg_tokenizer *t, const cJSON *root, const char *ctx) {
    DG_TRY(dg_normalizer_load(&t->normalizer, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), ctx));
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (pre && !cJSON_IsNull(pre)) DG_TRY(load_pretok_step(t, pre, ctx));
    DG_TRY(load_added(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), ctx));
    DG_TRY(load_post(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), ctx));
    /* transformers' pad token for T5 is "<pad>"; a "padding" block overrides. */
    t->pad_id = added_id(t, "<pad>");
    t->eos_id = added_id(t, "</s>");
    const cJSON *padding = cJSON_GetObjectItemCaseSensitive(root, "padding");
    if (padding && !cJSON_IsNull(padding)) {
        int64_t pad_id;
        DG_TRY(dg_json_get_int(ctx, padding, "pad_id", &pad_id, 1));
        t->pad_id = (int)pad_id;
    }
    return DG_OK;
}

/* dir/name parsed into *out, or *out = NULL when the file is absent. */
static int load_beside(const char *dir, const char *name, cJSON **out) {
    char path[4096];
    struct stat sb;
    *out = NULL;
    int len = snprintf(path, sizeof(path), "%s/%s", dir, name);
    DG_CHECK(len > 0 && (size_t)len < sizeof(path), "tokenizer path too long: %s", dir);
    return stat(path, &sb) == 0 ? dg_json_load(path, out) : DG_OK;
}

/* tokenizer_config.json settings that change the ids, for every class. */
static int check_config(const cJSON *config, const char *ctx) {
    const char *side = NULL;
    int split = 0;
    DG_TRY(dg_json_get_bool(ctx, config, "split_special_tokens", &split, 0));
    DG_CHECK(!split, "%s: split_special_tokens=true is not supported", ctx);
    const char *keys[] = {"padding_side", "truncation_side"};
    for (int i = 0; i < 2; i++) {
        DG_TRY(dg_json_get_string(ctx, config, keys[i], &side, 0));
        DG_CHECK(!side || !strcmp(side, "right"), "%s: %s '%s' is not supported (only right)", ctx, keys[i], side);
        side = NULL;
    }
    return DG_OK;
}

/* The class tokenizer_config.json names decides how the folder is read (see tokenizer_t5.h). */
static int load_folder(dg_tokenizer *t, cJSON *root, const char *dir, const char *ctx) {
    cJSON *config = NULL, *map = NULL;
    const char *cls = NULL;
    int rc = load_beside(dir, "tokenizer_config.json", &config);
    if (rc == DG_OK && config) {
        rc = check_config(config, dir);
        if (rc == DG_OK) rc = dg_json_get_string(dir, config, "tokenizer_class", &cls, 0);
    }
    int t5 = dg_tokenizer_class_is_t5(cls);
    if (rc == DG_OK && cls && !t5 && strcmp(cls, "PreTrainedTokenizerFast") && strcmp(cls, "TokenizersBackend"))
        rc = dg_error("%s/tokenizer_config.json: tokenizer_class '%s' is not supported (T5Tokenizer, T5TokenizerFast "
                      "or PreTrainedTokenizerFast)", dir, cls);
    if (rc == DG_OK && t5) {
        struct stat sb;
        char legacy[4096];
        snprintf(legacy, sizeof legacy, "%s/added_tokens.json", dir);
        if (stat(legacy, &sb) == 0) rc = dg_error("%s: added_tokens.json is not supported", dir);
        if (rc == DG_OK) rc = load_beside(dir, "special_tokens_map.json", &map);
        /* transformers builds Unigram(vocab, unk_id=2, byte_fallback=False) whatever the file says. */
        cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "model"), "byte_fallback");
    }
    if (rc == DG_OK) rc = dg_unigram_load(&t->model, cJSON_GetObjectItemCaseSensitive(root, "model"), ctx);
    if (rc == DG_OK) rc = t5 ? dg_tokenizer_t5_build(t, root, config, map, dir) : load_json(t, root, ctx);
    t->t5_rebuilt = t5;
    cJSON_Delete(config);
    cJSON_Delete(map);
    return rc;
}

int dg_tokenizer_load(dg_tokenizer *t, const char *path_or_dir) {
    memset(t, 0, sizeof(*t));
    char path[4096];
    struct stat sb;
    int is_dir = stat(path_or_dir, &sb) == 0 && S_ISDIR(sb.st_mode);
    int len = snprintf(path, sizeof(path), is_dir ? "%s/tokenizer.json" : "%s", path_or_dir);
    DG_CHECK(len > 0 && (size_t)len < sizeof(path), "tokenizer path too long: %s", path_or_dir);
    cJSON *root;
    DG_TRY(dg_json_load(path, &root));
    int rc = is_dir ? load_folder(t, root, path_or_dir, path)
                    : dg_unigram_load(&t->model, cJSON_GetObjectItemCaseSensitive(root, "model"), path) ||
                          load_json(t, root, path);
    cJSON_Delete(root);
    if (rc != DG_OK) {
        dg_tokenizer_free(t);
        return DG_ERR;
    }
    return DG_OK;
}

void dg_tokenizer_free(dg_tokenizer *t) {
    dg_unigram_free(&t->model);
    dg_normalizer_free(&t->normalizer);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    memset(t, 0, sizeof(*t));
}

int dg_tokenizer_vocab_size(const dg_tokenizer *t) {
    int n = t->model.n_vocab;
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].id >= n) n = t->added[i].id + 1;
    return n;
}

/* ---- encoding --------------------------------------------------------- */

typedef struct {
    const dg_tokenizer *t;
    int32_t *ids; /* content ids, at most cap stored */
    int cap, n;
} enc_state;

static void push_id(enc_state *e, int id) {
    if (e->n < e->cap) e->ids[e->n] = id;
    e->n++;
}

static int has_prefix(const char *s, size_t n, const char *p) {
    size_t k = strlen(p);
    return n >= k && !memcmp(s, p, k);
}

/* Run pre-tokenizer steps [step..] on s[0..n), then the model on each piece.
 * at_origin: the piece starts at offset 0 of the original text. */
static int pretokenize(enc_state *e, int step, const char *s, size_t n, int at_origin) {
    if (n == 0) return DG_OK;
    const dg_tokenizer *t = e->t;
    if (step >= t->n_pretok || step >= DG_TOKENIZER_MAX_PRETOK)
        return dg_unigram_encode(&t->model, s, n, e->ids, e->cap, &e->n);
    const dg_pretok_step *st = &t->pretok[step];
    if (st->kind == DG_PRETOK_WHITESPACE_SPLIT) {
        size_t i = 0;
        while (i < n) {
            size_t a = i, j = i;
            while (j < n) { /* skip whitespace */
                size_t k = j;
                if (!dg_unicode_is_white_space((uint32_t)dg_utf8_next_lossy(s, n, &k))) break;
                j = k;
            }
            a = j;
            while (j < n) {
                size_t k = j;
                if (dg_unicode_is_white_space((uint32_t)dg_utf8_next_lossy(s, n, &k))) break;
                j = k;
            }
            DG_TRY(pretokenize(e, step + 1, s + a, j - a, at_origin && a == 0));
            i = j;
        }
        return DG_OK;
    }
    /* Metaspace: spaces become the replacement, which may be prepended, then
     * the text is split before every replacement (MergedWithNext). */
    dg_strbuf b = {0};
    size_t rl = strlen(st->replacement);
    int prepend = !has_prefix(s, n, " ") && !has_prefix(s, n, st->replacement) &&
                  (st->prepend == DG_PREPEND_ALWAYS || (st->prepend == DG_PREPEND_FIRST && at_origin));
    int rc = prepend ? dg_strbuf_add(&b, st->replacement, rl) : DG_OK;
    for (size_t i = 0; i < n && rc == DG_OK; i++)
        rc = s[i] == ' ' ? dg_strbuf_add(&b, st->replacement, rl) : dg_strbuf_add(&b, s + i, 1);
    if (rc == DG_OK && !st->split) rc = pretokenize(e, step + 1, b.p, b.n, at_origin);
    for (size_t a = 0, i = 1; rc == DG_OK && st->split && a < b.n; i++) {
        if (i >= b.n || has_prefix(b.p + i, b.n - i, st->replacement)) {
            rc = pretokenize(e, step + 1, b.p + a, i - a, at_origin && a == 0);
            a = i;
        }
    }
    dg_strbuf_free(&b);
    return rc;
}

/* Normalize and tokenize the raw text between added tokens. */
static int encode_segment(enc_state *e, const char *s, size_t n, size_t raw_start, dg_strbuf *norm) {
    if (n == 0) return DG_OK;
    int lead_removed;
    DG_TRY(dg_normalizer_apply(&e->t->normalizer, s, n, norm, &lead_removed));
    return pretokenize(e, 0, norm->p, norm->n, raw_start == 0 && !lead_removed);
}

/* Longest added token at s[i], or -1. */
static int added_at(const dg_tokenizer *t, const char *s, size_t n, size_t i) {
    int best = -1;
    size_t best_len = 0;
    if (!t->added_first[(unsigned char)s[i]]) return -1;
    for (int k = 0; k < t->n_added; k++) {
        size_t len = strlen(t->added[k].content);
        if (len > best_len && len <= n - i && !memcmp(s + i, t->added[k].content, len)) best = k, best_len = len;
    }
    return best;
}

static size_t skip_ws_back(const char *s, size_t lo, size_t i) {
    while (i > lo) {
        size_t j = i - 1;
        while (j > lo && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
        size_t k = j;
        if (!dg_unicode_is_white_space((uint32_t)dg_utf8_next_lossy(s, i, &k))) break;
        i = j;
    }
    return i;
}

static size_t skip_ws_fwd(const char *s, size_t n, size_t i) {
    while (i < n) {
        size_t k = i;
        if (!dg_unicode_is_white_space((uint32_t)dg_utf8_next_lossy(s, n, &k))) break;
        i = k;
    }
    return i;
}

/* Split on added tokens (leftmost-longest, as tokenizers' AddedVocabulary)
 * and encode the pieces in order. */
static int encode_content(enc_state *e, const char *s, size_t n) {
    const dg_tokenizer *t = e->t;
    dg_strbuf norm = {0};
    size_t done = 0, i = 0;
    int rc = DG_OK;
    while (i < n && rc == DG_OK) {
        int k = added_at(t, s, n, i);
        if (k < 0) {
            i++;
            continue;
        }
        const dg_added_token *a = &t->added[k];
        size_t start = i, stop = i + strlen(a->content);
        if (a->lstrip) start = skip_ws_back(s, done, start);
        if (a->rstrip) stop = skip_ws_fwd(s, n, stop);
        if (done < start) rc = encode_segment(e, s + done, start - done, done, &norm);
        push_id(e, a->id);
        i += strlen(a->content);
        done = stop > i ? stop : i;
    }
    if (rc == DG_OK && done < n) rc = encode_segment(e, s + done, n - done, done, &norm);
    dg_strbuf_free(&norm);
    return rc;
}

int dg_tokenizer_encode(const dg_tokenizer *t, const char *utf8, int max_len, int pad, int32_t *ids, int32_t *mask,
                        int *n_tokens) {
    int n_special = t->n_prefix + t->n_suffix;
    DG_CHECK(max_len >= n_special, "tokenizer: max_len %d leaves no room for the %d special tokens", max_len,
             n_special);
    DG_CHECK(!pad || t->pad_id >= 0, "tokenizer: padding requested but the tokenizer defines no pad token");
    size_t n = strlen(utf8);
    long bad = dg_utf8_invalid_at(utf8, n);
    DG_CHECK(bad < 0, "tokenizer: input text is not valid UTF-8 (byte %ld)", bad);
    enc_state e = {t, ids + t->n_prefix, max_len - n_special, 0};
    DG_TRY(encode_content(&e, utf8, n));
    /* Truncation keeps the first tokens and always leaves room for the specials. */
    int n_content = e.n < e.cap ? e.n : e.cap;
    memcpy(ids, t->prefix, (size_t)t->n_prefix * sizeof(int32_t));
    memcpy(ids + t->n_prefix + n_content, t->suffix, (size_t)t->n_suffix * sizeof(int32_t));
    int total = n_content + n_special;
    for (int i = 0; i < max_len; i++) {
        if (i >= total && pad) ids[i] = t->pad_id;
        if (mask && (i < total || pad)) mask[i] = i < total;
    }
    *n_tokens = total;
    return DG_OK;
}
