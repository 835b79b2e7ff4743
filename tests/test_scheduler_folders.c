/* A model folder's scheduler_config.json options carried through the pipeline: the tiny Wan
 * model with the folder's scheduler gives WanPipeline's latents (fixture:
 * tests/reference/make_scheduler_folders.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/json.h"
#include "tests/pipeline_checks.h"
#include "tests/scratch_dir.h"

static void run_case(const dg_safetensors *io, const dg_safetensors *ctx, const cJSON *c) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
    int steps = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "steps"));
    char *config = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "config"));
    FILE *f = fopen(path_in("scheduler/scheduler_config.json"), "w");
    CHECK(f && config && fputs(config, f) >= 0 && fclose(f) == 0, "%s: writing the scheduler config", name);
    free(config);
    char key[64];
    snprintf(key, sizeof key, "%s.seed", name);
    const float *seed = fixture_f32(io, key, NULL);
    snprintf(key, sizeof key, "%s.cfg", name);
    const float *cfg = fixture_f32(io, key, NULL);
    const float *pe = fixture_f32(ctx, "prompt_embeds", NULL), *ne = fixture_f32(ctx, "negative_prompt_embeds", NULL);
    dg_pipeline *p = NULL;
    CHECK_OK(dg_pipeline_open(&p, dir, NULL, 0));
    if (!p || !seed || !cfg || !pe || !ne) {
        if (p) dg_pipeline_close(p);
        return;
    }
    const dg_model_defaults *d = &dg_pipeline_info(p)->defaults;
    dg_gen_params g = {.width = 64, .height = 48, .frames = 9, .steps = steps, .cfg_scale = cfg[0],
                       .flow_shift = d->flow_shift, .sampler = d->sampler, .seed = (uint64_t)seed[0], .context = pe,
                       .context_len = 7, .negative = ne, .negative_len = 7};
    free(check_generation(p, io, name, &g, 1e-4, NULL));
    dg_pipeline_close(p);
}

int main(void) {
    dg_safetensors io, ctx;
    fixture_open(&io, "wan_tiny_scheduler_folders.safetensors");
    fixture_open(&ctx, "wan_tiny_context.safetensors");
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny_scheduler_folders.json", DG_TEST_DIR);
    cJSON *fixture = NULL;
    CHECK_OK(dg_json_load(path, &fixture));
    if (test_failures || scratch_dir_make("scheduler_folders")) return TEST_END();
    snprintf(path, sizeof path, "%s/fixtures/wan_tiny/transformer", DG_TEST_DIR);
    CHECK(symlink(path, path_in("transformer")) == 0, "symlink transformer");
    mkdir(path_in("scheduler"), 0755);
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(fixture, "cases")) {
        run_case(&io, &ctx, c);
        n++;
    }
    CHECK(n >= 2, "only %d cases", n);
    unlink(path_in("scheduler/scheduler_config.json"));
    rmdir(path_in("scheduler"));
    unlink(path_in("transformer"));
    CHECK(n_entries() == 0, "scratch folder left with %d entries", n_entries());
    rmdir(dir);
    cJSON_Delete(fixture);
    dg_safetensors_close(&io);
    dg_safetensors_close(&ctx);
    return TEST_END();
}
