#include "text/unigram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "text/utf8.h"

#define UNK_PENALTY 10.0
#define EMPTY UINT64_MAX

static size_t edge_slot(const dg_unigram *u, uint64_t key) {
    size_t h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (u->edge_cap - 1);
    while (u->edge_keys[h] != EMPTY && u->edge_keys[h] != key) h = (h + 1) & (u->edge_cap - 1);
    return h;
}

static int child(const dg_unigram *u, int node, unsigned char c) {
    size_t h = edge_slot(u, (uint64_t)node << 8 | c);
    return u->edge_keys[h] == EMPTY ? -1 : u->edge_child[h];
}

static int trie_build(dg_unigram *u) {
    size_t total = 1;
    for (int i = 0; i < u->n_vocab; i++) total += strlen(u->pieces[i]);
    u->edge_cap = 16;
    while (u->edge_cap < 2 * total) u->edge_cap *= 2;
    u->edge_keys = malloc(u->edge_cap * sizeof(uint64_t));
    u->edge_child = malloc(u->edge_cap * sizeof(int32_t));
    u->leaf = malloc(total * sizeof(int32_t));
    DG_CHECK_ALLOC(u->edge_keys && u->edge_child && u->leaf ? u->leaf : NULL); /* freed by the caller */
    memset(u->edge_keys, 0xFF, u->edge_cap * sizeof(uint64_t));
    u->n_nodes = 1;
    u->leaf[0] = -1;
    for (int i = 0; i < u->n_vocab; i++) {
        int node = 0;
        for (const unsigned char *p = (const unsigned char *)u->pieces[i]; *p; p++) {
            uint64_t key = (uint64_t)node << 8 | *p;
            size_t h = edge_slot(u, key);
            if (u->edge_keys[h] == EMPTY) {
                u->edge_keys[h] = key;
                u->edge_child[h] = u->n_nodes;
                u->leaf[u->n_nodes++] = -1;
            }
            node = u->edge_child[h];
        }
        u->leaf[node] = i;
    }
    return DG_OK;
}

int dg_unigram_load(dg_unigram *u, const cJSON *model, const char *ctx) {
    memset(u, 0, sizeof(*u));
    const char *type;
    DG_CHECK(cJSON_IsObject(model), "%s: missing object 'model'", ctx);
    DG_TRY(dg_json_get_string(ctx, model, "type", &type, 1));
    DG_CHECK(!strcmp(type, "Unigram"), "%s: model type '%s' is not supported (only Unigram)", ctx, type);
    int byte_fallback = 0;
    DG_TRY(dg_json_get_bool(ctx, model, "byte_fallback", &byte_fallback, 0));
    DG_CHECK(!byte_fallback, "%s: model.byte_fallback=true is not supported", ctx);
    int64_t unk;
    DG_TRY(dg_json_get_int(ctx, model, "unk_id", &unk, 1));
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    DG_CHECK(cJSON_IsArray(vocab) && cJSON_GetArraySize(vocab) > 0, "%s: model.vocab must be a non-empty array", ctx);
    int n = cJSON_GetArraySize(vocab);
    DG_CHECK(unk >= 0 && unk < n, "%s: model.unk_id %lld is outside the vocab (%d pieces)", ctx, (long long)unk, n);
    u->pieces = calloc((size_t)n, sizeof(char *));
    u->scores = malloc((size_t)n * sizeof(double));
    if (!u->pieces || !u->scores) {
        dg_unigram_free(u);
        DG_CHECK_ALLOC(NULL);
    }
    u->n_vocab = n;
    u->unk_id = (int)unk;
    double min_score = INFINITY;
    int i = 0;
    for (const cJSON *e = vocab->child; e; e = e->next, i++) {
        const cJSON *piece = cJSON_GetArrayItem(e, 0), *score = cJSON_GetArrayItem(e, 1);
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(piece) || !cJSON_IsNumber(score) ||
            piece->valuestring[0] == '\0' ||
            dg_utf8_invalid_at(piece->valuestring, strlen(piece->valuestring)) >= 0) {
            dg_unigram_free(u);
            return dg_error("%s: model.vocab[%d] must be [non-empty UTF-8 piece, score]", ctx, i);
        }
        size_t len = strlen(piece->valuestring) + 1;
        u->pieces[i] = malloc(len);
        if (!u->pieces[i]) {
            dg_unigram_free(u);
            DG_CHECK_ALLOC(NULL);
        }
        memcpy(u->pieces[i], piece->valuestring, len);
        u->scores[i] = score->valuedouble;
        if (score->valuedouble < min_score) min_score = score->valuedouble;
    }
    u->unk_score = min_score - UNK_PENALTY;
    if (trie_build(u) != DG_OK) {
        dg_unigram_free(u);
        return DG_ERR;
    }
    return DG_OK;
}

