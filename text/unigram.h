/* Unigram language model of a tokenizer.json (`"model": {"type": "Unigram"}`):
 * Viterbi segmentation exactly as Hugging Face tokenizers
 * (models/unigram/model.rs `encode_optimized`), fusing unknown pieces. */
#ifndef DG_TEXT_UNIGRAM_H
#define DG_TEXT_UNIGRAM_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct dg_unigram {
    int n_vocab;
    char **pieces;
    double *scores;
    int unk_id;
    double unk_score;     /* min score - 10 (tokenizers' K_UNK_PENALTY) */
    /* Byte trie: node 0 is the root; edges in an open-addressing hash keyed
     * by (node << 8 | byte). leaf[node] is the id of the piece ending there
     * (the last one in the vocab when a piece repeats, as HF's map keeps). */
    int32_t *leaf;
    int n_nodes;
    uint64_t *edge_keys;  /* UINT64_MAX marks an empty slot */
    int32_t *edge_child;
    size_t edge_cap;
} dg_unigram;

/* Load the "model" object; ctx names the file in errors. */
int dg_unigram_load(dg_unigram *u, const cJSON *model, const char *ctx);
void dg_unigram_free(dg_unigram *u);
/* Id of an exact piece, or -1. */
int dg_unigram_piece_id(const dg_unigram *u, const char *s, size_t n);
/* Segment UTF-8 s[0..n) (other text is refused) and append the ids to ids[*n_ids..cap); ids past
 * cap are counted in *n_ids but not stored. */
int dg_unigram_encode(const dg_unigram *u, const char *s, size_t n, int32_t *ids, int cap, int *n_ids);

#endif
