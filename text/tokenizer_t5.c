#include "text/tokenizer_t5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"

int dg_tokenizer_class_is_t5(const char *tokenizer_class) {
    return tokenizer_class && (!strcmp(tokenizer_class, "T5Tokenizer") || !strcmp(tokenizer_class, "T5TokenizerFast"));
}

/* The first Precompiled step, at the top or one Sequence level down, as convert_to_native_format
 * looks for it; NULL when there is none (the rebuilt tokenizer then has no normalizer). */
static const cJSON *find_precompiled(const cJSON *norm) {
    if (!cJSON_IsObject(norm)) return NULL;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(norm, "type");
    const cJSON *list = norm;
    if (cJSON_IsString(type) && !strcmp(type->valuestring, "Sequence"))
        list = cJSON_GetObjectItemCaseSensitive(norm, "normalizers");
    else if (cJSON_IsString(type) && !strcmp(type->valuestring, "Precompiled"))
        return cJSON_GetObjectItemCaseSensitive(norm, "precompiled_charsmap") ? norm : NULL;
    if (!cJSON_IsArray(list)) return NULL;
    for (const cJSON *e = list->child; e; e = e->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
        if (cJSON_IsString(t) && !strcmp(t->valuestring, "Precompiled") &&
            cJSON_GetObjectItemCaseSensitive(e, "precompiled_charsmap"))
            return e;
    }
    return NULL;
}

/* Add one token as tokenizers' AddedVocabulary does: skipped when its content is already added,
 * the vocabulary's id when the piece exists, else the next id after the vocabulary and the
 * added tokens. tok: a string (a special token with default flags) or an object with
 * "content" and flags. */
static int add_token(dg_tokenizer *t, const cJSON *tok, const char *ctx, const char *what) {
    const char *content = cJSON_IsString(tok) ? tok->valuestring : NULL;
    if (!content) {
        DG_CHECK(cJSON_IsObject(tok), "%s: %s must be a string or an object with 'content'", ctx, what);
        DG_TRY(dg_json_get_string(ctx, tok, "content", &content, 1));
    }
    if (!content[0]) return DG_OK;
    for (int i = 0; i < t->n_added; i++)
        if (!strcmp(t->added[i].content, content)) return DG_OK;
    int id = dg_unigram_piece_id(&t->model, content, strlen(content));
    if (id < 0) {
        id = t->model.n_vocab;
        for (int i = 0; i < t->n_added; i++)
            if (t->added[i].id >= id) id = t->added[i].id + 1;
    }
    return dg_tokenizer_add(t, content, id, cJSON_IsObject(tok) ? tok : NULL, ctx);
}

static int cmp_id(const void *a, const void *b) {
    double x = cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)a, "id")->valuedouble;
    double y = cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)b, "id")->valuedouble;
    return (x > y) - (x < y);
}

/* tokenizer.json's added_tokens in id order (the legacy source when the config has no
 * added_tokens_decoder). */
static int add_json_added(dg_tokenizer *t, const cJSON *list, const char *ctx) {
    if (!list || cJSON_IsNull(list)) return DG_OK;
    DG_CHECK(cJSON_IsArray(list), "%s: 'added_tokens' must be an array", ctx);
    int n = cJSON_GetArraySize(list), i = 0, rc = DG_OK;
    if (n == 0) return DG_OK;
    const cJSON **v = malloc((size_t)n * sizeof(*v));
    DG_CHECK_ALLOC(v);
    for (const cJSON *e = list->child; e; e = e->next) {
        int64_t id;
        if (!cJSON_IsObject(e) || dg_json_get_int(ctx, e, "id", &id, 1) != DG_OK) {
            free(v);
            return dg_error("%s: added_tokens entries must be objects with an integer 'id'", ctx);
        }
        v[i++] = e;
    }
    qsort(v, (size_t)n, sizeof(*v), cmp_id);
    for (i = 0; i < n && rc == DG_OK; i++) rc = add_token(t, v[i], ctx, "added_tokens entry");
    free(v);
    return rc;
}

/* tokenizer_config.json's added_tokens_decoder {"id": {...}} in id order. */
static int add_decoder(dg_tokenizer *t, const cJSON *dec, const char *ctx) {
    DG_CHECK(cJSON_IsObject(dec), "%s: added_tokens_decoder must be an object", ctx);
    int n = cJSON_GetArraySize(dec), i = 0, rc = DG_OK;
    if (n == 0) return DG_OK;
    const cJSON **v = malloc((size_t)n * sizeof(*v));
    long *ids = malloc((size_t)n * sizeof(*ids));
    if (!v || !ids) {
        free(v), free(ids);
        DG_CHECK_ALLOC(NULL);
    }
    for (const cJSON *e = dec->child; e && rc == DG_OK; e = e->next, i++) {
        char *end;
        ids[i] = strtol(e->string, &end, 10);
        v[i] = e;
        if (end == e->string || *end || ids[i] < 0) rc = dg_error("%s: added_tokens_decoder key '%s' is not an id", ctx, e->string);
    }
    for (int a = 1; a < n && rc == DG_OK; a++) /* insertion sort: ids are nearly in order */
        for (int b = a; b > 0 && ids[b - 1] > ids[b]; b--) {
            long ti = ids[b];
            const cJSON *tv = v[b];
            ids[b] = ids[b - 1], v[b] = v[b - 1];
            ids[b - 1] = ti, v[b - 1] = tv;
        }
    for (i = 0; i < n && rc == DG_OK; i++) rc = add_token(t, v[i], ctx, "added_tokens_decoder entry");
    free(v), free(ids);
    return rc;
}

