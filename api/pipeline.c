/* The generation pipeline behind include/ditgen.h: opening a model folder's parts,
 * geometry checks, seeded noise and the guided sampler loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/rng.h"
#include "dit/wan.h"
#include "api/pipeline_internal.h"
#include "api/video_size.h"
#include "io/model_folder.h"
#include "io/json.h"
#include "sampler/scheduler.h"
#include "sampler/guidance.h"


static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* VAE compression factors from vae/config.json (else the Wan VAE's). */
static int read_vae_factors(const char *vae_dir, dg_model_info *info) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", vae_dir);
    int64_t t = DG_WAN_VAE_TEMPORAL_FACTOR, s = DG_WAN_VAE_SPATIAL_FACTOR;
    if (*vae_dir) {
        cJSON *j;
        DG_TRY(dg_json_load(path, &j));
        int rc = dg_json_get_int(path, j, "scale_factor_temporal", &t, 0) ||
                 dg_json_get_int(path, j, "scale_factor_spatial", &s, 0);
        cJSON_Delete(j);
        DG_TRY(rc ? DG_ERR : DG_OK);
        DG_CHECK(t >= 1 && t <= 16 && s >= 1 && s <= 64, "%s: implausible scale factors %lld/%lld", path,
                 (long long)t, (long long)s);
    }
    info->temporal_factor = (int)t;
    info->spatial_factor = (int)s;
    return DG_OK;
}

/* A two-expert folder's low-noise transformer. One prepared size serves both, so their configs must
 * agree. Both stay loaded: on the CPU their weights are mmapped and after the switch only the second
 * one's pages are read; on a GPU both are resident. */
static int load_expert2(dg_pipeline *p) {
    DG_TRY(dg_wan_load(&p->wan2, p->dit_be, p->folder.transformer_2));
    p->has_wan2 = 1;
    DG_CHECK(!memcmp(&p->wan2.cfg, &p->wan.cfg, sizeof p->wan.cfg),
             "%s: its config differs from transformer/'s (both experts must have the same shape)",
             p->folder.transformer_2);
    /* diffusers compares t >= boundary_ratio * num_train_timesteps in float32 */
    p->boundary_t = (float)(p->info.defaults.boundary_ratio * p->scheduler_opts.num_train_timesteps);
    return DG_OK;
}

int dg_pipeline_open(dg_pipeline **out, const char *model, const char *device, int threads) {
    *out = NULL;
    DG_CHECK(model && *model, "no model path given");
    dg_pipeline *p = calloc(1, sizeof *p);
    DG_CHECK_ALLOC(p);
    const dg_model_folder *folder = &p->folder;
    if (dg_model_folder_resolve(&p->folder, model) != DG_OK ||
        (folder->layout == DG_MODEL_TRANSFORMER_DIR && !folder->transformer_config[0])) {
        free(p);
        return dg_error("'%s' is neither a diffusers model folder (transformer/config.json), a transformer folder "
                        "(config.json) nor a .safetensors file", model);
    }
    p->dit_be = &p->be;
    if (dg_backend_cpu_init(&p->be, threads) != DG_OK) {
        free(p);
        return DG_ERR;
    }
    if (device && strcmp(device, "cpu")) {
        if (dg_backend_init_device(&p->gpu, device, threads) != DG_OK) {
            dg_backend_free(&p->be);
            free(p);
            return DG_ERR;
        }
        p->dit_be = &p->gpu;
    }
    if (dg_wan_load(&p->wan, p->dit_be, folder->transformer) != DG_OK) {
        if (p->dit_be == &p->gpu) dg_backend_free(&p->gpu);
        dg_backend_free(&p->be);
        free(p);
        return DG_ERR;
    }
    dg_model_info *i = &p->info;
    const dg_wan_config *c = &p->wan.cfg;
    i->in_channels = c->in_channels;
    i->out_channels = c->out_channels;
    i->text_dim = c->text_dim;
    memcpy(i->patch, c->patch, sizeof i->patch);
    i->num_layers = c->num_layers;
    i->dim = c->dim;
    i->has_vae = folder->vae[0] != 0;
    i->pixel_space = c->in_channels == 3 && c->out_channels == 3 && !i->has_vae;
    if (i->pixel_space) {
        i->temporal_factor = i->spatial_factor = 1;
    } else if (read_vae_factors(folder->vae, i) != DG_OK) {
        dg_pipeline_close(p);
        return DG_ERR;
    }
    if (i->has_vae) {
        if (dg_wan_vae_load(&p->vae, p->dit_be, folder->vae) != DG_OK) {
            i->has_vae = 0;
            dg_pipeline_close(p);
            return DG_ERR;
        }
        if (p->vae.cfg.z_dim != c->out_channels) {
            dg_error("%s: the VAE has %d latent channels but the transformer outputs %d", model, p->vae.cfg.z_dim,
                     c->out_channels);
            dg_pipeline_close(p);
            return DG_ERR;
        }
    }
    if (dg_model_defaults_load(p) != DG_OK || (i->defaults.boundary_ratio > 0 && load_expert2(p) != DG_OK)) {
        dg_pipeline_close(p);
        return DG_ERR;
    }
    *out = p;
    return DG_OK;
}