void dg_unigram_free(dg_unigram *u) {
    for (int i = 0; u->pieces && i < u->n_vocab; i++) free(u->pieces[i]);
    free(u->pieces);
    free(u->scores);
    free(u->leaf);
    free(u->edge_keys);
    free(u->edge_child);
    memset(u, 0, sizeof(*u));
}

int dg_unigram_piece_id(const dg_unigram *u, const char *s, size_t n) {
    int node = 0;
    for (size_t i = 0; i < n && node >= 0; i++) node = child(u, node, (unsigned char)s[i]);
    return node >= 0 ? u->leaf[node] : -1;
}

typedef struct {
    double score;
    int start; /* -1: not reached yet */
    int id;
} best_node;

int dg_unigram_encode(const dg_unigram *u, const char *s, size_t n, int32_t *ids, int cap, int *n_ids) {
    if (n == 0) return DG_OK;
    DG_CHECK(n < (size_t)1 << 30, "unigram: text of %zu bytes is too long", n);
    /* Character lengths below come from lead bytes: they must be whole characters. */
    long bad = dg_utf8_invalid_at(s, n);
    DG_CHECK(bad < 0, "unigram: text is not valid UTF-8 (byte %ld)", bad);
    best_node *best = malloc((n + 1) * sizeof(best_node));
    int *ends = malloc((n + 1) * sizeof(int));
    if (!best || !ends) {
        free(best);
        free(ends);
        DG_CHECK_ALLOC(NULL);
    }
    for (size_t i = 0; i <= n; i++) best[i] = (best_node){0.0, -1, 0};
    /* Forward pass: pieces starting at each character boundary, shortest
     * first; a candidate replaces the best path only when strictly better. */
    for (size_t at = 0; at < n;) {
        double till_here = best[at].score;
        size_t mblen = dg_utf8_len((unsigned char)s[at]);
        int has_single = 0, node = 0;
        for (size_t e = at; e < n; e++) {
            node = child(u, node, (unsigned char)s[e]);
            if (node < 0) break;
            int id = u->leaf[node];
            if (id < 0) continue;
            best_node *t = &best[e + 1];
            double cand = u->scores[id] + till_here;
            if (t->start < 0 || cand > t->score) *t = (best_node){cand, (int)at, id};
            if (e + 1 - at == mblen) has_single = 1;
        }
        if (!has_single) {
            best_node *t = &best[at + mblen];
            double cand = u->unk_score + till_here;
            if (t->start < 0 || cand > t->score) *t = (best_node){cand, (int)at, u->unk_id};
        }
        at += mblen;
    }
    /* Backtrack; runs of unknown pieces become one piece, looked up again as
     * a whole string (HF's token_to_ids), else unk. */
    int n_pieces = 0;
    for (int end = (int)n; end > 0; end = best[end].start) ends[n_pieces++] = end;
    for (int k = n_pieces - 1; k >= 0; k--) {
        int end = ends[k], start = best[end].start, id = best[end].id;
        if (id == u->unk_id) {
            while (k > 0 && best[ends[k - 1]].id == u->unk_id) end = ends[--k];
            int whole = dg_unigram_piece_id(u, s + start, (size_t)(end - start));
            id = whole >= 0 ? whole : u->unk_id;
        }
        if (*n_ids < cap) ids[*n_ids] = id;
        (*n_ids)++;
    }
    free(best);
    free(ends);
    return DG_OK;
}
