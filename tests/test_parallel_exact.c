/* Exact sequence parallelism under mpirun -np N (ctest runs N = 1, 2, 3), by Ulysses all-to-all (auto
 * on 1 and 2 ranks: the tiny model's 2 heads) and by all-gather (overlapped or blocking): every rank's latents equal
 * the one-process latents of the same generation (max abs error <= 1e-5 x max|ref|; the split only
 * changes GEMM row counts) and diffusers' fixture latents (1e-4, as test_pipeline): with CFG, with
 * the SoftPAG pass resumed from its shared prefix, with step caching (the same steps reused), and at
 * a size whose tokens do not divide evenly over the ranks. A sparse attention plan is refused before
 * any work. */
#include <string.h>
#include <unistd.h>

#include "tests/test.h"
#include "tests/pipeline_checks.h"
#include "tests/scratch_dir.h"

static void compare(const char *what, const float *got, const float *ref, int64_t n, int rank) {
    double e, r;
    test_max_err(got, ref, (size_t)n, &e, &r);
    printf("rank %d: %-40s max err %.3g (max|ref| %.3g)\n", rank, what, e, r);
    CHECK(e <= 1e-5 * r, "rank %d %s: max err %g > 1e-5 x %g", rank, what, e, r);
}

/* g with and without the split (opts: how the keys reach every rank): the same latents on every rank. */
static float *split_vs_one(dg_pipeline *p, const dg_gen_params *g, const dg_parallel_opts *opts, const char *what,
                           int64_t *numel) {
    int64_t shape[4];
    CHECK_OK(dg_pipeline_latent_shape(p, g, shape));
    const int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
    float *par = malloc((size_t)n * sizeof(float)), *one = malloc((size_t)n * sizeof(float));
    int rank, size;
    CHECK_OK(dg_pipeline_set_parallel(p, opts));
    dg_pipeline_rank(p, &rank, &size);
    CHECK_OK(dg_pipeline_generate(p, g, par, NULL, NULL, NULL));
    CHECK_OK(dg_pipeline_set_parallel(p, NULL));
    CHECK_OK(dg_pipeline_generate(p, g, one, NULL, NULL, NULL));
    char label[96];
    snprintf(label, sizeof label, "%s over %d ranks (%s%s)", what, size, opts->attention ? opts->attention : "auto",
             opts->blocking ? ", blocking" : "");
    if (!test_failures) compare(label, par, one, n, rank);
    free(one);
    *numel = n;
    return par;
}

/* Step caching split over the ranks: block 0's change is summed over every rank's rows, so the ranks
 * reuse the same steps as one process and the latents agree as uncached ones do. */
static int cached_split_vs_one(dg_pipeline *p, const dg_gen_params *g, double threshold) {
    char preset[64], json[160];
    snprintf(preset, sizeof preset, "cache_%g.json", threshold);
    snprintf(json, sizeof json, "{\"method\": \"first_block_cache\", \"threshold\": %g, \"warmup_steps\": 1}",
             threshold);
    FILE *f = fopen(path_in(preset), "w");
    CHECK(f && fputs(json, f) >= 0 && fclose(f) == 0, "cannot write %s", path_in(preset));
    int64_t shape[4];
    CHECK_OK(dg_pipeline_latent_shape(p, g, shape));
    const int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
    float *par = malloc((size_t)n * sizeof(float)), *one = malloc((size_t)n * sizeof(float));
    dg_gen_timing tpar = {0}, tone = {0};
    const dg_parallel_opts exact = {.mode = "exact"};
    int rank, size;
    CHECK_OK(dg_pipeline_set_cache(p, path_in(preset), NULL));
    CHECK_OK(dg_pipeline_set_parallel(p, &exact));
    dg_pipeline_rank(p, &rank, &size);
    CHECK_OK(dg_pipeline_generate(p, g, par, NULL, NULL, &tpar));
    CHECK_OK(dg_pipeline_set_parallel(p, NULL));
    CHECK_OK(dg_pipeline_generate(p, g, one, NULL, NULL, &tone));
    CHECK_OK(dg_pipeline_set_cache(p, NULL, NULL));
    char label[96];
    snprintf(label, sizeof label, "cache %s (%d of %d steps reused)", preset, tpar.steps_reused, g->steps);
    CHECK(tpar.steps_reused == tone.steps_reused, "rank %d, cache %s: %d steps reused split over %d ranks, %d in one",
          rank, preset, tpar.steps_reused, size, tone.steps_reused);
    if (!test_failures) compare(label, par, one, n, rank);
    free(par), free(one);
    remove(path_in(preset));
    return tone.steps_reused;
}

static float *both_ways(dg_pipeline *p, const dg_gen_params *g, const char *what, int64_t *numel) {
    const dg_parallel_opts exact = {.mode = "exact"};
    return split_vs_one(p, g, &exact, what, numel);
}

