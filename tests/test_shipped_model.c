/* The shipped model (assets/shapes-tiny) gives diffusers' frames: same prompt,
 * seed and folder defaults through diffusers' WanPipeline (fixture:
 * tests/reference/make_shapes_golden.py). Threshold: PSNR >= 40 dB on 8-bit
 * RGB, so last-bit float differences across machines pass. */
#include <string.h>

#include "ditgen.h"
#include "bench/lib/image_metrics.h"
#include "tests/fixture.h"
#include "tests/generate_rgb.h"

static void run_case(dg_pipeline *p, const dg_safetensors *io, const char *name, const char *prompt, int frames) {
    const dg_model_defaults *d = &dg_pipeline_info(p)->defaults;
    char key[64];
    int64_t n;
    snprintf(key, sizeof key, "%s.frames", name);
    const float *ref = fixture_f32(io, key, &n);
    snprintf(key, sizeof key, "%s.seed", name);
    const float *seed = fixture_f32(io, key, NULL);
    float *pe = NULL, *ne = NULL;
    int pl = 0, nl = 0;
    CHECK_OK(dg_pipeline_encode_prompt(p, prompt, &pe, &pl));
    CHECK_OK(dg_pipeline_encode_prompt(p, d->negative_prompt, &ne, &nl));
    size_t px = (size_t)frames * d->height * d->width * 3;
    if (ref && seed && pe && ne && (size_t)n == px) {
        dg_gen_params g = {.width = d->width, .height = d->height, .frames = frames, .steps = d->steps,
                           .cfg_scale = d->cfg_scale, .flow_shift = d->flow_shift, .sampler = d->sampler,
                           .seed = (uint64_t)seed[0], .context = pe, .context_len = pl, .negative = ne,
                           .negative_len = nl};
        uint8_t *rgb = generate_rgb(p, &g), *want = malloc(px);
        CHECK(rgb && want, "%s: %s", name, dg_last_error());
        for (size_t i = 0; want && i < px; i++) want[i] = (uint8_t)ref[i];
        if (rgb && want) {
            double psnr = dg_psnr_u8(rgb, want, px);
            printf("%-8s PSNR %.1f dB against diffusers\n", name, psnr);
            CHECK(psnr >= 40.0, "%s: PSNR %.1f dB < 40", name, psnr);
        }
        free(rgb), free(want);
    } else {
        CHECK(0, "%s: fixture of %lld values, expected %zu", name, (long long)n, px);
    }
    free(pe), free(ne);
}

int main(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/shapes_golden.safetensors", DG_TEST_DIR);
    dg_safetensors io;
    CHECK_OK(dg_safetensors_open(&io, path));
    dg_pipeline *p;
    snprintf(path, sizeof path, "%s/../assets/shapes-tiny", DG_TEST_DIR);
    CHECK_OK(dg_pipeline_open(&p, path, NULL, 0));
    if (test_failures) return TEST_END();
    CHECK(dg_pipeline_info(p)->pixel_space, "the shipped model is pixel space");
    run_case(p, &io, "image", "a red circle on a blue background", 1);
    run_case(p, &io, "clip", "a green triangle moving right on a black background", 5);
    dg_pipeline_close(p);
    dg_safetensors_close(&io);
    return TEST_END();
}
