/* Head-level perturbation guidance (SoftPAG / PAG) against HeadHunter's formula run on diffusers'
 * own Wan attention (fixtures: tests/reference/make_pag.py): the chosen self-attention heads blended
 * toward identity in a third pass, v = v_u + cfg (v_c - v_u) + s (v_c - v_p), 4 steps of UniPC with
 * CFG or Euler without. Tolerance: max abs error <= 1e-4 x max|reference|. Bad head lists and
 * blends are refused with the flag named. */
#include "ditgen.h"
#include "tests/fixture.h"
#include "tests/pipeline_checks.h"

static dg_gen_params base_params(const float *pe, const float *ne) {
    return (dg_gen_params){.width = 64, .height = 48, .frames = 9, .steps = 4, .flow_shift = 3.0, .context = pe,
                           .context_len = 7, .negative = ne, .negative_len = 7};
}

static void run(dg_pipeline *p, const dg_safetensors *io, const char *name, dg_gen_params g) {
    int64_t n;
    float *guided = check_generation(p, io, name, &g, 1e-4, &n);
    if (!guided) return;
    /* and the guidance did something: without it the latents are far from the guided ones */
    g.pag_scale = 0.0f;
    float *plain = malloc((size_t)n * sizeof(float));
    CHECK_OK(dg_pipeline_generate(p, &g, plain, NULL, NULL, NULL));
    double err, scale;
    test_max_err(plain, guided, (size_t)n, &err, &scale);
    CHECK(err > 0.05 * scale, "%s: PAG changed the latents by only %g", name, err);
    free(guided), free(plain);
}

int main(void) {
    dg_safetensors io, ctx;
    fixture_open(&io, "wan_tiny_pag.safetensors");
    fixture_open(&ctx, "wan_tiny_context.safetensors");
    dg_pipeline *p = wan_tiny_open(NULL);
    if (!p) return TEST_END();
    const float *pe = fixture_f32(&ctx, "prompt_embeds", NULL), *ne = fixture_f32(&ctx, "negative_prompt_embeds", NULL);
    if (!pe || !ne) return TEST_END();

    /* SoftPAG (u = 0.5) on two single heads, with CFG */
    const dg_head soft[] = {{0, 1}, {1, 0}};
    dg_gen_params g = base_params(pe, ne);
    g.sampler = DG_SAMPLE_UNIPC, g.seed = 42, g.cfg_scale = 5.0f;
    g.pag_scale = 2.0f, g.pag_u = 0.5f, g.pag_heads = soft, g.n_pag_heads = 2;
    run(p, &io, "softpag_cfg", g);

    /* layer-level PAG (every head of block 1, u = 1), no CFG */
    const dg_head layer[] = {{1, -1}};
    g = base_params(pe, ne);
    g.sampler = DG_SAMPLE_EULER, g.seed = 7, g.cfg_scale = 1.0f;
    g.pag_scale = 3.0f, g.pag_u = 1.0f, g.pag_heads = layer, g.n_pag_heads = 1;
    run(p, &io, "pag_layer", g);

    const dg_head bad_layer[] = {{2, 0}}, bad_head[] = {{0, 2}}, bad_neg[] = {{0, -2}};
    g = base_params(pe, ne);
    g.cfg_scale = 1.0f, g.pag_scale = 2.0f, g.pag_u = 1.0f, g.pag_heads = bad_layer, g.n_pag_heads = 1;
    expect_refused(p, g, "pag_heads: 2:0");
    g.pag_heads = bad_head;
    expect_refused(p, g, "pag_heads: 0:2");
    g.pag_heads = bad_neg;
    expect_refused(p, g, "pag_heads: 0:-2");
    g.pag_heads = soft, g.n_pag_heads = 0;
    expect_refused(p, g, "pag_heads");
    g.n_pag_heads = 2, g.pag_u = 0.0f;
    expect_refused(p, g, "pag_u");
    g.pag_u = 1.5f;
    expect_refused(p, g, "pag_u");

    dg_pipeline_close(p);
    dg_safetensors_close(&io);
    dg_safetensors_close(&ctx);
    return TEST_END();
}
