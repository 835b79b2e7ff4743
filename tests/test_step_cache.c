/* Step caching (First-Block Cache) on the tiny Wan fixture, against the obvious computation:
 *  - forward level: after a full step, a reused step's hidden state is block 0's output plus what
 *    the other blocks added at the full step (from the taps of both forwards), and the reported
 *    change is sum|r - r_prev| / sum|r_prev| of block 0's residuals r; a step that does not reuse
 *    gives the bits of a forward without a cache;
 *  - pipeline level: threshold 0 gives the uncached latents bit for bit; a huge threshold reuses
 *    every step the policy allows (warm-up, final steps, the bound on reuses in a row), with and
 *    without CFG, and the latents move away from the uncached ones but stay finite;
 *  - with perturbation guidance (PAG), cached at threshold 0 is PAG uncached bit for bit, and with
 *    reuse the perturbed pass keeps its own residuals;
 *  - presets: unknown keys, methods and ranges are refused naming the file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "dit/wan.h"
#include "ditgen.h"
#include "sampler/step_cache.h"
#include "tests/fixture.h"
#include "tests/pipeline_checks.h"
#include "tests/scratch_dir.h"

/* ---- forward level ------------------------------------------------------ */

typedef struct taps {
    int64_t n;
    float *patch, *block0, *last, *cached; /* copies of the tapped hidden states */
    int last_layer;
} taps;

static void keep(float **dst, const dg_tensor *t, int64_t n) {
    if (!*dst) *dst = malloc((size_t)n * sizeof(float));
    if (*dst) memcpy(*dst, t->data, (size_t)n * sizeof(float));
}

static void on_tap(void *user, const char *name, const dg_tensor *t) {
    taps *k = user;
    char last[32];
    snprintf(last, sizeof last, "block%d", k->last_layer);
    if (!strcmp(name, "patch")) keep(&k->patch, t, k->n);
    else if (!strcmp(name, "block0")) keep(&k->block0, t, k->n);
    else if (!strcmp(name, last)) keep(&k->last, t, k->n);
    else if (!strcmp(name, "cached")) keep(&k->cached, t, k->n);
}

static void taps_free(taps *k) { free(k->patch), free(k->block0), free(k->last), free(k->cached); }

