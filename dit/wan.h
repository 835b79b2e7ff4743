/* WanTransformer3DModel (Wan2.1 T2V): config, weight binding by diffusers
 * tensor name with shape checks, and the forward pass. Checkpoints in the
 * original Wan layout (WanModel config, original tensor names) load too. */
#ifndef DG_DIT_WAN_H
#define DG_DIT_WAN_H

#include "attention/plan.h"
#include "core/arena.h"
#include "core/backend.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "parallel/comm.h"

typedef struct dg_wan_config {
    int patch[3]; /* t, h, w */
    int heads, head_dim, dim;
    int in_channels, out_channels;
    int text_dim, freq_dim, ffn_dim, num_layers;
    int cross_attn_norm;
    float eps;
    int rope_max_seq_len;
} dg_wan_config;

typedef struct dg_wan_attn {
    dg_tensor q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;
    dg_tensor norm_q, norm_k; /* RMSNorm across heads */
} dg_wan_attn;

typedef struct dg_wan_block {
    dg_tensor modulation; /* scale_shift_table [6, dim] */
    dg_wan_attn self_attn, cross_attn;
    dg_tensor norm2_w, norm2_b; /* affine LN before cross-attention (may be empty) */
    dg_tensor ffn1_w, ffn1_b, ffn2_w, ffn2_b;
} dg_wan_block;

typedef struct dg_wan_model {
    dg_wan_config cfg;
    dg_backend *be;
    dg_safetensors st;
    dg_tensor patch_w, patch_b; /* patch_w viewed as [dim, C*pt*ph*pw] */
    dg_tensor time1_w, time1_b, time2_w, time2_b, tproj_w, tproj_b;
    dg_tensor text1_w, text1_b, text2_w, text2_b;
    dg_tensor head_modulation; /* [2, dim] */
    dg_tensor proj_out_w, proj_out_b;
    dg_wan_block *blocks;
    dg_weight_store weights; /* f32 copies of small tensors, a small model's widened f16 matrices (and
                              * all weights off the CPU) */
    dg_weight_store rounded; /* the blocks' matrices rounded to bf16 by dg_wan_round_blocks_bf16 */
} dg_wan_model;

/* Temporal RoPE positions of clip parallelism's global keys, which may sit far outside the trained
 * range of offsets from a rank's queries: their true frame (TRUE), clamped to just outside the rank's
 * local scope (CLAMPED), or no temporal rotation at all (NONE: position 0 on the time axis). */
typedef enum { DG_WAN_ROPE_TRUE = 0, DG_WAN_ROPE_CLAMPED, DG_WAN_ROPE_NONE } dg_wan_global_rope;

/* How a forward's tokens are split over the ranks of a communicator.
 * exact: sequence parallelism; each rank computes its share of the tokens through every layer and
 *   self-attention sees every token (keys and values are gathered), as one process would.
 * clip: clip parallelism (Video-Infinity's dual-scope attention on a DiT): each rank owns contiguous
 *   latent frames; its queries attend to a local scope (its frames and `halo` frames from each
 *   neighbour) and a global scope (`global` frames shared by every rank at uniform stride), merged by
 *   log-sum-exp with `phase_bias` added to the global logits at timesteps >= phase_t and to the local
 *   ones below. Local keys carry their true RoPE positions, global ones as global_rope says. */
/* How exact sequence parallelism gives every rank's queries every key: AUTO is ULYSSES when the rank
 * count divides the heads, else ALLGATHER. ULYSSES: all-to-all to whole sequences of heads/N heads
 * and back (K/V bytes per rank: 1/N of the gather's); ALLGATHER: every rank's K/V rows to every rank. */
typedef enum { DG_WAN_KV_AUTO = 0, DG_WAN_KV_ULYSSES, DG_WAN_KV_ALLGATHER } dg_wan_kv_mode;

typedef struct dg_wan_split {
    dg_comm *comm; /* NULL: one process */
    int clip;
    int halo, global;
    float phase_t, phase_bias;
    dg_wan_global_rope global_rope;
    dg_wan_kv_mode kv_mode; /* exact */
    /* 1: every exchange completes before the attention starts (for measuring what overlap hides);
     * 0: the gathers and halo swaps run while the attention over this rank's own keys does */
    int blocking;
} dg_wan_split;

/* What the forwards at one latent size share and never change: the activation arena (sized from the
 * list of tensors it holds), the RoPE tables on the model's backend, the attention plan prepared for
 * the size (its layouts uploaded once), and the hidden state kept for the perturbed pass.
 * Split over ranks, this rank computes tokens [tok0, tok0 + ntok) through every layer; the final
 * projection is gathered from all ranks, so every rank ends with the whole output. */