void dg_pipeline_close(dg_pipeline *p) {
    if (!p) return;
    dg_pipeline_text_free(p);
    if (p->sized.arena.base) dg_wan_sized_free(&p->sized);
    dg_comm_free(&p->device_comm);
    dg_comm_free(&p->comm);
    if (p->has_plan) dg_attn_plan_free(&p->plan);
    free(p->plan_request);
    if (p->info.has_vae) dg_wan_vae_free(&p->vae);
    free(p->default_negative);
    dg_wan_free(&p->wan);
    if (p->has_wan2) dg_wan_free(&p->wan2);
    if (p->dit_be == &p->gpu) dg_backend_free(&p->gpu);
    dg_backend_free(&p->be);
    free(p);
}

const dg_model_info *dg_pipeline_info(const dg_pipeline *p) { return &p->info; }

const char *dg_pipeline_compute(const dg_pipeline *p) {
    if (p->dit_be != &p->be) return "gpu";
    return dg_wan_compute_dtype(&p->wan) == DG_BF16 ? "bf16" : "f32";
}

int dg_pipeline_decode(dg_pipeline *p, const float *latents, const int64_t shape[4], int vae_tile, float *frames) {
    size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
    if (p->info.pixel_space) {
        memcpy(frames, latents, n * sizeof(float));
        return DG_OK;
    }
    DG_CHECK(p->info.has_vae, "this model folder has no vae/: only latents (.safetensors) can be written");
    DG_CHECK(vae_tile >= 0, "vae_tile %d must be >= 0", vae_tile);
    float *z = malloc(n * sizeof(float));
    DG_CHECK_ALLOC(z);
    memcpy(z, latents, n * sizeof(float));
    int F = (int)shape[1], h = (int)shape[2], w = (int)shape[3];
    dg_wan_vae_denormalize(&p->vae.cfg, z, F, h, w);
    /* split by latent frames over the ranks (MPI: the frames come back to the host anyway) */
    int rc = p->split.comm && p->comm.size > 1
                 ? dg_wan_vae_decode_split(&p->vae, &p->comm, z, F, h, w, p->vae_halo > 0 ? p->vae_halo : -1,
                                           frames, vae_tile)
                 : dg_wan_vae_decode(&p->vae, z, F, h, w, frames, vae_tile);
    free(z);
    return rc;
}

int dg_pipeline_set_dtype(dg_pipeline *p, const char *dtype) {
    const int bf16 = dtype && !strcmp(dtype, "bf16");
    DG_CHECK(bf16 || (dtype && !strcmp(dtype, "f32")), "dtype '%s': expected f32 or bf16", dtype ? dtype : "");
    const dg_dtype before = dg_backend_cpu_dtype(&p->be);
    DG_TRY(dg_backend_cpu_set_dtype(&p->be, bf16 ? DG_BF16 : DG_F32));
    /* bf16 asked for a transformer on the CPU with f32 or f16 matrices: round them, as torch_dtype=bf16
     * would; should that fail (memory), the compute dtype goes back to what it was */
    if (bf16 && p->dit_be == &p->be &&
        (dg_wan_round_blocks_bf16(&p->wan) != DG_OK || (p->has_wan2 && dg_wan_round_blocks_bf16(&p->wan2) != DG_OK))) {
        dg_backend_cpu_set_dtype(&p->be, before); /* a dtype it had: cannot be refused */
        return DG_ERR;
    }
    return DG_OK;
}

int dg_pipeline_set_attention(dg_pipeline *p, const char *preset_or_path, const char *configs_dir) {
    const int dense = !preset_or_path || !strcmp(preset_or_path, "dense");
    char request[8200];
    snprintf(request, sizeof request, "%s\n%s", configs_dir ? configs_dir : "", dense ? "" : preset_or_path);
    /* the same plan again (a job checked, then run): keep it, its layouts and the prepared size */
    if (dense ? !p->has_plan : p->has_plan && !strcmp(request, p->plan_request)) return DG_OK;
    if (p->sized.arena.base) dg_wan_sized_free(&p->sized); /* it was prepared with the old plan */
    if (p->has_plan) dg_attn_plan_free(&p->plan);
    free(p->plan_request);
    p->plan_request = NULL;
    p->has_plan = 0;
    if (dense) return DG_OK;
    DG_TRY(dg_attn_plan_load(&p->plan, preset_or_path, configs_dir));
    int rc = dg_attn_plan_check(&p->plan, p->wan.cfg.num_layers, p->wan.cfg.heads);
    if (rc == DG_OK && !(p->plan_request = strdup(request))) rc = dg_error("out of memory");
    if (rc != DG_OK) {
        dg_attn_plan_free(&p->plan);
        return DG_ERR;
    }
    p->has_plan = 1;
    return DG_OK;
}