/* A list of special tokens (strings or objects). */
static int add_list(dg_tokenizer *t, const cJSON *list, const char *ctx, const char *key) {
    DG_CHECK(cJSON_IsArray(list), "%s: %s must be a list of tokens", ctx, key);
    for (const cJSON *e = list->child; e; e = e->next) DG_TRY(add_token(t, e, ctx, key));
    return DG_OK;
}

static const cJSON *nonempty(const cJSON *j, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return v && !cJSON_IsNull(v) && !(cJSON_IsArray(v) && !v->child) ? v : NULL;
}

static int token_id(const dg_tokenizer *t, const cJSON *tok) {
    const cJSON *c = cJSON_IsObject(tok) ? cJSON_GetObjectItemCaseSensitive(tok, "content") : tok;
    for (int i = 0; cJSON_IsString(c) && i < t->n_added; i++)
        if (!strcmp(t->added[i].content, c->valuestring)) return t->added[i].id;
    return -1;
}

int dg_tokenizer_t5_build(dg_tokenizer *t, const cJSON *root, const cJSON *config, const cJSON *special_map,
                          const char *ctx) {
    DG_CHECK(t->model.n_vocab > 2, "%s: a T5 tokenizer needs <unk> at id 2 (the vocabulary has %d pieces)", ctx,
             t->model.n_vocab);
    t->model.unk_id = 2;
    DG_TRY(dg_normalizer_load(&t->normalizer, find_precompiled(cJSON_GetObjectItemCaseSensitive(root, "normalizer")),
                              ctx));
    t->pretok[0] = (dg_pretok_step){.kind = DG_PRETOK_WHITESPACE_SPLIT};
    t->pretok[1] = (dg_pretok_step){.kind = DG_PRETOK_METASPACE, .replacement = "\xe2\x96\x81",
                                    .prepend = DG_PREPEND_ALWAYS, .split = 1};
    t->n_pretok = 2;

    const cJSON *decoder = nonempty(config, "added_tokens_decoder");
    /* special_tokens_map.json is read only when the config has no added_tokens_decoder, and
     * then overrides the config's named tokens. */
    const cJSON *map = decoder ? NULL : special_map;
    DG_CHECK(!nonempty(map, "additional_special_tokens") && !nonempty(map, "extra_special_tokens"),
             "%s: special_tokens_map.json lists extra special tokens without an added_tokens_decoder in "
             "tokenizer_config.json; this is not supported (list them in tokenizer_config.json)", ctx);
    DG_TRY(decoder ? add_decoder(t, decoder, ctx)
                   : add_json_added(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), ctx));
    static const char *const named[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                        "pad_token", "cls_token", "mask_token"};
    cJSON *defaults = cJSON_Parse("{\"eos_token\": \"</s>\", \"unk_token\": \"<unk>\", \"pad_token\": \"<pad>\"}");
    DG_CHECK_ALLOC(defaults);
    const cJSON *eos = NULL, *pad = NULL;
    int rc = DG_OK;
    for (size_t k = 0; k < sizeof named / sizeof *named && rc == DG_OK; k++) {
        const cJSON *v = nonempty(map, named[k]);
        if (!v) v = nonempty(config, named[k]);
        if (!v) v = cJSON_GetObjectItemCaseSensitive(defaults, named[k]);
        if (v) rc = add_token(t, v, ctx, named[k]);
        if (k == 1) eos = v;
        if (k == 4) pad = v;
    }
    int eos_id = token_id(t, eos), pad_id = token_id(t, pad);
    cJSON_Delete(defaults);
    DG_TRY(rc);
    /* additional_special_tokens is the older name of extra_special_tokens; when the config has
     * neither, T5Tokenizer's sentinels <extra_id_k>. */
    const cJSON *extra = nonempty(config, "extra_special_tokens");
    if (!extra) extra = nonempty(config, "additional_special_tokens");
    if (extra) {
        DG_TRY(add_list(t, extra, ctx, "extra_special_tokens"));
    } else {
        int64_t n_extra = 100;
        DG_TRY(dg_json_get_int(ctx, config, "extra_ids", &n_extra, 0));
        DG_CHECK(n_extra >= 0 && n_extra <= 100000, "%s: extra_ids %lld is out of range", ctx, (long long)n_extra);
        for (int64_t i = 0; i < n_extra; i++) {
            char s[32];
            snprintf(s, sizeof s, "<extra_id_%lld>", (long long)i);
            cJSON str = {.type = cJSON_String, .valuestring = s};
            DG_TRY(add_token(t, &str, ctx, "extra_ids"));
        }
    }
    t->suffix[0] = eos_id;
    t->n_suffix = 1;
    t->n_prefix = 0;
    t->pad_id = pad_id;
    t->eos_id = eos_id;
    return DG_OK;
}
