/* T5-family text encoders in the transformers layout: UMT5EncoderModel
 * (umT5-XXL, Wan2.1's text encoder: every layer owns a relative position bias
 * table) and T5EncoderModel (T5 v1.1 / T5: layer 0's table is shared by all
 * layers). Config from config.json, weight binding by transformers tensor name
 * with shape checks, and the forward pass through the backend table (CPU or
 * CUDA); only the embedding lookup runs on the host, from the mmap.
 * The reference is transformers' modeling_t5.py / modeling_umt5.py; tests/test_umt5.c
 * checks parity against fixtures made by tests/reference/. */
#ifndef DG_TEXT_T5_ENCODER_H
#define DG_TEXT_T5_ENCODER_H

#include <stdint.h>

#include "core/arena.h"
#include "core/backend.h"
#include "io/safetensors.h"
#include "io/weights.h"

typedef struct dg_t5_config {
    int vocab_size, d_model, d_kv, num_heads, d_ff, num_layers;
    int num_buckets, max_distance; /* relative_attention_* */
    int gated;                     /* "gated-gelu": gelu_new(wi_0 x) * wi_1 x; else "relu": relu(wi x) */
    int per_layer_bias;            /* umt5: each layer has its own relative_attention_bias */
    float eps;                     /* layer_norm_epsilon */
} dg_t5_config;

typedef struct dg_t5_layer {
    dg_tensor ln_attn, q, k, v, o;
    dg_tensor rel_bias; /* [buckets, heads] f32; empty on T5 layers > 0 */
    dg_tensor ln_ff, wi0, wi1, wo; /* wi0 is `wi` when not gated; wi1 then empty */
} dg_t5_layer;

typedef struct dg_t5_encoder {
    dg_t5_config cfg;
    dg_backend *be;
    dg_safetensors st;
    const dg_st_tensor *embed; /* [vocab, d_model], stays in the mmap: only looked-up rows are converted */
    dg_tensor final_ln;
    dg_t5_layer *layers;
    dg_weight_store weights; /* f32 copies of small tensors (and all weights off the CPU) */
    dg_arena arena; /* activations and attention biases, grown to the longest sequence seen */
} dg_t5_encoder;

/* Parse a transformers config.json (model_type "umt5", "t5" or "mt5"). */
int dg_t5_config_load(dg_t5_config *cfg, const char *config_path);
/* dir: a `text_encoder/` folder (config.json + model.safetensors, sharded or
 * not). Decoder and lm_head tensors of a full checkpoint are ignored; any
 * other tensor the config does not account for is refused. */
int dg_t5_load(dg_t5_encoder *e, dg_backend *be, const char *dir);
void dg_t5_free(dg_t5_encoder *e);

/* last_hidden_state for one sequence: ids and mask (1 keep, 0 padding; NULL
 * = all ones) of length len; out is host memory [len, d_model]. Padded
 * positions are encoded too (as transformers does). */
int dg_t5_encode(dg_t5_encoder *e, const int32_t *ids, const int32_t *mask, int len, float *out);

/* Wan text path (diffusers WanPipeline._get_t5_prompt_embeds): rows at and
 * past seq_len = number of nonzero mask entries are zero, the first seq_len
 * rows are the encoder output. When the mask is a right-padded prefix only
 * those seq_len tokens are encoded (padded keys get exactly zero weight, so
 * the kept rows are the same). */
int dg_t5_encode_wan(dg_t5_encoder *e, const int32_t *ids, const int32_t *mask, int len, float *out);

/* Bidirectional relative position bucket of memory_pos - query_pos, exactly
 * as transformers' _relative_position_bucket (float32 log, truncation). */
int dg_t5_bucket(int relative_position, int num_buckets, int max_distance);

#endif