int dg_pipeline_set_cache(dg_pipeline *p, const char *preset_or_path, const char *configs_dir) {
    p->has_cache = 0;
    if (!preset_or_path || !strcmp(preset_or_path, "none")) return DG_OK;
    DG_TRY(dg_step_cache_load(&p->cache_opts, preset_or_path, configs_dir));
    p->has_cache = 1;
    return DG_OK;
}

int dg_pipeline_latent_shape(const dg_pipeline *p, const dg_gen_params *g, int64_t shape[4]) {
    const dg_model_info *i = &p->info;
    dg_video_grid grid = {.channels = i->in_channels, .temporal_factor = i->temporal_factor,
                          .spatial_factor = i->spatial_factor, .rope_max_seq_len = p->wan.cfg.rope_max_seq_len};
    memcpy(grid.patch, i->patch, sizeof grid.patch);
    return dg_video_latent_shape(&grid, g->width, g->height, g->frames, shape);
}

/* Index of the first NaN or infinity in x[0..n), or -1: one pass, for the per-step check. */
static long first_nonfinite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return (long)i;
    return -1;
}

static int check_finite_text(const float *x, int len, int dim, const char *what) {
    long i = first_nonfinite(x, (size_t)len * dim);
    DG_CHECK(i < 0, "%s text embeddings hold %s at token %ld, channel %ld: they would turn every step into NaN",
             what, isnan(x[i]) ? "NaN" : "infinity", i / dim, i % dim);
    return DG_OK;
}

/* The text arguments and the model: what dg_pipeline_check cannot see. */
static int check_text(const dg_pipeline *p, const dg_gen_params *g) {
    DG_CHECK(g->context && g->context_len > 0, "no text context given");
    DG_CHECK(g->cfg_scale <= 1.0f || (g->negative && g->negative_len > 0),
             "cfg_scale %g needs negative text embeddings", (double)g->cfg_scale);
    DG_TRY(check_finite_text(g->context, g->context_len, p->info.text_dim, "the prompt's"));
    if (g->cfg_scale > 1.0f) DG_TRY(check_finite_text(g->negative, g->negative_len, p->info.text_dim, "the negative"));
    DG_CHECK(p->info.in_channels == p->info.out_channels, "model in/out channels differ (%d vs %d)",
             p->info.in_channels, p->info.out_channels);
    return DG_OK;
}

static int check_pag(const dg_pipeline *p, const dg_gen_params *g) {
    DG_CHECK(isfinite(g->pag_scale), "pag_scale must be a finite number");
    if (g->pag_scale <= 0.0f) return DG_OK;
    const dg_wan_config *c = &p->wan.cfg;
    DG_CHECK(g->pag_heads && g->n_pag_heads > 0, "pag_scale %g needs heads to perturb (pag_heads)",
             (double)g->pag_scale);
    DG_CHECK(g->pag_u > 0.0f && g->pag_u <= 1.0f, "pag_u %g must be in (0, 1]", (double)g->pag_u);
    for (int i = 0; i < g->n_pag_heads; i++) {
        const dg_head *hd = &g->pag_heads[i];
        char head[16] = "*";
        if (hd->head != -1) snprintf(head, sizeof head, "%d", hd->head);
        DG_CHECK(hd->layer >= 0 && hd->layer < c->num_layers && hd->head >= -1 && hd->head < c->heads,
                 "pag_heads: %d:%s is not a head of this model (%d blocks of %d heads, counted from 0)", hd->layer,
                 head, c->num_layers, c->heads);
    }
    return DG_OK;
}

static int pag_layer_perturbed(const float *table, const dg_wan_config *c, int layer) {
    for (int h = 0; h < c->heads; h++)
        if (table[(size_t)layer * c->heads + h] != 0.0f) return 1;
    return 0;
}

/* SoftPAG's per-head blend table [num_layers x heads] from the listed heads; NULL when PAG is off. */
static int pag_table(const dg_pipeline *p, const dg_gen_params *g, float **table) {
    *table = NULL;
    if (g->pag_scale <= 0.0f) return DG_OK;
    const dg_wan_config *c = &p->wan.cfg;
    float *t = calloc((size_t)c->num_layers * c->heads, sizeof(float));
    DG_CHECK_ALLOC(t);
    for (int i = 0; i < g->n_pag_heads; i++) {
        const dg_head *hd = &g->pag_heads[i];
        for (int h = 0; h < c->heads; h++)
            if (hd->head < 0 || hd->head == h) t[(size_t)hd->layer * c->heads + h] = g->pag_u;
    }
    *table = t;
    return DG_OK;
}

