/* Wan2.2 TI2V-5B-style folders in text-to-video mode against diffusers (fixtures:
 * tests/reference/make_wan22_ti2v.py): the Wan2.2 VAE decoder alone (is_residual up blocks with
 * DupUp3D shortcuts, patch_size 2 unpatchify, 48 latent channels and their statistics), then
 * WanPipeline with expand_timesteps (a per-token timestep equal to t everywhere) to the final
 * latents and the decoded frames. Tolerances, all 1e-4 x max|reference|: the VAE's frames (2e-6
 * measured), the latents after 4 UniPC steps with guidance (3e-6), the pipeline's frames (the
 * latents' error through the decoder and diffusers' [0, 1] round trip; 1.4e-5). Sizes that are not
 * multiples of 32 pixels (16x VAE x patch 2) and tiled decodes are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "ditgen.h"
#include "tests/fixture.h"
#include "tests/pipeline_checks.h"
#include "vae/wan_vae.h"

#define ROOT DG_TEST_DIR "/fixtures/wan22_ti2v_tiny"

/* A parallel decode's share: latent frames 1.. with a whole warm-up equal those frames of the whole
 * decode; one that starts after chunk 0 (no warm-up: time_conv runs from its first chunk and the
 * DupUp3D shortcut keeps every frame, as in diffusers' later chunks) gives as many frames. */
static void check_share(dg_wan_vae *v, const float *z, int F, int h, int w, const float *whole) {
    const size_t px = (size_t)(16 * h) * (16 * w), n_whole = (size_t)(1 + 4 * (F - 1)) * px;
    const size_t n = (size_t)4 * (F - 1) * px;
    float *share = malloc(3 * n * sizeof(float)), *ref = malloc(3 * n * sizeof(float));
    CHECK(share && ref, "out of memory");
    if (share && ref) {
        for (int c = 0; c < 3; c++) memcpy(ref + c * n, whole + c * n_whole + px, n * sizeof(float));
        CHECK_OK(dg_wan_vae_decode_frames(v, z, F, h, w, 1, F, 1, share, 0));
        check_close("Wan2.2 VAE share after a warm-up", share, ref, 3 * n, 1e-6);
        CHECK_OK(dg_wan_vae_decode_frames(v, z, F, h, w, 1, F, 0, share, 0));
    }
    free(share), free(ref);
}

static void test_vae(const dg_safetensors *io) {
    dg_backend be;
    CHECK_OK(dg_backend_cpu_init(&be, 0));
    dg_wan_vae v;
    CHECK_OK(dg_wan_vae_load(&v, &be, ROOT "/vae"));
    if (test_failures) return;
    const dg_wan_vae_config *c = &v.cfg;
    CHECK(c->residual && c->patch == 2 && c->z_dim == 48 && c->out_channels == 3 && c->scale_t == 4 &&
              c->scale_s == 16,
          "config: residual %d patch %d z %d out %d scale_t %d scale_s %d", c->residual, c->patch, c->z_dim,
          c->out_channels, c->scale_t, c->scale_s);
    const dg_st_tensor *z = dg_safetensors_find(io, "vae.z");
    int64_t n_ref, n_in, n_den;
    const float *ref = fixture_f32(io, "vae.out", &n_ref);
    const float *din = fixture_f32(io, "denorm.in", &n_in), *dref = fixture_f32(io, "denorm.out", &n_den);
    CHECK(z && ref && din && dref, "fixture tensors missing");
    if (test_failures) {
        dg_wan_vae_free(&v);
        return;
    }
    const int F = (int)z->shape[1], h = (int)z->shape[2], w = (int)z->shape[3];
    const size_t n = (size_t)3 * (1 + 4 * (F - 1)) * (16 * h) * (16 * w);
    CHECK((size_t)n_ref == n, "vae.out has %lld values, expected %zu", (long long)n_ref, n);
    float *out = malloc(n * sizeof(float)), *den = malloc((size_t)n_in * sizeof(float));
    CHECK(out && den, "out of memory");
    if (out && den && !test_failures) {
        CHECK_OK(dg_wan_vae_decode(&v, z->data, F, h, w, out, 0));
        check_close("Wan2.2 VAE decode", out, ref, n, 1e-4);
        check_share(&v, z->data, F, h, w, out);
        /* diffusers blends the tiles in another space: tiles are refused */
        CHECK(dg_wan_vae_decode(&v, z->data, F, h, w, out, 1) != 0 && strstr(dg_last_error(), "patch_size 2"),
              "tiled decode of the Wan2.2 VAE: %s", dg_last_error());
        const dg_st_tensor *dt = dg_safetensors_find(io, "denorm.in");
        memcpy(den, din, (size_t)n_in * sizeof(float));
        dg_wan_vae_denormalize(c, den, (int)dt->shape[1], (int)dt->shape[2], (int)dt->shape[3]);
        check_close("48-channel denormalize", den, dref, (size_t)n_den, 1e-6);
    }
    free(out), free(den);
    dg_wan_vae_free(&v);
    dg_backend_free(&be);
}

