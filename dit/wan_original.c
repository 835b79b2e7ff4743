/* Tensor names of the original Wan2.1 checkpoints (Wan-AI/Wan2.1-T2V-*): the
 * inverse of diffusers' convert_wan_transformer_to_diffusers rename table,
 * including the norm2/norm3 swap (original norm3 = cross-attention norm). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dit/wan.h"

typedef struct name_map {
    const char *diffusers, *original; /* name prefixes */
} name_map;

static const name_map top[] = {
    {"patch_embedding.", "patch_embedding."},
    {"condition_embedder.time_embedder.linear_1.", "time_embedding.0."},
    {"condition_embedder.time_embedder.linear_2.", "time_embedding.2."},
    {"condition_embedder.time_proj.", "time_projection.1."},
    {"condition_embedder.text_embedder.linear_1.", "text_embedding.0."},
    {"condition_embedder.text_embedder.linear_2.", "text_embedding.2."},
    {"scale_shift_table", "head.modulation"},
    {"proj_out.", "head.head."},
};

/* after "blocks.{i}." */
static const name_map block[] = {
    {"scale_shift_table", "modulation"},
    {"attn1.to_q.", "self_attn.q."},
    {"attn1.to_k.", "self_attn.k."},
    {"attn1.to_v.", "self_attn.v."},
    {"attn1.to_out.0.", "self_attn.o."},
    {"attn1.norm_q.", "self_attn.norm_q."},
    {"attn1.norm_k.", "self_attn.norm_k."},
    {"attn2.to_q.", "cross_attn.q."},
    {"attn2.to_k.", "cross_attn.k."},
    {"attn2.to_v.", "cross_attn.v."},
    {"attn2.to_out.0.", "cross_attn.o."},
    {"attn2.norm_q.", "cross_attn.norm_q."},
    {"attn2.norm_k.", "cross_attn.norm_k."},
    {"norm2.", "norm3."},
    {"ffn.net.0.proj.", "ffn.0."},
    {"ffn.net.2.", "ffn.2."},
};

/* Writes head + the table's original prefix for the first matching diffusers prefix + the rest. */
static const char *apply(const name_map *t, size_t n, const char *head, int head_len, const char *name, char *buf,
                         size_t len) {
    for (size_t i = 0; i < n; i++) {
        size_t p = strlen(t[i].diffusers);
        if (strncmp(name, t[i].diffusers, p)) continue;
        int w = snprintf(buf, len, "%.*s%s%s", head_len, head, t[i].original, name + p);
        return w >= 0 && (size_t)w < len ? buf : NULL;
    }
    return NULL;
}

const char *dg_wan_original_name(const char *diffusers_name, char *buf, size_t len) {
    if (!strncmp(diffusers_name, "blocks.", 7)) {
        char *end;
        strtol(diffusers_name + 7, &end, 10);
        if (end == diffusers_name + 7 || *end != '.') return NULL;
        return apply(block, sizeof block / sizeof *block, diffusers_name, (int)(end + 1 - diffusers_name), end + 1,
                     buf, len);
    }
    return apply(top, sizeof top / sizeof *top, "", 0, diffusers_name, buf, len);
}