typedef struct dg_wan_sized {
    int F, H, W, max_text; /* latent frames/height/width, and the longest text context it takes */
    dg_wan_split split;    /* split.comm NULL: one process */
    dg_comm *comm;         /* split.comm */
    int64_t tok0, ntok;    /* this rank's tokens */
    int64_t frame_tokens;  /* tokens per latent frame (patch units) */
    int64_t kv_rows, kv_local; /* rows of the key/value buffers, and where this rank's own rows start */
    int64_t halo_prev, halo_next; /* clip: halo rows from each neighbour (0 at the ends) */
    int64_t global_rows;          /* clip: rows of the global scope (every rank's share), else 0 */
    int ulysses;                  /* exact: heads exchanged all-to-all (split.kv_mode resolved) */
    int64_t uly_rows;             /* ulysses: rows of dim floats holding [tokens, heads/N x head_dim] */
    int partial;                  /* self-attention runs in parts merged by log-sum-exp */
    double comm_seconds;          /* accumulated: time spent in (or waiting for) exchanges */
    double comm_bytes;            /* accumulated: bytes this rank received */
    int64_t *part_rows;    /* [comm->size] tokens per rank; part_floats: scratch for the counts (2 x size) */
    int64_t *part_floats;
    dg_arena arena;
    dg_tensor rope_cos, rope_sin; /* [tokens, head_dim] */
    dg_tensor global_cos, global_sin; /* clip: this rank's RoPE of the global keys [global tokens, head_dim] */
    dg_tensor fork_hidden;        /* [ntok, dim] when made with_fork, else empty */
    dg_attn_plan *plan;           /* borrowed; NULL = dense attention */
    dg_dtype attn_dtype;          /* the attentions' dg_attn_opts.dtype, set by each forward */
} dg_wan_sized;

/* What a text context contributes to every forward, computed once per prompt: each block's
 * cross-attention keys and values ([num_layers x len, dim] each, block-major), from the text
 * embedder's output. Reused across steps and guidance passes; exact. */
typedef struct dg_wan_text {
    dg_tensor k, v;
    int64_t len;
} dg_wan_text;

/* One guidance pass's First-Block Cache across the steps of a generation (sampler/step_cache.h
 * has the policy): block 0 always runs; how much its residual (output minus input) changed since
 * the last step that ran every block decides whether the other blocks run or the residual they
 * made at that step is added to block 0's output instead. */
typedef enum {
    DG_WAN_CACHE_DECIDE, /* reuse when the relative L1 change is below threshold (run without a full step) */
    DG_WAN_CACHE_RUN,    /* run every block */
    DG_WAN_CACHE_REUSE   /* reuse (another pass of the step decided; needs a full step) */
} dg_wan_cache_mode;

typedef struct dg_wan_cache {
    dg_tensor first, rest;  /* [ntok, dim] at the last full step: block 0's residual, the other blocks' */
    dg_tensor *scratch;     /* [ntok, dim], borrowed; the passes of a generation may share one */
    int valid;              /* first and rest hold a full step of this model */
    dg_wan_cache_mode mode; /* in */
    float threshold;        /* in, for DECIDE */
    double change;          /* out: the relative L1 change over all ranks' rows (NaN: no full step to compare) */
    int reused;             /* out: the blocks after the first were skipped */
} dg_wan_cache;

/* Buffers for the rows s computes (one process: every token); scratch as dg_wan_cache.scratch. */
int dg_wan_cache_init(dg_wan_cache *c, dg_wan_model *m, const dg_wan_sized *s, dg_tensor *scratch);
void dg_wan_cache_free(dg_wan_cache *c);

/* Per-call options of a forward (NULL: dense step, no perturbation, no observer). */
typedef struct dg_wan_call {
    int step, steps; /* where in the sampler loop, for the plan */
    /* SoftPAG: [num_layers x heads] blend of each self-attention head toward identity,
     * o_h = (1-u) o_h + u v_h (host memory); NULL: unperturbed. */
    const float *perturb;
    /* The prompt's pass and its perturbed pass are identical up to the first perturbed block, so the
     * perturbed one can start there: DG_WAN_FORK_SAVE keeps the hidden state entering block fork_layer
     * in sized->fork_hidden, DG_WAN_FORK_RESUME starts the pass from it at that block. */
    enum { DG_WAN_FORK_NONE, DG_WAN_FORK_SAVE, DG_WAN_FORK_RESUME } fork;
    int fork_layer;
    /* Observer of intermediate activations (tests, debugging): "patch", "temb", "tproj", "ctx",
     * "block0", "block1", ... */
    void (*tap)(void *user, const char *name, const dg_tensor *t);
    void *user;
    /* The prompt's precomputed cross-attention keys and values (then ctx may be NULL); NULL:
     * computed from ctx in this call. */
    const dg_wan_text *text;
    /* Step caching (NULL: every block runs); not with a fork. Split over ranks, the change is summed
     * over the ranks' rows, so every rank decides alike. */
    dg_wan_cache *cache;
} dg_wan_call;

