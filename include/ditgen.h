/* ditgen public C API: load a model once, generate many times.
 * All functions return DG_OK (0) on success and DG_ERR (-1) on error;
 * dg_last_error() gives one line naming the file, tensor or parameter at fault
 * (ditgen_error.h). This header and ditgen_error.h are all an API user needs. */
#ifndef DITGEN_H
#define DITGEN_H

#include <signal.h>
#include <stdint.h>

#include "ditgen_error.h"

typedef struct dg_pipeline dg_pipeline;

typedef enum { DG_SAMPLE_UNIPC = 0, DG_SAMPLE_EULER = 1 } dg_sample_method;

/* The names "unipc" and "euler", used by flags, job files and image metadata alike. parse
 * fails naming the parameter "sampler" and the known names. */
int dg_sample_method_parse(const char *name, dg_sample_method *m);
const char *dg_sample_method_name(dg_sample_method m);

/* Generation defaults of a model folder: diffusers' WanPipeline defaults,
 * the sampler and shift of scheduler/scheduler_config.json, then an optional
 * "_ditgen_defaults" object in model_index.json (width, height, num_frames,
 * num_inference_steps, guidance_scale, fps, negative_prompt, max_sequence_length). */
typedef struct dg_model_defaults {
    int width, height, frames, steps, fps;
    float cfg_scale;
    double flow_shift;
    dg_sample_method sampler;
    const char *negative_prompt; /* owned by the pipeline; "" when none */
    int max_sequence_length;     /* text slots a prompt encodes to (diffusers' 512 unless the folder says) */
    /* Two-expert folders (transformer_2/, model_index.json's boundary_ratio; 0 = one transformer):
     * steps at t >= boundary_ratio x num_train_timesteps run transformer/ with the guidance scale,
     * later ones transformer_2/ with cfg_scale_2 (_ditgen_defaults.guidance_scale_2; 0 = the same). */
    double boundary_ratio;
    float cfg_scale_2;
    /* model_index.json's expand_timesteps (Wan2.2 TI2V-5B): per-token timesteps, all equal to the
     * step's t in text-to-video, so they run as the scalar one */
    int expand_timesteps;
} dg_model_defaults;

typedef struct dg_model_info {
    int in_channels, out_channels, text_dim;
    int pixel_space;                      /* no VAE: the model's output channels are RGB */
    int has_vae;                          /* vae/ present: latents decode to RGB frames */
    int temporal_factor, spatial_factor;  /* pixels per latent cell (1 in pixel space) */
    int patch[3];
    int num_layers, dim;
    dg_model_defaults defaults;
} dg_model_info;

/* A self-attention head by transformer block and head index (0-based); head -1: every head of the block. */
typedef struct dg_head {
    int layer, head;
} dg_head;

/* Bounds on any generation's size, whatever the model (which adds its own rules: multiples of
 * its VAE factor x patch, 4k+1 frames for the Wan VAE, its RoPE range): they keep every size
 * product in range. dg_pipeline_check refuses sizes outside them. */
#define DG_MAX_SIDE 16384    /* width and height in pixels */
#define DG_MAX_FRAMES 100000

/* Called after each denoising step (step counts from 1). */
typedef void (*dg_progress_fn)(void *user, int step, int steps);
/* Called after every preview_every-th step (and the last) with the sampler's current estimate of the
 * final latents, x0 = x - sigma v ([C, F, H, W] as the latents; valid during the call). */
typedef void (*dg_preview_fn)(void *user, int step, int steps, const float *x0);

typedef struct dg_gen_params {
    int width, height, frames, steps;
    float cfg_scale;      /* <= 1 disables classifier-free guidance */
    float cfg_scale_2;    /* two-expert folders: guidance of transformer_2's steps; 0 = the folder's, else cfg_scale */
    double flow_shift;
    dg_sample_method sampler;
    uint64_t seed;
    const float *context; /* [context_len, text_dim] text embeddings */
    int context_len;
    const float *negative; /* [negative_len, text_dim]; required when cfg_scale > 1 */
    int negative_len;
    /* Head-level perturbation guidance (SoftPAG; PAG at pag_u = 1), on when pag_scale > 0: one more
     * pass per step on the prompt with the listed heads' self-attention blended toward identity by
     * pag_u in (0, 1], then v = v_uncond + cfg (v_cond - v_uncond) + pag_scale (v_cond - v_perturbed). */
    float pag_scale, pag_u;
    const dg_head *pag_heads;
    int n_pag_heads;
    /* NULL, or a flag (a signal handler's) read before each denoising step: non-zero stops the
     * generation there with an error naming the step. The library installs no handler. */
    const volatile sig_atomic_t *cancel;
    /* The decode the caller will run after, counted in the memory check: dg_pipeline_decode's
     * vae_tile (0: whole frames), or -1 when only the latents are kept. */
    int vae_tile;
    dg_preview_fn preview; /* NULL: none */
    void *preview_user;
    int preview_every;     /* <= 0: every step */
} dg_gen_params;


