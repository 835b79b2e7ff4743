/* Clip parallelism (dual-scope attention) under mpirun -np N (ctest runs N = 1, 2, 3), against the
 * one-process latents where its scopes see every frame:
 * - the global scope holding every frame and weighted e^30 over the local one (phase bias at every
 *   step): the attention is then over all frames, as one process (1e-5 x max|ref|);
 * - on 2 ranks, a halo of all the neighbour's frames and no global scope: the local scope is every
 *   frame, as one process;
 * - global keys with no temporal RoPE change them; clamped positions on one rank (every frame is
 *   inside its scope) do not;
 * - narrow scopes (halo 1, global 1, Video-Infinity's schedule) give finite latents that differ, and
 *   the same ones whether the exchanges overlap the attention to a rank's own frames or not;
 * - perturbation guidance and ranks with fewer frames than the halo are refused with the reason. */
#include <string.h>

#include "tests/test.h"
#include "tests/pipeline_checks.h"

static float *generate(dg_pipeline *p, const dg_gen_params *g, const dg_parallel_opts *par, int64_t *n) {
    int64_t shape[4];
    CHECK_OK(dg_pipeline_latent_shape(p, g, shape));
    *n = shape[0] * shape[1] * shape[2] * shape[3];
    float *lat = malloc((size_t)*n * sizeof(float));
    CHECK_OK(dg_pipeline_set_parallel(p, par));
    CHECK_OK(dg_pipeline_generate(p, g, lat, NULL, NULL, NULL));
    return lat;
}

static void compare(const char *what, const float *got, const float *ref, int64_t n, int rank, double tol) {
    double e, r;
    test_max_err(got, ref, (size_t)n, &e, &r);
    printf("rank %d: %-52s max err %.3g (max|ref| %.3g)\n", rank, what, e, r);
    if (tol > 0) CHECK(e <= tol * r, "rank %d %s: max err %g > %g x %g", rank, what, e, tol, r);
    else CHECK(e > 1e-3 * r && e == e, "rank %d %s: narrow scopes should change the latents (err %g)", rank, what, e);
}

int main(void) {
    dg_pipeline *p = wan_tiny_open(NULL);
    dg_safetensors ctx;
    fixture_open(&ctx, "wan_tiny_context.safetensors");
    if (!p || test_failures) return TEST_END();
    const float *pe = fixture_f32(&ctx, "prompt_embeds", NULL), *ne = fixture_f32(&ctx, "negative_prompt_embeds", NULL);
    if (!pe || !ne) return TEST_END();
    /* 21 frames = 6 latent frames: 6, 3 or 2 per rank */
    dg_gen_params g = {.width = 64, .height = 48, .frames = 21, .steps = 3, .cfg_scale = 5.0f, .flow_shift = 3.0,
                       .sampler = DG_SAMPLE_UNIPC, .seed = 7, .context = pe, .context_len = 7, .negative = ne,
                       .negative_len = 7};
    int64_t n;
    float *one = generate(p, &g, NULL, &n);
    const dg_parallel_opts probe = {.mode = "clip"};
    CHECK_OK(dg_pipeline_set_parallel(p, &probe));
    int rank, size;
    dg_pipeline_rank(p, &rank, &size);
    const int own = 6 / size;
    char what[96];

    const dg_parallel_opts global_all = {.mode = "clip", .halo = 0, .global = own, .phase_t = -1e6f, .phase_bias = 30};
    float *lat = generate(p, &g, &global_all, &n);
    snprintf(what, sizeof what, "global scope = every frame, %d ranks", size);
    compare(what, lat, one, n, rank, 1e-5);
    free(lat);

    dg_parallel_opts rope = global_all;
    rope.global_rope = "none";
    lat = generate(p, &g, &rope, &n);
    snprintf(what, sizeof what, "global keys without temporal RoPE, %d ranks", size);
    compare(what, lat, one, n, rank, 0);
    free(lat);
    if (size == 1) {
        rope.global_rope = "clamped";
        lat = generate(p, &g, &rope, &n);
        compare("global keys clamped inside one rank's scope", lat, one, n, rank, 1e-5);
        free(lat);
    }

    if (size == 2) {
        const dg_parallel_opts halo_all = {.mode = "clip", .halo = own, .global = 0};
        lat = generate(p, &g, &halo_all, &n);
        compare("halo = the neighbour's frames, 2 ranks", lat, one, n, rank, 1e-5);
        free(lat);
    }
    if (size > 1) {
        const dg_parallel_opts narrow = {.mode = "clip", .halo = 1, .global = 1, .phase_t = 800, .phase_bias = 10};
        lat = generate(p, &g, &narrow, &n);
        snprintf(what, sizeof what, "halo 1, global 1, phase 800/10, %d ranks", size);
        compare(what, lat, one, n, rank, 0);
        dg_parallel_opts blocking = narrow;
        blocking.blocking = 1;
        float *seq = generate(p, &g, &blocking, &n);
        snprintf(what, sizeof what, "the same, exchanges not overlapped, %d ranks", size);
        compare(what, seq, lat, n, rank, 1e-6);
        free(seq), free(lat);

        const dg_parallel_opts too_wide = {.mode = "clip", .halo = own + 1};
        CHECK_OK(dg_pipeline_set_parallel(p, &too_wide));
        expect_refused(p, g, "fewer than");
    }
    const dg_head heads[1] = {{1, 0}};
    dg_gen_params pag = g;
    pag.pag_scale = 2.0f, pag.pag_u = 1.0f, pag.pag_heads = heads, pag.n_pag_heads = 1;
    CHECK_OK(dg_pipeline_set_parallel(p, &global_all));
    expect_refused(p, pag, "perturbation guidance");
    free(one);
    dg_safetensors_close(&ctx);
    dg_pipeline_close(p);
    return TEST_END();
}