static void forward_level(dg_wan_model *m, const dg_safetensors *io) {
    const float *x = fixture_f32(io, "video.x", NULL), *ctx = fixture_f32(io, "video.context", NULL);
    const dg_st_tensor *xt = dg_safetensors_find(io, "video.x"), *ct = dg_safetensors_find(io, "video.context");
    if (!x || !ctx) return;
    dg_tensor xin, cin, out, plain, scratch;
    dg_wan_sized sized;
    dg_wan_cache cache;
    CHECK_OK(dg_tensor_view(&xin, m->be, DG_F32, 4, xt->shape, (void *)x));
    CHECK_OK(dg_tensor_view(&cin, m->be, DG_F32, 2, ct->shape, (void *)ctx));
    CHECK_OK(dg_tensor_alloc(&out, m->be, DG_F32, 4, xt->shape));
    CHECK_OK(dg_tensor_alloc(&plain, m->be, DG_F32, 4, xt->shape));
    CHECK_OK(dg_wan_sized_init(&sized, m, (int)xt->shape[1], (int)xt->shape[2], (int)xt->shape[3],
                               (int)ct->shape[0], NULL, 0, NULL));
    const int64_t hs[2] = {sized.ntok, m->cfg.dim}, n = hs[0] * hs[1];
    CHECK_OK(dg_tensor_alloc(&scratch, m->be, DG_F32, 2, hs));
    CHECK_OK(dg_wan_cache_init(&cache, m, &sized, &scratch));
    if (test_failures) return;
    taps full = {.n = n, .last_layer = m->cfg.num_layers - 1}, next = full;

    /* a full step at t = 900 */
    cache.mode = DG_WAN_CACHE_DECIDE, cache.threshold = 1e9f;
    dg_wan_call call = {.tap = on_tap, .user = &full, .cache = &cache};
    CHECK_OK(dg_wan_forward(m, &sized, &xin, 900.0f, &cin, &out, &call, NULL));
    CHECK(!cache.reused && isnan(cache.change) && cache.valid, "the first step reused (%d) or compared (%g)",
          cache.reused, cache.change);
    dg_wan_call bare = {0};
    CHECK_OK(dg_wan_forward(m, &sized, &xin, 900.0f, &cin, &plain, &bare, NULL));
    CHECK(!memcmp(out.data, plain.data, (size_t)dg_tensor_numel(&out) * sizeof(float)),
          "a full step with a cache differs from a forward without one");

    /* the next step at t = 850 with a threshold nothing passes: reused */
    call.user = &next;
    CHECK_OK(dg_wan_forward(m, &sized, &xin, 850.0f, &cin, &out, &call, NULL));
    CHECK(cache.reused && next.cached, "a step under a huge threshold was not reused");
    if (!test_failures && full.patch && full.block0 && full.last && next.patch && next.block0) {
        double num = 0, den = 0, err = 0, scale = 0;
        for (int64_t i = 0; i < n; i++) {
            const double r = (double)next.block0[i] - next.patch[i], r0 = (double)full.block0[i] - full.patch[i];
            num += fabs(r - r0), den += fabs(r0);
            const double want = (double)next.block0[i] + ((double)full.last[i] - full.block0[i]);
            err = fmax(err, fabs(next.cached[i] - want)), scale = fmax(scale, fabs(want));
        }
        printf("reused step: change %.6f (reference %.6f), hidden max err %.2e of %.2e\n", cache.change, num / den,
               err, scale);
        CHECK(fabs(cache.change - num / den) <= 1e-4 * (num / den), "change %g, reference %g", cache.change,
              num / den);
        CHECK(err <= 1e-5 * scale, "reused hidden state off by %g (scale %g)", err, scale);
    }

    /* threshold 0 never reuses, and the step is the bare forward's */
    cache.threshold = 0.0f;
    call.user = &next;
    CHECK_OK(dg_wan_forward(m, &sized, &xin, 850.0f, &cin, &out, &call, NULL));
    CHECK_OK(dg_wan_forward(m, &sized, &xin, 850.0f, &cin, &plain, &bare, NULL));
    CHECK(!cache.reused && cache.change > 0, "threshold 0: reused %d, change %g", cache.reused, cache.change);
    CHECK(!memcmp(out.data, plain.data, (size_t)dg_tensor_numel(&out) * sizeof(float)),
          "a step that ran every block differs from a forward without a cache");

    /* REUSE without a full step is refused */
    dg_wan_cache fresh;
    CHECK_OK(dg_wan_cache_init(&fresh, m, &sized, &scratch));
    fresh.mode = DG_WAN_CACHE_REUSE;
    dg_wan_call reuse = {.cache = &fresh};
    CHECK(dg_wan_forward(m, &sized, &xin, 850.0f, &cin, &out, &reuse, NULL) != DG_OK &&
              strstr(dg_last_error(), "before any step"),
          "a reuse without a full step: %s", dg_last_error());
    dg_wan_cache_free(&fresh);

    taps_free(&full), taps_free(&next);
    dg_wan_cache_free(&cache);
    dg_tensor_free(&scratch), dg_tensor_free(&out), dg_tensor_free(&plain);
    dg_wan_sized_free(&sized);
}

/* ---- pipeline level ----------------------------------------------------- */

