/* Generation defaults from a diffusers folder's configs (see dg_model_defaults). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model_defaults.h"
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

/* Components a WanPipeline folder may name; transformer_2 only empty. */
static int known_component(const char *name) {
    static const char *const known[] = {"transformer", "text_encoder", "tokenizer", "vae", "scheduler",
                                        "transformer_2"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (!strcmp(name, known[i])) return 1;
    return 0;
}

/* What a folder may name that changes diffusers' frames and ditgen does not run: refused rather
 * than ignored. */
static int refuse_unsupported_parts(const char *path, const cJSON *j, dg_model_defaults *d) {
    const char *cls = NULL;
    DG_TRY(dg_json_get_string(path, j, "_class_name", &cls, 0));
    DG_CHECK(!cls || !strcmp(cls, "WanPipeline"), "%s: _class_name '%s' is not supported (only WanPipeline)", path,
             cls);
    for (const cJSON *e = j->child; e; e = e->next) {
        /* a component is ["library", "Class"]; [null, null] is an absent one */
        const cJSON *lib = cJSON_GetArrayItem(e, 0);
        if (e->string[0] == '_' || !cJSON_IsArray(e) || !cJSON_IsString(lib)) continue;
        DG_CHECK(known_component(e->string), "%s: component '%s' (%s %s) is not supported", path, e->string,
                 lib->valuestring, cJSON_IsString(cJSON_GetArrayItem(e, 1)) ? cJSON_GetArrayItem(e, 1)->valuestring : "");
    }
    /* expand_timesteps (Wan2.2 TI2V-5B): WanPipeline's text-to-video path gives every token the
     * timestep t (its mask is all ones), so the per-token modulation equals the scalar one; only
     * image conditioning, which WanPipeline does not do, makes tokens differ. */
    return dg_json_get_bool(path, j, "expand_timesteps", &d->expand_timesteps, 0);
}


/* transformer_2 and boundary_ratio: both, with the folder, or neither (diffusers never runs a
 * transformer_2 without a boundary, and has no low-noise expert without one). */
static int read_experts(const char *path, const cJSON *j, const dg_model_folder *f, dg_model_defaults *d) {
    const cJSON *t2 = cJSON_GetObjectItemCaseSensitive(j, "transformer_2");
    int has_t2 = t2 && !cJSON_IsNull(t2) && !(cJSON_IsArray(t2) && cJSON_IsNull(cJSON_GetArrayItem(t2, 0)));
    DG_TRY(dg_json_get_double(path, j, "boundary_ratio", &d->boundary_ratio, 0));
    DG_CHECK(!has_t2 || d->boundary_ratio > 0, "%s: transformer_2 without boundary_ratio would never run", path);
    DG_CHECK(has_t2 || d->boundary_ratio == 0, "%s: boundary_ratio %g without transformer_2 is not supported", path,
             d->boundary_ratio);
    DG_CHECK(d->boundary_ratio >= 0 && d->boundary_ratio <= 1, "%s: boundary_ratio %g is outside 0..1", path,
             d->boundary_ratio);
    DG_CHECK(!has_t2 || *f->transformer_2, "%s names transformer_2 but %s/transformer_2 has no config.json", path,
             f->root);
    return DG_OK;
}

/* model_index.json's parts and its optional "_ditgen_defaults" object. */
static int read_index_defaults(const char *path, const dg_model_folder *f, dg_model_defaults *d, char **negative) {
    if (!*path) return DG_OK;
    cJSON *j;
    DG_TRY(dg_json_load(path, &j));
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "_ditgen_defaults");
    int rc = refuse_unsupported_parts(path, j, d) || read_experts(path, j, f, d);
    if (rc == DG_OK && o && !cJSON_IsObject(o)) rc = dg_error("%s: _ditgen_defaults must be an object", path);
    static const char *const keys[] = {"width", "height", "num_frames", "num_inference_steps", "fps",
                                       "max_sequence_length", "guidance_scale", "guidance_scale_2", "negative_prompt"};
    for (const cJSON *e = o && rc == DG_OK ? o->child : NULL; e && rc == DG_OK; e = e->next) {
        size_t k = 0;
        while (k < sizeof keys / sizeof *keys && strcmp(e->string, keys[k])) k++;
        if (k == sizeof keys / sizeof *keys) rc = dg_error("%s: _ditgen_defaults.%s is not a known default", path, e->string);
    }
    if (o && rc == DG_OK) {
        double cfg = d->cfg_scale, cfg2 = 0;
        const char *neg = NULL;
        rc = get_int_in(path, o, "width", &d->width, 1, DG_MAX_SIDE) ||
             get_int_in(path, o, "height", &d->height, 1, DG_MAX_SIDE) ||
             get_int_in(path, o, "num_frames", &d->frames, 1, DG_MAX_FRAMES) ||
             get_int_in(path, o, "num_inference_steps", &d->steps, 1, DG_SCHEDULER_MAX_STEPS) ||
             get_int_in(path, o, "fps", &d->fps, 1, 240) ||
             get_int_in(path, o, "max_sequence_length", &d->max_sequence_length, 1, DG_WAN_TEXT_LEN) ||
             dg_json_get_double(path, o, "guidance_scale", &cfg, 0) ||
             dg_json_get_double(path, o, "guidance_scale_2", &cfg2, 0) ||
             dg_json_get_string(path, o, "negative_prompt", &neg, 0);
        d->cfg_scale = (float)cfg;
        d->cfg_scale_2 = (float)cfg2;
        if (rc == DG_OK && cfg2 != 0 && d->boundary_ratio == 0)
            rc = dg_error("%s: _ditgen_defaults.guidance_scale_2 needs a two-expert folder (boundary_ratio)", path);
        if (rc == DG_OK && neg && !(*negative = strdup(neg))) rc = dg_error("out of memory reading %s", path);
    }
    cJSON_Delete(j);
    return rc ? DG_ERR : DG_OK;
}

int dg_model_defaults_read(const dg_model_folder *f, dg_model_defaults *d, dg_scheduler_opts *opts, char **negative) {
    /* diffusers WanPipeline.__call__ defaults; UniPC with flow_shift 3.0 as the Wan2.1 diffusers folders ship */
    *d = (dg_model_defaults){.width = 832, .height = 480, .frames = 81, .steps = 50, .fps = 16, .cfg_scale = 5.0f,
                             .flow_shift = 3.0, .sampler = DG_SAMPLE_UNIPC, .negative_prompt = "",
                             .max_sequence_length = DG_WAN_TEXT_LEN};
    *negative = NULL;
    dg_scheduler_opts_default(opts);
    DG_TRY(read_scheduler(f->scheduler_config, d, opts));
    if (read_index_defaults(f->model_index, f, d, negative) != DG_OK) {
        free(*negative);
        *negative = NULL;
        return DG_ERR;
    }
    if (*negative) d->negative_prompt = *negative;
    return DG_OK;
}

int dg_model_defaults_load(dg_pipeline *p) {
    return dg_model_defaults_read(&p->folder, &p->info.defaults, &p->scheduler_opts, &p->default_negative);
}