/* The memory this process can still take: the smallest of physical RAM, what the kernel reports
 * available now (MemAvailable) and the address-space limit (ulimit -v) less what is mapped, where
 * `held` bytes already taken (the transformer's arena of the last generation) count as free. */
static int check_fits(double bytes, double held, const char *what) {
    const double GiB = 1073741824.0;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double ram = pages > 0 && page > 0 ? (double)pages * page : 0;
    DG_CHECK(ram == 0 || bytes <= ram, "%s, more than this machine's %.1f GiB", what, ram / GiB);
    double avail = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kb;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) avail = (double)kb * 1024.0 + held;
        fclose(f);
    }
    DG_CHECK(avail == 0 || bytes <= avail, "%s, more than the %.1f GiB available now (MemAvailable; other processes "
             "hold the rest of the %.1f GiB)", what, avail / GiB, ram / GiB);
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        double mapped = 0;
        unsigned long long vm_pages;
        f = fopen("/proc/self/statm", "r");
        if (f) {
            if (fscanf(f, "%llu", &vm_pages) == 1 && page > 0) mapped = (double)vm_pages * page;
            fclose(f);
        }
        double left = (double)rl.rlim_cur - mapped + held;
        DG_CHECK(bytes <= left, "%s, more than the %.1f GiB the address-space limit (ulimit -v %llu) leaves", what,
                 (left > 0 ? left : 0) / GiB, (unsigned long long)(rl.rlim_cur / 1024));
    }
    return DG_OK;
}

/* The VAE decode after the steps (the transformer's arena is still held then): the decoder's state
 * for one region (the whole frame, or a tile of vae_tile latent cells) and the decoded frames as
 * floats and 8-bit RGB. The state was about 40.6 floats per base_dim channel and region pixel for the
 * Wan2.1 VAE (31.3 for the test VAE), 17.0 for the Wan2.2 one (decoder_base_dim; it decodes at half
 * the resolution and unpatchifies), measured from the decoder's own arena sizing for the real level
 * and block counts at small widths, with four chunk buffers; since the convs normalise their input
 * as they read it there are three (4 floats less for Wan2.1), while the CPU GEMM path's workspace
 * holds the normalised input of one conv (up to 6 floats). 48 and 20 keep a margin. */
static double decode_bytes(const dg_pipeline *p, const dg_gen_params *g, const int64_t shape[4]) {
    if (!p->info.has_vae || g->vae_tile < 0) return 0;
    const int s = p->info.spatial_factor;
    const int64_t rh = g->vae_tile && g->vae_tile < shape[2] ? g->vae_tile : shape[2];
    const int64_t rw = g->vae_tile && g->vae_tile < shape[3] ? g->vae_tile : shape[3];
    const double per = p->vae.cfg.residual ? 20.0 : 48.0;
    const double region = per * 4 * p->vae.cfg.base_dim * (double)(rh * s) * (double)(rw * s);
    const double frames = (1.0 + (double)p->info.temporal_factor * (double)(shape[1] - 1)) * g->width * g->height;
    return region + frames * 3 * (sizeof(float) + 1) + (double)shape[0] * shape[1] * shape[2] * shape[3] * 4;
}

/* What one generation holds on the CPU: the transformer's activations, the shared PAG prefix, and
 * the latents with their model outputs (device and host copies). */
static int check_memory(const dg_pipeline *p, const dg_gen_params *g, const int64_t shape[4]) {
    if (p->dit_be->kind != DG_BACKEND_CPU) return DG_OK;
    const dg_wan_config *c = &p->wan.cfg;
    int maxL = g->context_len > g->negative_len ? g->context_len : g->negative_len;
    size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
    const int text_len = maxL > 0 ? maxL : DG_WAN_TEXT_LEN;
    double bytes = (double)dg_wan_sized_bytes(c, (int)shape[1], (int)shape[2], (int)shape[3], text_len,
                                              g->pag_scale > 0 && !p->has_cache) + /* the fork's buffer */
                   (double)dg_wan_text_bytes(c, text_len) * (g->cfg_scale > 1.0f ? 2 : 1) + 8.0 * n * sizeof(float);
    if (p->has_cache) { /* two residuals per guidance pass and a shared scratch (dg_wan_cache) */
        const int passes = 1 + (g->cfg_scale > 1.0f) + (g->pag_scale > 0);
        bytes += (2.0 * passes + 1) * (double)dg_wan_tokens(c, shape[1], shape[2], shape[3]) * c->dim * sizeof(float);
    }
    double decode = decode_bytes(p, g, shape);
    char what[300];
    snprintf(what, sizeof what, "width/height/frames %dx%dx%d need %.1f GiB (%.1f GiB for the transformer's "
             "activations and latents, %.1f GiB for the VAE decode%s)", g->width, g->height, g->frames,
             (bytes + decode) / 1073741824.0, bytes / 1073741824.0, decode / 1073741824.0,
             decode > 0 && !g->vae_tile && p->vae.cfg.patch == 1 ? "; --vae-tile 32 bounds the decode" : "");
    bytes += decode;
    return check_fits(bytes, p->sized.arena.base ? (double)p->sized.arena.size : 0, what);
}

