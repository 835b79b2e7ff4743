/* Two-expert (Wan2.2 A14B-style) folders as diffusers' WanPipeline runs them (fixtures:
 * tests/reference/make_wan_experts.py): steps at t >= boundary_ratio x num_train_timesteps run
 * transformer/ with the guidance scale, later ones transformer_2/ with guidance_scale_2 (the
 * folder's _ditgen_defaults, or the generation's cfg_scale_2). Same final latents within 1e-4 x
 * max|reference|; a second expert of another shape is refused. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ditgen.h"
#include "tests/fixture.h"
#include "tests/pipeline_checks.h"

#define ROOT DG_TEST_DIR "/fixtures/wan_tiny_experts"

static void run(dg_pipeline *p, const dg_safetensors *io, const dg_safetensors *ctx, const char *name,
                dg_sample_method method, float cfg_scale_2) {
    char key[64];
    snprintf(key, sizeof key, "%s.seed", name);
    const float *seed = fixture_f32(io, key, NULL);
    snprintf(key, sizeof key, "%s.cfg", name);
    const float *cfg = fixture_f32(io, key, NULL);
    const float *pe = fixture_f32(ctx, "prompt_embeds", NULL), *ne = fixture_f32(ctx, "negative_prompt_embeds", NULL);
    if (!seed || !cfg || !pe || !ne) return;
    dg_gen_params g = {.width = 64, .height = 48, .frames = 9, .steps = 6, .cfg_scale = cfg[0],
                       .cfg_scale_2 = cfg_scale_2, .flow_shift = 3.0, .sampler = method, .seed = (uint64_t)seed[0],
                       .context = pe, .context_len = 7, .negative = ne, .negative_len = 7};
    free(check_generation(p, io, name, &g, 1e-4, NULL));
}

/* A folder of links to the fixture whose transformer_2 is another model (wan_tiny_no_cross_norm's). */
static void check_mismatched_expert(void) {
    char dir[512], path[600], target[600];
    snprintf(dir, sizeof dir, "%s/experts_XXXXXX", DG_BINARY_DIR);
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    const char *links[][2] = {{"transformer", ROOT "/transformer"},
                              {"scheduler", ROOT "/scheduler"},
                              {"model_index.json", ROOT "/model_index.json"},
                              {"transformer_2", DG_TEST_DIR "/fixtures/wan_tiny_no_cross_norm/transformer"}};
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, links[i][0]);
        snprintf(target, sizeof target, "%s", links[i][1]);
        CHECK(symlink(target, path) == 0, "symlink %s", path);
    }
    dg_pipeline *p = NULL;
    int rc = dg_pipeline_open(&p, dir, NULL, 0);
    CHECK(rc != 0 && strstr(dg_last_error(), "config differs from transformer/'s"), "mismatched expert: %s",
          rc ? dg_last_error() : "accepted");
    dg_pipeline_close(p);
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, links[i][0]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void) {
    dg_safetensors io, ctx;
    fixture_open(&io, "wan_tiny_experts.safetensors");
    fixture_open(&ctx, "wan_tiny_context.safetensors");
    dg_pipeline *p = NULL;
    CHECK_OK(dg_pipeline_open(&p, ROOT, NULL, 0));
    if (p) {
        const dg_model_defaults *d = &dg_pipeline_info(p)->defaults;
        CHECK(d->boundary_ratio == 0.9 && d->cfg_scale_2 == 2.5f, "boundary %g, guidance_scale_2 %g",
              d->boundary_ratio, (double)d->cfg_scale_2);
        run(p, &io, &ctx, "unipc", DG_SAMPLE_UNIPC, 0);       /* the folder's guidance_scale_2 */
        run(p, &io, &ctx, "euler", DG_SAMPLE_EULER, 0);
        run(p, &io, &ctx, "unipc_same", DG_SAMPLE_UNIPC, 3.0f); /* the generation's */
        dg_pipeline_close(p);
    }
    check_mismatched_expert();
    dg_safetensors_close(&io);
    dg_safetensors_close(&ctx);
    return TEST_END();
}
