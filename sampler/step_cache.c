#include "sampler/step_cache.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "io/presets.h"

static int opts_from_json(dg_step_cache_opts *o, const cJSON *root, const char *path) {
    static const char *const keys[] = {"method", "threshold", "warmup_steps", "final_steps",
                                       "max_consecutive_reuse", "description", NULL};
    DG_TRY(dg_json_check_keys(path, root, keys));
    const char *method;
    int64_t warm = 0, fin = 0, maxr = 0;
    DG_TRY(dg_json_get_string(path, root, "method", &method, 1));
    DG_CHECK(!strcmp(method, "first_block_cache"), "%s: method '%s' is not known (first_block_cache)", path, method);
    DG_TRY(dg_json_get_double(path, root, "threshold", &o->threshold, 1));
    DG_CHECK(o->threshold >= 0 && isfinite(o->threshold), "%s: threshold %g must be a finite number >= 0", path,
             o->threshold);
    if (dg_json_get_int(path, root, "warmup_steps", &warm, 0) || dg_json_get_int(path, root, "final_steps", &fin, 0) ||
        dg_json_get_int(path, root, "max_consecutive_reuse", &maxr, 0))
        return DG_ERR;
    DG_CHECK(warm >= 0 && warm <= 1000 && fin >= 0 && fin <= 1000 && maxr >= 0 && maxr <= 1000,
             "%s: warmup_steps, final_steps and max_consecutive_reuse must be 0..1000", path);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "description");
    DG_CHECK(!d || cJSON_IsString(d), "%s: description must be a string", path);
    o->warmup_steps = (int)warm, o->final_steps = (int)fin, o->max_consecutive_reuse = (int)maxr;
    return DG_OK;
}

int dg_step_cache_load(dg_step_cache_opts *o, const char *preset_or_path, const char *configs_dir) {
    *o = (dg_step_cache_opts){0};
    char path[4096];
    cJSON *root;
    DG_TRY(dg_preset_load("cache", "step cache", preset_or_path, configs_dir, path, sizeof path, &root));
    int rc = opts_from_json(o, root, path);
    cJSON_Delete(root);
    return rc;
}

int dg_step_cache_must_run(const dg_step_cache_opts *o, int step, int steps, int reused_in_row) {
    return step < o->warmup_steps || step >= steps - o->final_steps ||
           (o->max_consecutive_reuse > 0 && reused_in_row >= o->max_consecutive_reuse);
}