int dg_pipeline_check(dg_pipeline *p, const dg_gen_params *g) {
    int64_t shape[4];
    DG_TRY(dg_pipeline_latent_shape(p, g, shape));
    DG_CHECK(g->steps > 0 && g->steps <= DG_SCHEDULER_MAX_STEPS, "steps %d must be in 1..%d", g->steps,
             DG_SCHEDULER_MAX_STEPS);
    DG_CHECK(g->flow_shift >= DG_FLOW_SHIFT_MIN && g->flow_shift <= DG_FLOW_SHIFT_MAX,
             "flow_shift %g is outside %g..%g", g->flow_shift, DG_FLOW_SHIFT_MIN, DG_FLOW_SHIFT_MAX);
    DG_CHECK(isfinite(g->cfg_scale), "cfg_scale must be a finite number");
    DG_CHECK(g->cfg_scale_2 == 0 || (isfinite(g->cfg_scale_2) && p->has_wan2),
             "cfg_scale_2 %g needs a two-expert model folder (transformer_2) and a finite value",
             (double)g->cfg_scale_2);
    DG_TRY(check_pag(p, g));
    /* the decode would refuse it after the steps (vae/wan_vae.h): say so before them */
    DG_CHECK(!(p->info.has_vae && p->vae.cfg.patch > 1 && g->vae_tile > 0 &&
               (g->vae_tile < shape[2] || g->vae_tile < shape[3])),
             "vae_tile %d: tiled decoding of a patch_size %d VAE (Wan2.2) is not supported; decode untiled (0)",
             g->vae_tile, p->vae.cfg.patch);
    DG_TRY(check_memory(p, g, shape));
    DG_TRY(dg_wan_split_check(&p->split, &p->wan.cfg, (int)shape[1], (int)shape[2], (int)shape[3], g->pag_scale > 0));
    DG_CHECK(!p->split.comm || !p->has_plan,
             "parallel generation runs dense attention: attention plans are not split across ranks yet");
    if (!p->has_plan) return DG_OK;
    dg_attn_geometry geom = dg_wan_attn_geometry(&p->wan.cfg, (int)shape[1], (int)shape[2], (int)shape[3]);
    /* F latent frames are (F - 1) x temporal_factor + 1 frames: refusals can say the size needed */
    const int tf = p->info.temporal_factor, sf = p->info.spatial_factor;
    geom.frames_per_t = p->wan.cfg.patch[0] * tf, geom.frames_less = tf - 1;
    geom.pixels_per_h = p->wan.cfg.patch[1] * sf, geom.pixels_per_w = p->wan.cfg.patch[2] * sf;
    return dg_attn_plan_prepare(&p->plan, &geom, p->dit_be);
}

int dg_pipeline_attention_sparse_steps(const dg_pipeline *p, int steps) {
    int n = 0;
    for (int i = 0; p->has_plan && i < steps; i++)
        n += dg_attn_plan_sparse_at(&p->plan, i, steps, p->wan.cfg.num_layers, p->wan.cfg.heads);
    return n;
}

/* The transformer prepared for this size (kept from the last generation when it fits). */
static int prepare_size(dg_pipeline *p, const int64_t shape[4], int max_text, int with_fork) {
    dg_wan_sized *s = &p->sized;
    if (s->arena.base && s->F == shape[1] && s->H == shape[2] && s->W == shape[3] && s->max_text >= max_text &&
        (s->fork_hidden.data || !with_fork))
        return DG_OK;
    if (s->arena.base) dg_wan_sized_free(s);
    return dg_wan_sized_init(s, &p->wan, (int)shape[1], (int)shape[2], (int)shape[3], max_text,
                             p->has_plan ? &p->plan : NULL, with_fork, &p->split);
}

