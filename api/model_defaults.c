/* Generation defaults from a diffusers folder's configs (see dg_model_defaults). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/pipeline_internal.h"
#include "api/video_size.h"
#include "core/error.h"
#include "io/json.h"
#include "sampler/scheduler.h"

/* The sampler, its shift and its options from scheduler/scheduler_config.json. */
static int read_scheduler(const char *path, dg_model_defaults *d, dg_scheduler_opts *opts) {
    if (!*path) return DG_OK;
    cJSON *j;
    DG_TRY(dg_json_load(path, &j));
    int rc = dg_scheduler_config_read(path, j, &d->sampler, &d->flow_shift, opts);
    cJSON_Delete(j);
    return rc;
}

static int get_int_in(const char *path, const cJSON *o, const char *key, int *out, int lo, int hi) {
    int64_t v = *out;
    DG_TRY(dg_json_get_int(path, o, key, &v, 0));
    DG_CHECK(v >= lo && v <= hi, "%s: _ditgen_defaults.%s = %lld outside %d..%d", path, key, (long long)v, lo, hi);
    *out = (int)v;
    return DG_OK;
}

/* What a WanPipeline folder may name that changes diffusers' frames and ditgen does not run:
 * refused rather than ignored. */
static int refuse_unsupported_parts(const char *path, const cJSON *j) {
    const cJSON *t2 = cJSON_GetObjectItemCaseSensitive(j, "transformer_2");
    int has_t2 = t2 && !cJSON_IsNull(t2) && !(cJSON_IsArray(t2) && cJSON_IsNull(cJSON_GetArrayItem(t2, 0)));
    DG_CHECK(!has_t2, "%s: transformer_2 is not supported (a two-expert Wan2.2 folder, switching experts at "
             "boundary_ratio)", path);
    const cJSON *boundary = cJSON_GetObjectItemCaseSensitive(j, "boundary_ratio");
    DG_CHECK(!boundary || cJSON_IsNull(boundary), "%s: boundary_ratio is not supported (it switches to transformer_2)",
             path);
    int expand = 0;
    DG_TRY(dg_json_get_bool(path, j, "expand_timesteps", &expand, 0));
    DG_CHECK(!expand, "%s: expand_timesteps true is not supported (per-token timesteps of Wan2.2 TI2V)", path);
    return DG_OK;
}

/* model_index.json's parts and its optional "_ditgen_defaults" object. */
static int read_index_defaults(const char *path, dg_model_defaults *d, char **negative) {
    if (!*path) return DG_OK;
    cJSON *j;
    DG_TRY(dg_json_load(path, &j));
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "_ditgen_defaults");
    int rc = refuse_unsupported_parts(path, j);
    if (rc == DG_OK && o && !cJSON_IsObject(o)) rc = dg_error("%s: _ditgen_defaults must be an object", path);
    if (o && rc == DG_OK) {
        double cfg = d->cfg_scale;
        const char *neg = NULL;
        rc = get_int_in(path, o, "width", &d->width, 1, DG_MAX_SIDE) ||
             get_int_in(path, o, "height", &d->height, 1, DG_MAX_SIDE) ||
             get_int_in(path, o, "num_frames", &d->frames, 1, DG_MAX_FRAMES) ||
             get_int_in(path, o, "num_inference_steps", &d->steps, 1, DG_SCHEDULER_MAX_STEPS) ||
             get_int_in(path, o, "fps", &d->fps, 1, 240) ||
             get_int_in(path, o, "max_sequence_length", &d->max_sequence_length, 1, DG_WAN_TEXT_LEN) ||
             dg_json_get_double(path, o, "guidance_scale", &cfg, 0) ||
             dg_json_get_string(path, o, "negative_prompt", &neg, 0);
        d->cfg_scale = (float)cfg;
        if (rc == DG_OK && neg && !(*negative = strdup(neg))) rc = dg_error("out of memory reading %s", path);
    }
    cJSON_Delete(j);
    return rc ? DG_ERR : DG_OK;
}

int dg_model_defaults_load(dg_pipeline *p) {
    dg_model_defaults *d = &p->info.defaults;
    /* diffusers WanPipeline.__call__ defaults; UniPC with flow_shift 3.0 as the Wan2.1 diffusers folders ship */
    *d = (dg_model_defaults){.width = 832, .height = 480, .frames = 81, .steps = 50, .fps = 16, .cfg_scale = 5.0f,
                             .flow_shift = 3.0, .sampler = DG_SAMPLE_UNIPC, .negative_prompt = "",
                             .max_sequence_length = DG_WAN_TEXT_LEN};
    dg_scheduler_opts_default(&p->scheduler_opts);
    DG_TRY(read_scheduler(p->folder.scheduler_config, d, &p->scheduler_opts));
    DG_TRY(read_index_defaults(p->folder.model_index, d, &p->default_negative));
    if (p->default_negative) d->negative_prompt = p->default_negative;
    return DG_OK;
}