typedef struct dg_gen_timing {
    double denoise_s, model_s, attention_s; /* attention_s: self-attention inside model_s */
    /* parallel generation: this rank's time in (or waiting for) exchanges, and the bytes it received */
    double comm_s, comm_bytes;
    int steps_reused; /* step caching: steps that skipped the blocks after the first */
    int64_t blocks_run; /* transformer blocks run, over every guidance pass and step */
} dg_gen_timing;

/* model: a diffusers folder (with transformer/) or a transformer folder.
 * device: NULL or "cpu", or "cuda[:N]" for the text encoder, the transformer
 * and the VAE on a GPU (builds with CUDA). threads <= 0: all cores. */
int dg_pipeline_open(dg_pipeline **p, const char *model, const char *device, int threads);
/* How the CPU computes linears with bf16 weights: "bf16" (a bf16 GEMM with f32 accumulation, the
 * activations rounded to bf16, and a bf16 transformer's attentions in bf16 with f32 softmax and
 * accumulation; the default where the CPU has AVX512-BF16 and the build has oneDNN, unless the
 * environment sets DG_CPU_BF16=0) or "f32" (the weights widened per call, attention in f32). Asking
 * "bf16" of a transformer with f32 or f16 weights rounds its blocks' matrices to bf16 once (as
 * diffusers' torch_dtype=torch.bfloat16; the embedders and the head keep their dtype), after which
 * "f32" computes the rounded values; should the rounding fail (memory), the compute dtype is left as
 * it was (a first expert already rounded stays so).
 * "bf16" is refused where unsupported. Models on a GPU keep their own arithmetic. */
int dg_pipeline_set_dtype(dg_pipeline *p, const char *dtype);
void dg_pipeline_close(dg_pipeline *p);
const dg_model_info *dg_pipeline_info(const dg_pipeline *p);
/* The transformer's arithmetic on the CPU as the dtype now stands: "bf16" (bf16 matrices through the bf16
 * GEMM and bf16 attention) or "f32"; "gpu" when it runs on a GPU. */
const char *dg_pipeline_compute(const dg_pipeline *p);
/* Prompt -> [len, text_dim] embeddings with the folder's tokenizer/ and
 * text_encoder/ (loaded on first use), Wan conventions. *emb is a new
 * allocation the caller frees. Recent prompts are cached: an identical prompt
 * is not encoded again (nor the encoder reloaded after a release). */
int dg_pipeline_encode_prompt(dg_pipeline *p, const char *prompt, float **emb, int *len);
/* DG_OK when the folder has what prompts need (tokenizer/ and text_encoder/), else an error naming
 * what is missing: checked before anything that a missing part would explain. */
int dg_pipeline_can_encode(const dg_pipeline *p);
/* Free the tokenizer and text encoder (cached embeddings stay usable). */
void dg_pipeline_release_text_encoder(dg_pipeline *p);
/* Choose the self-attention method per step, layer and head from a plan:
 * a preset name (configs_dir/attention/NAME.json) or a path to a .json file. NULL or
 * "dense" restores dense attention. The plan is checked against the model. */
int dg_pipeline_set_attention(dg_pipeline *p, const char *preset_or_path, const char *configs_dir);
/* How many of a generation's `steps` denoising steps the plan of dg_pipeline_set_attention runs a
 * method other than dense in, in at least one layer and head: 0 with dense attention, and 0 for a
 * plan that never engages at this step count (its dense_steps, dense_fraction or dense_layers cover
 * everything), which then costs what dense costs and measures no sparse speedup. */
int dg_pipeline_attention_sparse_steps(const dg_pipeline *p, int steps);
/* Step caching, First-Block-Cache style: at a step where the first block's residual changed by less
 * than the preset's threshold (relative L1) since the last step that ran every block, the other
 * blocks are skipped and the residual they made then is reused; every guidance pass of the step
 * follows the prompt pass's decision. preset_or_path: a preset name (configs_dir/cache/NAME.json) or
 * a path to a .json file; NULL or "none": every step runs every block. Combines with attention
 * plans, CFG, perturbation guidance (whose perturbed pass then runs from the start, with its own
 * residuals) and parallel generation (the change is summed over the ranks). */