int dg_pipeline_set_parallel(dg_pipeline *p, const dg_parallel_opts *opts) {
    if (p->sized.arena.base) dg_wan_sized_free(&p->sized); /* prepared for the old split */
    memset(&p->split, 0, sizeof p->split);
    const char *mode = opts ? opts->mode : NULL;
    if (!mode || !strcmp(mode, "none")) return DG_OK;
    DG_CHECK(!strcmp(mode, "exact") || !strcmp(mode, "clip"), "parallel mode '%s' unknown (exact, clip or none)",
             mode);
    if (!strcmp(mode, "clip")) {
        DG_CHECK(opts->halo >= 0 && opts->global >= 0, "clip parallelism: halo %d and global %d must be >= 0",
                 opts->halo, opts->global);
        DG_CHECK(isfinite(opts->phase_t) && isfinite(opts->phase_bias) && fabsf(opts->phase_bias) <= 1e4f,
                 "clip parallelism: phase %g and bias %g must be finite (|bias| <= 1e4)", (double)opts->phase_t,
                 (double)opts->phase_bias);
        static const char *const ropes[] = {"true", "clamped", "none"}; /* dg_wan_global_rope order */
        int rope = opts->global_rope ? -1 : DG_WAN_ROPE_TRUE;
        for (int i = 0; i < 3 && rope < 0; i++)
            if (!strcmp(opts->global_rope, ropes[i])) rope = i;
        DG_CHECK(rope >= 0, "clip parallelism: global_rope '%s' unknown (true, clamped or none)", opts->global_rope);
        p->split = (dg_wan_split){.clip = 1, .halo = opts->halo, .global = opts->global, .phase_t = opts->phase_t,
                                  .phase_bias = opts->phase_bias, .global_rope = (dg_wan_global_rope)rope};
    }
    static const char *const kv_modes[] = {"auto", "ulysses", "allgather"}; /* dg_wan_kv_mode order */
    int kv = opts->attention ? -1 : DG_WAN_KV_AUTO;
    for (int i = 0; i < 3 && kv < 0; i++)
        if (!strcmp(opts->attention, kv_modes[i])) kv = i;
    DG_CHECK(kv >= 0, "parallel attention '%s' unknown (auto, ulysses or allgather)", opts->attention);
    p->split.kv_mode = (dg_wan_kv_mode)kv;
    p->split.blocking = opts->blocking != 0;
    DG_CHECK(opts->vae_halo >= 0, "parallel VAE warm-up %d must be >= 0 latent frames (0: from frame 0)",
             opts->vae_halo);
    p->vae_halo = opts->vae_halo;
    if (!p->comm.ops) DG_TRY(dg_comm_mpi_init(&p->comm));
    /* MPI moves host buffers; a GPU's activations go through NCCL */
    if (p->dit_be->kind == DG_BACKEND_CPU) {
        p->split.comm = &p->comm;
    } else {
        if (!p->device_comm.ops) DG_TRY(dg_comm_nccl_init(&p->device_comm, &p->comm, p->dit_be));
        p->split.comm = &p->device_comm;
    }
    return DG_OK;
}

void dg_pipeline_rank(const dg_pipeline *p, int *rank, int *size) {
    *rank = p->split.comm ? p->split.comm->rank : 0;
    *size = p->split.comm ? p->split.comm->size : 1;
}

/* After a step: one pass over the latents. Only when it finds NaN or infinity are the step's
 * outputs scanned to name the pass that made it: cond is intact, and uncond and perturbed are
 * named by the guidance mix they were combined into (finite cond + finite uncond stays finite). */
static int check_step_finite(const float *latents, const float *cond, const float *cfg_mix, const float *pag_mix,
                             size_t n, int step, int steps, dg_sample_method sampler) {
    long bad = first_nonfinite(latents, n);
    if (bad < 0) return DG_OK;
    const char *what = isnan(latents[bad]) ? "NaN" : "infinity";
    int k = -1; /* the pass at fault */
    if (first_nonfinite(cond, n) >= 0) k = 0;
    else if (cfg_mix && first_nonfinite(cfg_mix, n) >= 0) k = 1;
    else if (pag_mix && first_nonfinite(pag_mix, n) >= 0) k = 2;
    if (k < 0)
        return dg_error("step %d of %d: the %s update made %s in the latents (the transformer's outputs were finite); "
                        "no output written", step + 1, steps, dg_sample_method_name(sampler), what);
    static const char *const pass[3] = {"cond (prompt)", "uncond (negative prompt)", "perturbed (PAG)"};
    return dg_error("step %d of %d: the transformer's %s pass gave non-finite values, so the latents hold %s "
                    "(broken weights, or activations overflowing their dtype); no output written", step + 1, steps,
                    pass[k], what);
}

/* The step caches of the prompt pass and, where not NULL, the negative prompt's and the perturbed
 * pass's, sharing a scratch. Only the prompt pass decides; the others follow it. */
static int init_caches(dg_pipeline *p, dg_tensor *scratch, dg_wan_cache *cond, dg_wan_cache *uncond,
                       dg_wan_cache *perturbed) {
    const int64_t shape[2] = {p->sized.ntok, p->wan.cfg.dim};
    DG_TRY(dg_tensor_alloc(scratch, p->dit_be, DG_F32, 2, shape));
    DG_TRY(dg_wan_cache_init(cond, &p->wan, &p->sized, scratch));
    if (uncond) DG_TRY(dg_wan_cache_init(uncond, &p->wan, &p->sized, scratch));
    if (perturbed) DG_TRY(dg_wan_cache_init(perturbed, &p->wan, &p->sized, scratch));
    cond->threshold = (float)p->cache_opts.threshold;
    return DG_OK;
}

