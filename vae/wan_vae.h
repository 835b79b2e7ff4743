/* AutoencoderKLWan (Wan2.1 and Wan2.2 VAE) decoder in the diffusers layout: config,
 * weight binding by diffusers tensor name with shape checks, and a
 * frame-causal decode that carries only the per-convolution feature caches
 * (2 frames each) from one latent frame to the next, optionally over spatial
 * tiles blended as diffusers' tiled_decode. Everything runs through the
 * backend table on the backend the VAE was loaded on. The reference is
 * diffusers' autoencoder_kl_wan.py; tests/test_wan_vae.c checks parity
 * against fixtures made by tests/reference/. */
#ifndef DG_VAE_WAN_VAE_H
#define DG_VAE_WAN_VAE_H

#include "core/backend.h"
#include "io/safetensors.h"
#include "core/arena.h"
#include "io/weights.h"
#include "parallel/comm.h"

#define DG_WAN_VAE_MAX_LEVELS 8
#define DG_WAN_VAE_MAX_Z 256

typedef struct dg_wan_vae_config {
    int base_dim; /* decoder_base_dim, or base_dim when that is null */
    int z_dim, num_res_blocks, out_channels; /* out_channels: of the frames (config out_channels / patch^2) */
    int n_levels; /* len(dim_mult) */
    int dim_mult[DG_WAN_VAE_MAX_LEVELS];
    int temporal_up[DG_WAN_VAE_MAX_LEVELS]; /* per up block: temperal_downsample reversed */
    int scale_t, scale_s;                   /* frames: 1 + scale_t*(F-1); pixels: scale_s per cell */
    int residual; /* is_residual (Wan2.2): up blocks with a DupUp3D shortcut, widths not halved */
    int patch;    /* patch_size (1 when null): conv_out's out_channels*patch^2 channels are unpatchified */
    float latents_mean[DG_WAN_VAE_MAX_Z], latents_std[DG_WAN_VAE_MAX_Z];
} dg_wan_vae_config;

/* A causal convolution and, during a decode, its feature cache: the last
 * kt-1 input frames of the previous chunk ([cin, kt-1, H, W], zeros first;
 * carved from the decode state when kt > 1). */
typedef struct dg_wan_vae_conv {
    dg_tensor w, b;
    int cin, cout, kt;
    dg_tensor cache;
} dg_wan_vae_conv;

typedef struct dg_wan_vae_res {
    dg_tensor norm1, norm2;
    dg_wan_vae_conv conv1, conv2, shortcut; /* shortcut.cin == 0: identity */
} dg_wan_vae_res;

typedef enum { DG_WAN_UP_NONE = 0, DG_WAN_UP_2D, DG_WAN_UP_3D } dg_wan_up_mode;

typedef struct dg_wan_vae_up {
    dg_wan_vae_res *res; /* num_res_blocks + 1 */
    dg_wan_up_mode mode;
    int shortcut_in; /* residual VAE with an upsampler: the DupUp3D shortcut's input channels (0: none) */
    dg_wan_vae_conv time_conv, resample; /* time_conv only for DG_WAN_UP_3D */
    int time_started; /* decode state: the first chunk skips time_conv */
} dg_wan_vae_up;

typedef struct dg_wan_vae {
    dg_wan_vae_config cfg;
    dg_backend *be;
    dg_safetensors st;
    dg_wan_vae_conv post_quant, conv_in, conv_out;
    dg_wan_vae_res mid[2];
    dg_tensor attn_norm;
    dg_wan_vae_conv attn_qkv, attn_proj;
    dg_wan_vae_up up[DG_WAN_VAE_MAX_LEVELS];
    dg_tensor norm_out;
    dg_weight_store weights; /* f32 copies of weights stored as bf16/f16 (f32 ones stay in the mmap) */
    dg_arena state; /* during a decode: its state (caches, chunk buffers, tiles) on be, sized for its geometry */
} dg_wan_vae;

/* Parse a diffusers vae/config.json (the Wan2.1 VAE, or the Wan2.2 one with is_residual and
 * patch_size); refuses configs the decoder cannot represent. */
int dg_wan_vae_config_load(dg_wan_vae_config *cfg, const char *config_path);
/* vae_dir: a diffusers `vae/` folder (config.json + safetensors). Encoder
 * tensors are ignored; any other tensor the config does not use is an error. */
int dg_wan_vae_load(dg_wan_vae *v, dg_backend *be, const char *vae_dir);
void dg_wan_vae_free(dg_wan_vae *v);

/* What the pipeline does before decoding: z = z / (1/std) + mean per channel,
 * in place on host latents [z_dim, F, h, w]. */
void dg_wan_vae_denormalize(const dg_wan_vae_config *cfg, float *latents, int F, int h, int w);

/* Decode host latents [z_dim, F, h, w] (already denormalized) into host
 * frames [out_channels, 1 + scale_t*(F-1), scale_s*h, scale_s*w] in [-1, 1].
 * tile = 0: whole frames; tile > 0: when h or w exceeds it, diffusers-style
 * tiles of tile x tile latent cells with stride tile - tile/4 (diffusers'
 * 256/192 default is tile 32), blended linearly over the overlap. Memory is
 * bounded by one chunk (1 latent frame -> scale_t output frames) of one tile
 * plus the feature caches; the output buffer is the caller's. The latents go
 * to the backend once and the frames come back once. Not reentrant (the
 * caches live in v). */
int dg_wan_vae_decode(dg_wan_vae *v, const float *latents, int F, int h, int w, float *frames, int tile);
/* The frames of latent frames [k0, k1) only (a parallel decode's share): frames receives
 * [out_channels, n, scale_s*h, scale_s*w] with n = first(k1) - first(k0), first(k) = 0 for k = 0
 * and 1 + scale_t*(k-1) after. The decode starts `warm` latent frames before k0 (or at 0) with zeroed
 * caches and drops those frames: with warm >= k0 the frames equal a whole decode's; a shorter
 * warm-up leaves the causal caches without the older history, an error that shrinks as warm grows. */
int dg_wan_vae_decode_frames(dg_wan_vae *v, const float *latents, int F, int h, int w, int k0, int k1, int warm,
                             float *frames, int tile);
/* dg_wan_vae_decode over the ranks of comm (host memory): rank r decodes its even share of the latent
 * frames after `warm` latent frames of warm-up (< 0: from frame 0, equal to a whole decode), and
 * every rank receives the whole video in frames. Every rank must call it. */
int dg_wan_vae_decode_split(dg_wan_vae *v, dg_comm *comm, const float *latents, int F, int h, int w, int warm,
                            float *frames, int tile);

#endif