int dg_pipeline_set_cache(dg_pipeline *p, const char *preset_or_path, const char *configs_dir);
/* How generations are split over the processes of an MPI job (mpirun -np N ...).
 * mode "exact": sequence parallelism; each rank computes its share of the tokens through every layer
 *   and the keys/values of self-attention are gathered, so the latents equal a one-process run's up
 *   to float rounding.
 * mode "clip": clip parallelism for long videos (Video-Infinity's dual-scope attention on a DiT);
 *   each rank owns contiguous latent frames and its queries see its own frames plus `halo` frames of
 *   each neighbour (local scope) and `global` frames of every rank taken at uniform stride (global
 *   scope), merged with `phase_bias` added to the global logits at timesteps >= phase_t (early,
 *   noisy steps: layout) and to the local ones after (detail). Each rank holds only its scopes' keys.
 * mode NULL or "none": one process. Both modes run dense attention; clip does not combine with
 * perturbation guidance yet. */
typedef struct dg_parallel_opts {
    const char *mode;
    int halo, global;          /* clip: latent frames (after the temporal patch) */
    float phase_t, phase_bias; /* clip: e.g. 800 and 10 as Video-Infinity */
    /* clip: temporal RoPE of the global keys: NULL or "true" (their frame), "clamped" (to just outside
     * the rank's local scope) or "none" (no temporal rotation) */
    const char *global_rope;
    /* exact: how the keys and values reach every rank: NULL or "auto" (Ulysses all-to-all over heads
     * when the ranks divide the heads, else all-gather), "ulysses" or "allgather" */
    const char *attention;
    /* 1: every exchange completes before the attention that needs it starts (to measure what the
     * default overlap hides); 0: exchanges run while the rank attends to its own keys */
    int blocking;
    /* dg_pipeline_decode splits the latent frames over the ranks (every rank must call it and gets
     * the whole video); each rank first decodes latent frames before its share to warm the VAE's
     * causal caches: 0 (default) from frame 0, frames equal to one process's; N > 0: the N frames
     * before its share, faster and approximate (docs/parallel.md gives the error) */
    int vae_halo;
} dg_parallel_opts;

/* Every rank calls the same pipeline functions in the same order and ends with the same latents. CPU
 * transformers exchange over MPI, GPU ones over NCCL (one GPU per rank). Refused, with the reason, in
 * builds without MPI. opts NULL: one process. */
int dg_pipeline_set_parallel(dg_pipeline *p, const dg_parallel_opts *opts);
/* This process's rank and the number of ranks generating together (0 and 1 when not parallel). */
void dg_pipeline_rank(const dg_pipeline *p, int *rank, int *size);
/* Frames [3, frames, height, width] in [-1, 1] from the final latents
 * [C, F, h, w]: the VAE decode (after latents mean/std) or, for a pixel-space
 * model, the latents themselves. vae_tile > 0 decodes in spatial tiles of that
 * many latent cells (bounded memory); 0 decodes whole frames. */
int dg_pipeline_decode(dg_pipeline *p, const float *latents, const int64_t shape[4], int vae_tile, float *frames);
/* Validate width/height/frames against the model and give the latent [C, F, H, W]. */
int dg_pipeline_latent_shape(const dg_pipeline *p, const dg_gen_params *g, int64_t shape[4]);
/* Everything about g that needs no text, before any work: the size (latent shape, the model's RoPE
 * range, memory on a CPU run), steps, shift, the perturbation-guidance fields, and the attention
 * plan prepared for this geometry. dg_pipeline_generate runs it too. */
int dg_pipeline_check(dg_pipeline *p, const dg_gen_params *g);
/* Noise from the seed (torch.randn-compatible), then the sampler loop.
 * latents receives [C, F, H, W] floats (pixels in [-1, 1] for pixel-space models).
 * A model output or latents holding NaN or infinity end it with an error naming the step and the
 * pass (cond, uncond or perturbed); g->cancel ends it at a step boundary. */
int dg_pipeline_generate(dg_pipeline *p, const dg_gen_params *g, float *latents, dg_progress_fn progress,
                         void *user, dg_gen_timing *timing);

#endif
