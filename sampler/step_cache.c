#define _POSIX_C_SOURCE 200809L /* strndup */
#include "sampler/step_cache.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"

static int is_preset_name(const char *s, size_t len) {
    if (!len) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-')) return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The preset names of configs_dir/cache, sorted and comma-separated ("none found" when empty). */
static void list_presets(const char *configs_dir, char *out, size_t n) {
    char dir[4200], *names[64];
    int count = 0;
    snprintf(dir, sizeof dir, "%s/cache", configs_dir);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && count < 64 && (e = readdir(d));) {
        const size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".json") && is_preset_name(e->d_name, len - 5) &&
            (names[count] = strndup(e->d_name, len - 5)))
            count++;
    }
    if (d) closedir(d);
    qsort(names, (size_t)count, sizeof *names, cmp_str);
    size_t at = 0;
    out[0] = 0;
    for (int i = 0; i < count; i++) {
        if (at < n) at += (size_t)snprintf(out + at, n - at, "%s%s", i ? ", " : "", names[i]);
        free(names[i]);
    }
    if (!count) snprintf(out, n, "none found in %s", dir);
}

static int resolve_path(const char *req, const char *configs_dir, char *path, size_t n) {
    size_t len = strlen(req);
    const int json = len > 5 && !strcmp(req + len - 5, ".json");
    if (json && is_preset_name(req, len - 5) && configs_dir) { /* fbcache.json: the preset fbcache */
        snprintf(path, n, "%s/cache/%.*s.json", configs_dir, (int)(len - 5), req);
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return DG_OK;
        }
    }
    if (strchr(req, '/') || json) {
        snprintf(path, n, "%s", req);
        return DG_OK;
    }
    DG_CHECK(is_preset_name(req, len), "--cache '%s': a preset name has only a-z, 0-9, _ and - (or give a path to "
             "a .json file)", req);
    DG_CHECK(configs_dir != NULL, "--cache '%s': no configs folder to find the preset in", req);
    snprintf(path, n, "%s/cache/%s.json", configs_dir, req);
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        return DG_OK;
    }
    char names[1024];
    list_presets(configs_dir, names, sizeof names);
    return dg_error("--cache '%s': no preset %s (presets: %s; or none, or a path to a .json file)", req, path, names);
}

static int check_keys(const cJSON *root, const char *path) {
    static const char *const known[] = {"method", "threshold", "warmup_steps", "final_steps",
                                        "max_consecutive_reuse", "description"};
    for (const cJSON *it = root->child; it; it = it->next) {
        size_t k = 0;
        while (k < sizeof known / sizeof *known && strcmp(it->string, known[k])) k++;
        DG_CHECK(k < sizeof known / sizeof *known, "%s: unknown key '%s' (known: method, threshold, warmup_steps, "
                 "final_steps, max_consecutive_reuse, description)", path, it->string);
    }
    return DG_OK;
}

static int opts_from_json(dg_step_cache_opts *o, const cJSON *root, const char *path) {
    DG_TRY(check_keys(root, path));
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
    DG_CHECK(preset_or_path && *preset_or_path, "--cache: empty name");
    DG_CHECK(strlen(preset_or_path) < sizeof o->name, "--cache: the name is longer than %d bytes",
             DG_STEP_CACHE_NAME_MAX - 1);
    char path[4096];
    DG_TRY(resolve_path(preset_or_path, configs_dir, path, sizeof path));
    cJSON *root;
    DG_TRY(dg_json_load(path, &root));
    int rc = opts_from_json(o, root, path);
    cJSON_Delete(root);
    DG_TRY(rc);
    snprintf(o->name, sizeof o->name, "%s", preset_or_path);
    return DG_OK;
}

int dg_step_cache_must_run(const dg_step_cache_opts *o, int step, int steps, int reused_in_row) {
    return step < o->warmup_steps || step >= steps - o->final_steps ||
           (o->max_consecutive_reuse > 0 && reused_in_row >= o->max_consecutive_reuse);
}
