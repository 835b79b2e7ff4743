/* Preset folders (see presets.h). */
#define _POSIX_C_SOURCE 200809L /* strndup */
#include "io/presets.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "io/json.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void dg_presets_free(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

int dg_presets_list(const char *configs_dir, const char *kind, char ***names, int *n) {
    *names = NULL, *n = 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", configs_dir, kind);
    DIR *d = opendir(dir);
    DG_CHECK(d, "cannot list the %s presets in %s: %s", kind, dir, strerror(errno));
    int cap = 0, rc = DG_OK;
    for (struct dirent *e; rc == DG_OK && (e = readdir(d));) {
        const size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".json")) continue;
        if (*n == cap) {
            char **grown = realloc(*names, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *grown);
            if (!grown) {
                rc = dg_error("out of memory listing %s", dir);
                break;
            }
            *names = grown;
        }
        if (!((*names)[*n] = strndup(e->d_name, len - 5))) rc = dg_error("out of memory listing %s", dir);
        else (*n)++;
    }
    closedir(d);
    if (rc != DG_OK) {
        dg_presets_free(*names, *n);
        *names = NULL, *n = 0;
        return rc;
    }
    qsort(*names, (size_t)*n, sizeof **names, cmp_str);
    return DG_OK;
}

/* "step cache: no preset 'x' (dir/cache/x.json); presets: a, b, c": the names a user can give instead. */
static int unknown_preset(const char *kind, const char *what, const char *name, const char *path,
                          const char *configs_dir) {
    char **names, list[2048] = "";
    int n;
    if (dg_presets_list(configs_dir, kind, &names, &n) != DG_OK)
        return dg_error("%s: no preset '%s' (%s)", what, name, path);
    for (int i = 0; i < n; i++) {
        const size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
    }
    dg_presets_free(names, n);
    return dg_error("%s: no preset '%s' (%s); presets: %s", what, name, path, n ? list : "none");
}

int dg_preset_path(const char *kind, const char *what, const char *preset_or_path, const char *configs_dir,
                   char *path, size_t size) {
    DG_CHECK(preset_or_path && *preset_or_path, "%s: empty name", what);
    const size_t len = strlen(preset_or_path);
    const int json = len > 5 && !strcmp(preset_or_path + len - 5, ".json");
    /* NAME.json is a file here when there is one, else the preset NAME */
    if (strchr(preset_or_path, '/') || (json && (!configs_dir || access(preset_or_path, F_OK) == 0))) {
        DG_CHECK(access(preset_or_path, R_OK) == 0, "cannot read %s '%s': %s", what, preset_or_path,
                 strerror(errno));
        DG_CHECK(len < size, "%s: the path is longer than %zu bytes", what, size - 1);
        snprintf(path, size, "%s", preset_or_path);
        return DG_OK;
    }
    const int name_len = (int)(json ? len - 5 : len);
    for (int i = 0; i < name_len; i++) {
        const char c = preset_or_path[i];
        DG_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_',
                 "%s '%s': a preset name has only a-z, 0-9 and _ (or give a path to a .json file)", what,
                 preset_or_path);
    }
    DG_CHECK(name_len > 0, "%s '%s': empty preset name", what, preset_or_path);
    DG_CHECK(configs_dir != NULL, "%s '%s': no configs directory to find the preset in", what, preset_or_path);
    const int n = snprintf(path, size, "%s/%s/%.*s.json", configs_dir, kind, name_len, preset_or_path);
    DG_CHECK(n >= 0 && (size_t)n < size, "%s '%.*s': %.200s/%s/NAME.json is longer than %zu bytes", what, name_len,
             preset_or_path, configs_dir, kind, size - 1);
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        char name[256];
        snprintf(name, sizeof name, "%.*s", name_len, preset_or_path);
        return unknown_preset(kind, what, name, path, configs_dir);
    }
    return DG_OK;
}

int dg_preset_load(const char *kind, const char *what, const char *preset_or_path, const char *configs_dir,
                   char *path, size_t size, cJSON **root) {
    *root = NULL;
    DG_TRY(dg_preset_path(kind, what, preset_or_path, configs_dir, path, size));
    return dg_json_load(path, root);
}