int main(void) {
    if (scratch_dir_make("parallel_exact")) return 1;
    dg_pipeline *p = wan_tiny_open(NULL);
    dg_safetensors io, ctx;
    fixture_open(&io, "wan_tiny_pipeline.safetensors");
    fixture_open(&ctx, "wan_tiny_context.safetensors");
    if (!p || test_failures) return TEST_END();
    const float *pe = fixture_f32(&ctx, "prompt_embeds", NULL), *ne = fixture_f32(&ctx, "negative_prompt_embeds", NULL);
    const float *seed = fixture_f32(&io, "unipc.seed", NULL), *cfg = fixture_f32(&io, "unipc.cfg", NULL);
    if (!pe || !ne || !seed || !cfg) return TEST_END();
    dg_gen_params g = {.width = 64, .height = 48, .frames = 9, .steps = 4, .cfg_scale = cfg[0], .flow_shift = 3.0,
                       .sampler = DG_SAMPLE_UNIPC, .seed = (uint64_t)seed[0], .context = pe, .context_len = 7,
                       .negative = ne, .negative_len = 7};
    int64_t n, nref;
    float *lat = both_ways(p, &g, "unipc + CFG", &n);
    const float *ref = fixture_f32(&io, "unipc.latents", &nref);
    if (ref && nref == n && !test_failures) {
        double e, r;
        test_max_err(lat, ref, (size_t)n, &e, &r);
        CHECK(e <= 1e-4 * r, "parallel vs diffusers: max err %g > 1e-4 x %g", e, r);
    }
    free(lat);

    /* SoftPAG on block 1, head 0: the perturbed pass resumes each rank's share of the shared prefix */
    const dg_head heads[1] = {{1, 0}};
    dg_gen_params pag = g;
    pag.pag_scale = 2.0f, pag.pag_u = 0.5f, pag.pag_heads = heads, pag.n_pag_heads = 1;
    free(both_ways(p, &pag, "SoftPAG with its shared prefix", &n));

    dg_gen_params many = g;
    many.steps = 12;
    /* on the tiny model block 0's change runs 0.9..1.1 from step to step, none of it within 0.04 of
     * 1 (thresholds 0.96 and 1.04 reuse the same 3 steps): threshold 1 reuses some steps and not
     * others, far from rounding, and 1.5 every step after the warm-up */
    const int some = cached_split_vs_one(p, &many, 1.0), all = cached_split_vs_one(p, &many, 1.5);
    CHECK(some > 0 && some < 11 && all == 11, "threshold 1 reused %d of 12 steps (want some), 1.5 %d (want 11)", some,
          all);

    /* 5x4x4 patches = 80 tokens: uneven over 3 ranks */
    dg_gen_params odd = g;
    odd.width = 64, odd.height = 64, odd.frames = 17, odd.cfg_scale = 1.0f;
    free(both_ways(p, &odd, "80 tokens, no CFG", &n));

    /* the tiny model has 2 heads: Ulysses on 1 and 2 ranks (auto picks it there), refused on 3; the
     * all-gather everywhere, with its exchanges overlapped or not */
    int rank, size;
    const dg_parallel_opts ulysses = {.mode = "exact", .attention = "ulysses"},
                           gather = {.mode = "exact", .attention = "allgather"},
                           gather_blocking = {.mode = "exact", .attention = "allgather", .blocking = 1};
    CHECK_OK(dg_pipeline_set_parallel(p, &gather));
    dg_pipeline_rank(p, &rank, &size);
    free(split_vs_one(p, &odd, &gather, "80 tokens", &n));
    free(split_vs_one(p, &odd, &gather_blocking, "80 tokens", &n));
    free(split_vs_one(p, &pag, &gather, "SoftPAG", &n));
    if (2 % size == 0) {
        free(split_vs_one(p, &odd, &ulysses, "80 tokens", &n));
    } else {
        CHECK_OK(dg_pipeline_set_parallel(p, &ulysses));
        expect_refused(p, g, "divide the model's 2 heads");
    }
    CHECK(dg_pipeline_set_parallel(p, &(dg_parallel_opts){.mode = "exact", .attention = "ring"}) == DG_ERR,
          "an unknown parallel attention is refused");

    /* a sparse plan is refused before any work */
    const dg_parallel_opts exact = {.mode = "exact"};
    CHECK_OK(dg_pipeline_set_parallel(p, &exact));
    char plan[512];
    snprintf(plan, sizeof plan, "%s/../configs/attention/radial_wan.json", DG_TEST_DIR);
    CHECK_OK(dg_pipeline_set_attention(p, plan, NULL));
    expect_refused(p, g, "dense attention");
    dg_safetensors_close(&ctx);
    dg_safetensors_close(&io);
    dg_pipeline_close(p);
    CHECK(n_entries() == 0, "%d files left in %s", n_entries(), dir);
    rmdir(dir);
    return TEST_END();
}
