/* End-to-end denoising parity with diffusers' WanPipeline (fixtures:
 * tests/reference/make_pipeline.py): torch-compatible noise from the seed, the
 * tiny transformer, CFG and 4 steps of UniPC or Euler give the same final
 * latents. Tolerance: max abs error <= 1e-4 x max|reference|. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ditgen.h"
#include "sampler/scheduler.h"
#include "tests/fixture.h"
#include "tests/generate_rgb.h"
#include "tests/pipeline_checks.h"

static void run(dg_pipeline *p, const dg_safetensors *io, const dg_safetensors *ctx, const char *name,
                dg_sample_method method, double shift) {
    char key[64];
    snprintf(key, sizeof key, "%s.seed", name);
    const float *seed = fixture_f32(io, key, NULL);
    snprintf(key, sizeof key, "%s.cfg", name);
    const float *cfg = fixture_f32(io, key, NULL);
    const float *pe = fixture_f32(ctx, "prompt_embeds", NULL), *ne = fixture_f32(ctx, "negative_prompt_embeds", NULL);
    if (!seed || !cfg || !pe || !ne) return;
    dg_gen_params g = {.width = 64, .height = 48, .frames = 9, .steps = 4, .cfg_scale = cfg[0], .flow_shift = shift,
                       .sampler = method, .seed = (uint64_t)seed[0], .context = pe, .context_len = 7,
                       .negative = ne, .negative_len = 7};
    free(check_generation(p, io, name, &g, 1e-4, NULL));
}

/* Prompt strings through the folder's tokenizer and umT5, then the same 3 steps as diffusers. */
static void run_text(dg_pipeline *p, const dg_safetensors *io, int i, const char *prompt, const char *negative) {
    char key[64];
    float *pe = NULL, *ne = NULL;
    int pl, nl;
    CHECK_OK(dg_pipeline_encode_prompt(p, prompt, &pe, &pl));
    CHECK_OK(dg_pipeline_encode_prompt(p, negative, &ne, &nl));
    if (test_failures) return;
    int64_t n;
    snprintf(key, sizeof key, "text%d.prompt_embeds", i);
    const float *ref = fixture_f32(io, key, &n);
    CHECK(n == (int64_t)pl * 32, "%s: %d slots", key, pl);
    if (ref && n == (int64_t)pl * 32) check_close(key, pe, ref, (size_t)n, 1e-4);
    snprintf(key, sizeof key, "text%d.negative_prompt_embeds", i);
    ref = fixture_f32(io, key, &n);
    if (ref && n == (int64_t)nl * 32) check_close(key, ne, ref, (size_t)n, 1e-4);
    snprintf(key, sizeof key, "text%d.latents", i);
    ref = fixture_f32(io, key, &n);
    dg_gen_params g = {.width = 64, .height = 48, .frames = 9, .steps = 3, .cfg_scale = 4.0f, .flow_shift = 3.0,
                       .sampler = DG_SAMPLE_UNIPC, .seed = 11, .context = pe, .context_len = pl,
                       .negative = ne, .negative_len = nl};
    float *lat = malloc((size_t)n * sizeof(float));
    CHECK_OK(dg_pipeline_generate(p, &g, lat, NULL, NULL, NULL));
    if (ref) check_close(key, lat, ref, (size_t)n, 1e-4);
    free(lat), free(pe), free(ne);
}

/* Prompt -> encoder -> sampler -> VAE -> 8-bit frames, against diffusers'
 * output_type="np" frames rounded to 0..255: at most 1 level apart. */
static void run_full(dg_pipeline *p, const dg_safetensors *io, const char *name, dg_sample_method method,
                     int frames) {
    char key[64];
    int64_t n;
    snprintf(key, sizeof key, "%s.frames", name);
    const float *ref = fixture_f32(io, key, &n);
    snprintf(key, sizeof key, "%s.seed", name);
    const float *seed = fixture_f32(io, key, NULL);
    float *pe = NULL, *ne = NULL;
    int pl, nl;
    CHECK_OK(dg_pipeline_encode_prompt(p, "a red circle on a blue background", &pe, &pl));
    CHECK_OK(dg_pipeline_encode_prompt(p, "blurry", &ne, &nl));
    if (!ref || !seed || test_failures) {
        free(pe), free(ne);
        return;
    }
    dg_gen_params g = {.width = 64, .height = 48, .frames = frames, .steps = 3, .cfg_scale = 4.0f,
                       .flow_shift = 3.0, .sampler = method, .seed = (uint64_t)seed[0], .context = pe,
                       .context_len = pl, .negative = ne, .negative_len = nl};
    size_t px = (size_t)frames * 48 * 64;
    CHECK((size_t)n == px * 3, "%s: %lld reference values", name, (long long)n);
    uint8_t *rgb = generate_rgb(p, &g);
    CHECK(rgb != NULL, "%s: %s", name, dg_last_error());
    int worst = 0;
    for (size_t i = 0; rgb && (size_t)n == px * 3 && i < px * 3; i++) {
        int want = (int)floor(ref[i] * 255.0 + 0.5), d = abs((int)rgb[i] - want);
        if (d > worst) worst = d;
    }
    printf("%-28s max |diff| %d of 255\n", name, worst);
    CHECK(worst <= 1, "%s: frames differ from diffusers by %d levels", name, worst);
    free(rgb), free(pe), free(ne);
}