static void test_pipeline(const dg_safetensors *io, const dg_safetensors *ctx) {
    const float *seed = fixture_f32(io, "unipc.seed", NULL), *cfg = fixture_f32(io, "unipc.cfg", NULL);
    const float *pe = fixture_f32(ctx, "prompt_embeds", NULL), *ne = fixture_f32(ctx, "negative_prompt_embeds", NULL);
    int64_t n_frames;
    const float *ref = fixture_f32(io, "unipc.frames", &n_frames);
    dg_pipeline *p = NULL;
    CHECK_OK(dg_pipeline_open(&p, ROOT, NULL, 0));
    if (!seed || !cfg || !pe || !ne || !ref || test_failures) {
        dg_pipeline_close(p);
        return;
    }
    const dg_model_info *i = dg_pipeline_info(p);
    CHECK(i->in_channels == 48 && i->spatial_factor == 16 && i->temporal_factor == 4 && i->defaults.flow_shift == 5.0,
          "info: %d channels, x%d pixels, x%d frames, flow_shift %g", i->in_channels, i->spatial_factor,
          i->temporal_factor, i->defaults.flow_shift);
    dg_gen_params g = {.width = 64, .height = 32, .frames = 5, .steps = 4, .cfg_scale = cfg[0], .flow_shift = 5.0,
                       .sampler = DG_SAMPLE_UNIPC, .seed = (uint64_t)seed[0], .context = pe, .context_len = 7,
                       .negative = ne, .negative_len = 7};
    int64_t n, shape[4];
    float *lat = check_generation(p, io, "unipc", &g, 1e-4, &n);
    float *frames = malloc((size_t)n_frames * sizeof(float));
    if (lat && frames && dg_pipeline_latent_shape(p, &g, shape) == DG_OK) {
        CHECK(shape[0] == 48 && shape[1] == 2 && shape[2] == 2 && shape[3] == 4, "latent shape %lldx%lldx%lldx%lld",
              (long long)shape[0], (long long)shape[1], (long long)shape[2], (long long)shape[3]);
        CHECK_OK(dg_pipeline_decode(p, lat, shape, 0, frames));
        check_close("pipeline frames", frames, ref, (size_t)n_frames, 1e-4);
    }
    free(lat), free(frames);
    /* 16-pixel multiples fit the VAE but leave an odd latent for the 2x2 patch */
    g.width = 48;
    expect_refused(p, g, "width 48 is not a multiple of 32");
    g.width = 64;
    g.vae_tile = 1;
    expect_refused(p, g, "vae_tile 1: tiled decoding of a patch_size 2 VAE");
    dg_pipeline_close(p);
}

int main(void) {
    dg_safetensors io, ctx;
    fixture_open(&io, "wan22_ti2v_tiny.safetensors");
    fixture_open(&ctx, "wan_tiny_context.safetensors");
    if (!test_failures) {
        test_vae(&io);
        test_pipeline(&io, &ctx);
    }
    dg_safetensors_close(&io);
    dg_safetensors_close(&ctx);
    return TEST_END();
}