/* What a forward measured (accumulated over calls). */
typedef struct dg_wan_stats {
    double attn_seconds; /* wall time of self-attention, backend drained around it */
    int64_t blocks;      /* transformer blocks run */
} dg_wan_stats;

/* Tokens after patchify of a latent of F x H x W. */
size_t dg_wan_tokens(const dg_wan_config *cfg, int64_t F, int64_t H, int64_t W);
/* The self-attention geometry of a latent of F x H x W (tokens after patchify). */
dg_attn_geometry dg_wan_attn_geometry(const dg_wan_config *cfg, int F, int H, int W);

/* Parse a transformer config.json: diffusers (WanTransformer3DModel) or the
 * original Wan format (WanModel: dim/num_heads/in_dim...; T2V only). The
 * original has no text_dim: it is left 0 for dg_wan_config_infer. Refuses
 * other classes and I2V features. */
int dg_wan_config_load(dg_wan_config *cfg, const char *config_path);
/* Fill what the config lacks from the tensor shapes: text_dim when it is 0 or,
 * when cfg->dim is 0 (a lone .safetensors file), the whole config. original:
 * the checkpoint uses the original Wan tensor names; path names it in errors. */
int dg_wan_config_infer(dg_wan_config *cfg, const dg_safetensors *st, int original, const char *path);
/* The original Wan name of a diffusers tensor name, written to buf; NULL when it has none. */
const char *dg_wan_original_name(const char *diffusers_name, char *buf, size_t len);
/* path: a transformer folder (config.json + safetensors, sharded or not, or a
 * single .safetensors file of any name), or a .safetensors file (config.json
 * beside it when present, else inferred from the shapes). Either tensor naming. */
int dg_wan_load(dg_wan_model *m, dg_backend *be, const char *path);
/* Run a model with f32 or f16 matrices in bf16, as diffusers' torch_dtype=torch.bfloat16:
 * the blocks' attention and feed-forward matrices (nearly all of the FLOPs) are rounded to bf16 once,
 * into a buffer of their own (half their f32 size), so the CPU's bf16 GEMM and bf16 attention take
 * them; the embedders and the head keep their dtype. CPU models only; a no-op when the matrices are bf16
 * already. Irreversible: computing in f32 afterwards uses the rounded values. */
int dg_wan_round_blocks_bf16(dg_wan_model *m);
/* DG_BF16 when the model runs in bf16 (bf16 block matrices computed in bf16 by a CPU backend that
 * chose it), else DG_F32: what its attentions then compute in. */
dg_dtype dg_wan_compute_dtype(const dg_wan_model *m);
void dg_wan_free(dg_wan_model *m);

/* Backend bytes dg_wan_sized_init takes for a latent of F x H x W and up to L text tokens. */
size_t dg_wan_sized_bytes(const dg_wan_config *cfg, int F, int H, int W, int L, int with_fork);
/* The prompt-only work of every forward, once: ctx [L, text_dim] on m's backend. */
int dg_wan_text_init(dg_wan_text *t, dg_wan_model *m, const dg_tensor *ctx);
void dg_wan_text_free(dg_wan_text *t);
/* Backend bytes a dg_wan_text of L tokens holds. */
size_t dg_wan_text_bytes(const dg_wan_config *cfg, int L);
/* Whether split can take latents of F x H x W (perturbed: with perturbation guidance). */
int dg_wan_split_check(const dg_wan_split *split, const dg_wan_config *cfg, int F, int H, int W, int perturbed);
/* Prepare m for latents of F x H x W and text contexts of up to max_text tokens: checks the size
 * against the patch size and RoPE range, prepares plan (may be NULL) for the geometry on m's backend.
 * split (NULL: one process) spreads the tokens over ranks (dense attention only: a plan is refused;
 * clip: every rank needs at least max(halo, global, 1) latent frames). */
int dg_wan_sized_init(dg_wan_sized *s, dg_wan_model *m, int F, int H, int W, int max_text, dg_attn_plan *plan,
                      int with_fork, const dg_wan_split *split);
void dg_wan_sized_free(dg_wan_sized *s);

/* One forward pass for one sample at the prepared size. x and out are [C, F, H, W] and ctx is
 * [L, text_dim] (L <= max_text; unused when call->text is given), all tensors of m's backend; t is
 * the scheduler timestep.
 * stats (may be NULL) accumulates timings. */
int dg_wan_forward(dg_wan_model *m, dg_wan_sized *s, const dg_tensor *x, float t, const dg_tensor *ctx,
                   dg_tensor *out, const dg_wan_call *call, dg_wan_stats *stats);

#endif