/* A cached prompt needs no encoder: after a release, with text_encoder/ gone,
 * the cached prompt still encodes and a new one is refused. */
static void check_prompt_cache(void) {
    char dir[512], link[600], target[600];
    snprintf(dir, sizeof dir, "%s/pipeline_cache_%d", DG_BINARY_DIR, (int)getpid());
    mkdir(dir, 0755);
    const char *parts[] = {"transformer", "tokenizer", "text_encoder"};
    for (int i = 0; i < 3; i++) {
        snprintf(link, sizeof link, "%s/%s", dir, parts[i]);
        snprintf(target, sizeof target, "%s/fixtures/wan_tiny/%s", DG_TEST_DIR, parts[i]);
        CHECK(symlink(target, link) == 0, "symlink %s", link);
    }
    dg_pipeline *p;
    CHECK_OK(dg_pipeline_open(&p, dir, NULL, 0));
    float *a = NULL, *b = NULL, *c = NULL;
    int la, lb, lc;
    CHECK_OK(dg_pipeline_encode_prompt(p, "a green square", &a, &la));
    dg_pipeline_release_text_encoder(p);
    snprintf(link, sizeof link, "%s/text_encoder", dir);
    unlink(link);
    CHECK_OK(dg_pipeline_encode_prompt(p, "a green square", &b, &lb));
    CHECK(a && b && la == lb && !memcmp(a, b, (size_t)la * 32 * sizeof(float)), "cached embeddings differ");
    CHECK(dg_pipeline_encode_prompt(p, "a new prompt", &c, &lc) != 0 && strstr(dg_last_error(), "text_encoder"),
          "a new prompt encoded without text_encoder/: %s", dg_last_error());
    free(a), free(b), free(c);
    dg_pipeline_close(p);
    for (int i = 0; i < 3; i++) {
        snprintf(link, sizeof link, "%s/%s", dir, parts[i]);
        unlink(link);
    }
    rmdir(dir);
}

int main(void) {
    dg_safetensors io, ctx;
    fixture_open(&io, "wan_tiny_pipeline.safetensors");
    fixture_open(&ctx, "wan_tiny_context.safetensors");
    dg_pipeline *p = wan_tiny_open(NULL);
    if (!p) return TEST_END();
    run(p, &io, &ctx, "unipc", DG_SAMPLE_UNIPC, 3.0);
    run(p, &io, &ctx, "euler", DG_SAMPLE_EULER, 3.0);
    run(p, &io, &ctx, "unipc_nocfg", DG_SAMPLE_UNIPC, 5.0);
    run_text(p, &io, 0, "a red circle on a blue background", "blurry, low quality");
    dg_pipeline_release_text_encoder(p); /* reloaded on demand */
    run_text(p, &io, 1, "  \xef\xbc\xa8" "ello &amp; w\xc3\xb6" "rld  ", "");
    run_full(p, &io, "full_unipc", DG_SAMPLE_UNIPC, 9);
    run_full(p, &io, "full_euler", DG_SAMPLE_EULER, 9);
    run_full(p, &io, "full_image", DG_SAMPLE_UNIPC, 1);
    check_prompt_cache();

    const float *pe = fixture_f32(&ctx, "prompt_embeds", NULL);
    dg_gen_params ok = {.width = 64, .height = 48, .frames = 9, .steps = 4, .cfg_scale = 1.0f, .flow_shift = 3.0,
                        .context = pe, .context_len = 7};
    dg_gen_params g = ok;
    g.width = 72;
    expect_refused(p, g, "width 72");
    g = ok, g.height = 40;
    expect_refused(p, g, "height 40");
    g = ok, g.frames = 8;
    expect_refused(p, g, "4k+1");
    g = ok, g.steps = 0;
    expect_refused(p, g, "steps 0");
    g = ok, g.steps = DG_SCHEDULER_MAX_STEPS + 1; /* refused by the check, before any work, not by the scheduler */
    CHECK(dg_pipeline_check(p, &g) != DG_OK && strstr(dg_last_error(), "steps 1001 must be in 1..1000"),
          "dg_pipeline_check should refuse 1001 steps, got '%s'", dg_last_error());
    g = ok, g.cfg_scale = 5.0f;
    expect_refused(p, g, "negative");
    g = ok, g.flow_shift = -1.0;
    expect_refused(p, g, "flow_shift");

    dg_pipeline_close(p);
    dg_safetensors_close(&io);
    dg_safetensors_close(&ctx);
    return TEST_END();
}