int dg_pipeline_generate(dg_pipeline *p, const dg_gen_params *g, float *latents, dg_progress_fn progress,
                         void *user, dg_gen_timing *timing) {
    int64_t shape[4];
    DG_TRY(dg_pipeline_check(p, g));
    DG_TRY(dg_pipeline_latent_shape(p, g, shape));
    DG_TRY(check_text(p, g));
    float *pag_u;
    DG_TRY(pag_table(p, g, &pag_u));
    const dg_wan_config *c = &p->wan.cfg;
    int use_cfg = g->cfg_scale > 1.0f, use_pag = pag_u != NULL;
    size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
    int maxL = g->context_len > g->negative_len ? g->context_len : g->negative_len;

    dg_tensor x = {0}, v = {0}, vu = {0}, vp = {0}, ctx = {0}, neg = {0};
    dg_scheduler sch = {0};
    float *vh = NULL, *vuh = NULL, *vph = NULL, *x0 = NULL;
    dg_wan_text text = {0}, negative = {0}; /* the prompts' share of every forward, computed once */
    dg_wan_call call = {.steps = g->steps, .text = &text}, uncond = {.steps = g->steps, .text = &negative};
    dg_wan_stats stats = {0};
    dg_tensor cache_scratch = {0};
    dg_wan_cache cond_cache = {0}, uncond_cache = {0}, pag_cache = {0};
    int reused_in_row = 0, steps_reused = 0;
    if (use_pag) /* the perturbed pass starts from the prompt pass's hidden state at the first perturbed block */
        while (call.fork_layer < c->num_layers && !pag_layer_perturbed(pag_u, c, call.fork_layer)) call.fork_layer++;
    /* Not with a step cache: a reused step keeps no hidden state past block 0 to start from, so the
     * perturbed pass runs from the patch embedding, through its own cache. */
    const int fork = use_pag && call.fork_layer > 0 && !p->has_cache;
    /* the folder's scheduler options belong to its own scheduler class */
    const dg_scheduler_opts *opts = g->sampler == p->info.defaults.sampler ? &p->scheduler_opts : NULL;
    int rc = DG_ERR;
    int64_t cs[2] = {g->context_len, c->text_dim}, ns[2] = {g->negative_len, c->text_dim};
    dg_backend *be = p->dit_be;
    if (dg_tensor_alloc(&x, be, DG_F32, 4, shape) || dg_tensor_alloc(&v, be, DG_F32, 4, shape) ||
        (use_cfg && dg_tensor_alloc(&vu, be, DG_F32, 4, shape)) ||
        (use_pag && dg_tensor_alloc(&vp, be, DG_F32, 4, shape)) ||
        dg_tensor_alloc(&ctx, be, DG_F32, 2, cs) || dg_tensor_upload(&ctx, g->context) ||
        (use_cfg && (dg_tensor_alloc(&neg, be, DG_F32, 2, ns) || dg_tensor_upload(&neg, g->negative))) ||
        prepare_size(p, shape, maxL, fork) || dg_scheduler_init(&sch, g->sampler, g->steps, g->flow_shift, opts, n) ||
        dg_wan_text_init(&text, &p->wan, &ctx) || (use_cfg && dg_wan_text_init(&negative, &p->wan, &neg)) ||
        (p->has_cache &&
         init_caches(p, &cache_scratch, &cond_cache, use_cfg ? &uncond_cache : NULL, use_pag ? &pag_cache : NULL)))
        goto done;
    if (p->has_cache) call.cache = &cond_cache, uncond.cache = use_cfg ? &uncond_cache : NULL;
    const double comm_s0 = p->sized.comm_seconds, comm_b0 = p->sized.comm_bytes; /* the size's counters run on */
    vh = malloc(n * sizeof(float));
    vuh = use_cfg ? malloc(n * sizeof(float)) : NULL;
    vph = use_pag ? malloc(n * sizeof(float)) : NULL;
    x0 = g->preview ? malloc(n * sizeof(float)) : NULL;
    if (!vh || (use_cfg && !vuh) || (use_pag && !vph) || (g->preview && !x0)) {
        dg_error("out of memory for the model output (%zu floats)", n);
        goto done;
    }
    /* torch.randn(shape, generator=Generator().manual_seed(seed)), as diffusers' prepare_latents on the CPU */
    dg_rng rng;
    dg_rng_init(&rng, g->seed);
    dg_randn(&rng, latents, n);

    double t0 = now_s(), model_s = 0;
    dg_wan_model *m = &p->wan; /* the expert running this step */
    float cfg_scale = g->cfg_scale;
    for (int i = 0; i < g->steps; i++) {
        if (g->cancel && *g->cancel) {
            dg_error("cancelled before step %d of %d", i + 1, g->steps);
            goto done;
        }
        float t = dg_scheduler_timestep(&sch, i);
        if (m == &p->wan && p->has_wan2 && t < p->boundary_t) { /* timesteps decrease: the low-noise expert on */
            m = &p->wan2;
            cfg_scale = g->cfg_scale_2 > 0 ? g->cfg_scale_2
                        : p->info.defaults.cfg_scale_2 > 0 ? p->info.defaults.cfg_scale_2 : g->cfg_scale;
            dg_wan_text_free(&text), dg_wan_text_free(&negative);
            if (dg_wan_text_init(&text, m, &ctx) || (use_cfg && dg_wan_text_init(&negative, m, &neg))) goto done;
            cond_cache.valid = uncond_cache.valid = pag_cache.valid = 0; /* the other expert's residuals */
        }
        if (p->has_cache)
            cond_cache.mode = dg_step_cache_must_run(&p->cache_opts, i, g->steps, reused_in_row) ? DG_WAN_CACHE_RUN
                                                                                                 : DG_WAN_CACHE_DECIDE;
        double m0 = now_s();
        call.step = i;
        call.fork = fork ? DG_WAN_FORK_SAVE : DG_WAN_FORK_NONE;
        if (dg_tensor_upload(&x, latents) || dg_wan_forward(m, &p->sized, &x, t, NULL, &v, &call, &stats) ||
            dg_tensor_download(&v, vh))
            goto done;
        call.fork = DG_WAN_FORK_NONE;
        if (p->has_cache) { /* the other passes follow the prompt pass's decision */
            uncond_cache.mode = pag_cache.mode = cond_cache.reused ? DG_WAN_CACHE_REUSE : DG_WAN_CACHE_RUN;
            reused_in_row = cond_cache.reused ? reused_in_row + 1 : 0;
            steps_reused += cond_cache.reused;
        }
        uncond.step = i;
        if (use_cfg &&
            (dg_wan_forward(m, &p->sized, &x, t, NULL, &vu, &uncond, &stats) || dg_tensor_download(&vu, vuh)))
            goto done;
        if (use_pag) {
            dg_wan_call perturbed = call;
            perturbed.perturb = pag_u;
            perturbed.fork = fork ? DG_WAN_FORK_RESUME : DG_WAN_FORK_NONE;
            perturbed.cache = p->has_cache ? &pag_cache : NULL;
            if (dg_wan_forward(m, &p->sized, &x, t, NULL, &vp, &perturbed, &stats) ||
                dg_tensor_download(&vp, vph))
                goto done;
        }
        model_s += now_s() - m0;
        float *guided = vh; /* vh stays the cond prediction, which PAG needs after CFG */
        if (use_cfg) {
            dg_cfg_combine(vuh, vh, vuh, n, cfg_scale);
            guided = vuh;
        }
        if (use_pag) {
            dg_pag_combine(vph, guided, vh, vph, n, g->pag_scale);
            guided = vph;
        }
        const int every = g->preview_every > 0 ? g->preview_every : 1;
        const int preview = g->preview && ((i + 1) % every == 0 || i + 1 == g->steps);
        if (preview) /* flow matching: x = (1 - sigma) x0 + sigma noise and v = noise - x0 */
            for (size_t k = 0; k < n; k++) x0[k] = latents[k] - sch.sigmas[i] * guided[k];
        if (dg_scheduler_step(&sch, i, guided, latents)) goto done;
        if (check_step_finite(latents, vh, use_cfg ? vuh : NULL, use_pag ? vph : NULL, n, i, g->steps, g->sampler))
            goto done;
        if (preview) g->preview(g->preview_user, i + 1, g->steps, x0);
        if (progress) progress(user, i + 1, g->steps);
    }
    if (timing) {
        timing->denoise_s = now_s() - t0;
        timing->model_s = model_s;
        timing->attention_s = stats.attn_seconds;
        timing->comm_s = p->sized.comm_seconds - comm_s0;
        timing->comm_bytes = p->sized.comm_bytes - comm_b0;
        timing->steps_reused = steps_reused;
        timing->blocks_run = stats.blocks;
    }
    rc = DG_OK;
done:
    free(vh), free(vuh), free(vph), free(x0), free(pag_u);
    dg_wan_text_free(&text), dg_wan_text_free(&negative);
    dg_wan_cache_free(&cond_cache), dg_wan_cache_free(&uncond_cache), dg_wan_cache_free(&pag_cache);
    dg_tensor_free(&cache_scratch);
    dg_scheduler_free(&sch);
    dg_tensor_free(&x), dg_tensor_free(&v), dg_tensor_free(&vu), dg_tensor_free(&vp), dg_tensor_free(&ctx),
        dg_tensor_free(&neg);
    return rc;
}