static const char *write_preset(const char *name, const char *json) {
    const char *path = path_in(name);
    FILE *f = fopen(path, "w");
    CHECK(f && fputs(json, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
    return path;
}

/* The generation's latents and steps reused; returns the transformer blocks it ran. */
static int64_t generate(dg_pipeline *p, const dg_gen_params *g, float *lat, int *reused) {
    dg_gen_timing tm = {0};
    CHECK_OK(dg_pipeline_generate(p, g, lat, NULL, NULL, &tm));
    *reused = tm.steps_reused;
    return tm.blocks_run;
}

static void pipeline_level(dg_pipeline *p, const float *pe, const float *ne) {
    dg_gen_params g = {.width = 64, .height = 48, .frames = 9, .steps = 12, .flow_shift = 3.0, .context = pe,
                       .context_len = 7, .negative = ne, .negative_len = 7, .seed = 5, .cfg_scale = 5.0f,
                       .sampler = DG_SAMPLE_UNIPC, .vae_tile = -1};
    int64_t shape[4];
    CHECK_OK(dg_pipeline_latent_shape(p, &g, shape));
    const size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
    float *plain = malloc(n * sizeof(float)), *lat = malloc(n * sizeof(float));
    int reused = -1;
    CHECK_OK(dg_pipeline_set_cache(p, NULL, NULL));
    generate(p, &g, plain, &reused);
    CHECK(reused == 0, "no cache: %d steps reused", reused);

    const char *never = write_preset("never.json", "{\"method\": \"first_block_cache\", \"threshold\": 0}");
    CHECK_OK(dg_pipeline_set_cache(p, never, NULL));
    generate(p, &g, lat, &reused);
    CHECK(reused == 0 && !memcmp(lat, plain, n * sizeof(float)), "threshold 0: %d reused, latents %s", reused,
          memcmp(lat, plain, n * sizeof(float)) ? "differ" : "equal");

    /* every allowed step: 12 steps, 2 warm-up, 1 final: 9 reused */
    const char *always = write_preset("always.json", "{\"method\": \"first_block_cache\", \"threshold\": 1e3,"
                                                     " \"warmup_steps\": 2, \"final_steps\": 1}");
    CHECK_OK(dg_pipeline_set_cache(p, always, NULL));
    for (int cfg = 0; cfg < 2; cfg++) {
        g.cfg_scale = cfg ? 5.0f : 1.0f;
        if (cfg) {
            generate(p, &g, lat, &reused);
        } else { /* the uncached run without CFG first, then the cached one */
            CHECK_OK(dg_pipeline_set_cache(p, "none", NULL));
            generate(p, &g, plain, &reused);
            CHECK_OK(dg_pipeline_set_cache(p, always, NULL));
            generate(p, &g, lat, &reused);
        }
        double err, scale;
        test_max_err(lat, plain, n, &err, &scale);
        printf("cfg %g: %d of 12 steps reused, max change %.3g of %.3g\n", g.cfg_scale, reused, err, scale);
        CHECK(reused == 9, "cfg %g: %d steps reused, want 9", g.cfg_scale, reused);
        CHECK(isfinite(err) && err > 0, "cfg %g: reused steps left the latents %s", g.cfg_scale,
              isfinite(err) ? "unchanged" : "non-finite");
        if (!cfg) { /* the CFG run compares with its own uncached latents */
            g.cfg_scale = 5.0f;
            CHECK_OK(dg_pipeline_set_cache(p, "none", NULL));
            generate(p, &g, plain, &reused);
            CHECK_OK(dg_pipeline_set_cache(p, always, NULL));
        }
    }

    /* at most 2 reused in a row: R R F R R F R R F (steps 2..10, then the final step) = 6 of 12 */
    const char *bounded = write_preset("bounded.json", "{\"method\": \"first_block_cache\", \"threshold\": 1e3,"
                                                       " \"warmup_steps\": 2, \"final_steps\": 1,"
                                                       " \"max_consecutive_reuse\": 2}");
    CHECK_OK(dg_pipeline_set_cache(p, bounded, NULL));
    generate(p, &g, lat, &reused);
    CHECK(reused == 6, "max_consecutive_reuse 2: %d of 12 steps reused, want 6", reused);

    /* PAG on block 1's heads (the model has 2 blocks): uncached, the perturbed pass forks from the
     * prompt pass at block 1 and runs 1 block a step; cached, it runs from the start through its own
     * cache: threshold 0 gives the uncached bits with 2 blocks a step, and with reuse it follows the
     * prompt pass, running block 0 only at a reused step (the block counts tell a perturbed pass that
     * ignored its cache or kept the fork). */
    g.pag_u = 1.0f;
    const dg_head heads[] = {{1, -1}};
    g.pag_heads = heads, g.n_pag_heads = 1;
    float *pag = malloc(n * sizeof(float));
    for (int cfg = 0; cfg < 2; cfg++) {
        g.cfg_scale = cfg ? 5.0f : 1.0f;
        const int64_t passes = cfg ? 3 : 2;
        CHECK_OK(dg_pipeline_set_cache(p, NULL, NULL));
        g.pag_scale = 0.0f;
        generate(p, &g, plain, &reused);
        g.pag_scale = 2.0f;
        int64_t blocks = generate(p, &g, pag, &reused);
        CHECK(memcmp(pag, plain, n * sizeof(float)), "cfg %g: PAG left the latents as they were", g.cfg_scale);
        CHECK(blocks == 12 * (2 * (passes - 1) + 1), "cfg %g, PAG uncached: %lld blocks run", g.cfg_scale,
              (long long)blocks);
        CHECK_OK(dg_pipeline_set_cache(p, path_in("never.json"), NULL)); /* write_preset's paths share a buffer */
        blocks = generate(p, &g, lat, &reused);
        CHECK(reused == 0 && !memcmp(lat, pag, n * sizeof(float)), "PAG, cfg %g, threshold 0: %d reused, latents %s",
              g.cfg_scale, reused, memcmp(lat, pag, n * sizeof(float)) ? "differ" : "equal");
        CHECK(blocks == 12 * 2 * passes, "cfg %g, PAG, threshold 0: %lld blocks run", g.cfg_scale, (long long)blocks);
        CHECK_OK(dg_pipeline_set_cache(p, path_in("always.json"), NULL));
        blocks = generate(p, &g, lat, &reused);
        double err, scale;
        test_max_err(lat, pag, n, &err, &scale);
        printf("PAG, cfg %g: %d of 12 steps reused, %lld blocks run, max change %.3g of %.3g\n", g.cfg_scale, reused,
               (long long)blocks, err, scale);
        CHECK(reused == 9 && isfinite(err) && err > 0, "PAG, cfg %g: %d steps reused (want 9), change %g",
              g.cfg_scale, reused, err);
        CHECK(blocks == passes * (3 * 2 + 9), "cfg %g, PAG, 9 of 12 steps reused: %lld blocks run, want %lld",
              g.cfg_scale, (long long)blocks, (long long)(passes * 15));
    }
    CHECK_OK(dg_pipeline_set_cache(p, NULL, NULL));
    free(plain), free(lat), free(pag);
}

static void refusals(dg_pipeline *p) {
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"method\": \"first_block_cache\", \"threshold\": 0.1, \"treshold\": 1}", "unknown key 'treshold'"},
        {"{\"method\": \"teacache\", \"threshold\": 0.1}", "method 'teacache'"},
        {"{\"method\": \"first_block_cache\", \"threshold\": -1}", "threshold -1"},
        {"{\"method\": \"first_block_cache\"}", "threshold"},
        {"{\"method\": \"first_block_cache\", \"threshold\": 0.1, \"warmup_steps\": 1.5}", "warmup_steps"},
        {"{\"method\": \"first_block_cache\", \"threshold\": 0.1, \"final_steps\": -2}", "final_steps"},
        {"[1]", "bad.json"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *path = write_preset("bad.json", bad[i].json);
        int rc = dg_pipeline_set_cache(p, path, NULL);
        CHECK(rc != DG_OK && strstr(dg_last_error(), bad[i].want), "%s: want an error naming '%s', got '%s'",
              bad[i].json, bad[i].want, rc ? dg_last_error() : "accepted");
    }
    char configs[600];
    snprintf(configs, sizeof configs, "%s/../configs", DG_TEST_DIR);
    CHECK(dg_pipeline_set_cache(p, "no_such_preset", configs) != DG_OK && strstr(dg_last_error(), "no preset"),
          "an unknown preset: %s", dg_last_error());
    CHECK(dg_pipeline_set_cache(p, "Bad Name", configs) != DG_OK && strstr(dg_last_error(), "a-z"),
          "a bad preset name: %s", dg_last_error());
    /* the shipped presets load, by name and as NAME.json */
    CHECK_OK(dg_pipeline_set_cache(p, "fbcache", configs));
    CHECK_OK(dg_pipeline_set_cache(p, "fbcache_fast.json", configs));
    CHECK_OK(dg_pipeline_set_cache(p, "none", configs));
}

int main(void) {
    if (scratch_dir_make("test_step_cache")) return 1;
    dg_backend be;
    CHECK_OK(dg_backend_cpu_init(&be, 0));
    dg_safetensors io, ctx;
    fixture_open(&io, "wan_tiny_io.safetensors");
    fixture_open(&ctx, "wan_tiny_context.safetensors");
    dg_wan_model m;
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny/transformer", DG_TEST_DIR);
    CHECK_OK(dg_wan_load(&m, &be, path));
    if (test_failures) return TEST_END();
    forward_level(&m, &io);
    dg_wan_free(&m);

    dg_pipeline *p = wan_tiny_open(NULL);
    const float *pe = fixture_f32(&ctx, "prompt_embeds", NULL), *ne = fixture_f32(&ctx, "negative_prompt_embeds", NULL);
    if (p && pe && ne) {
        pipeline_level(p, pe, ne);
        refusals(p);
    }
    if (p) dg_pipeline_close(p);
    dg_safetensors_close(&io), dg_safetensors_close(&ctx);
    dg_backend_free(&be);
    CHECK(n_entries() == 4, "the scratch folder holds %d files, not the 4 presets written", n_entries());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_END();
}
