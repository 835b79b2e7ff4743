#include "io/model_folder.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

/* Present and not a folder: a FIFO or device found here is then refused by the loader, by name,
 * rather than taken as absent. */
static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* out = dir/name; DG_ERR when it does not fit. */
static int join(char *out, const char *dir, const char *name) {
    int n = snprintf(out, DG_MODEL_PATH_MAX, "%s/%s", dir, name);
    DG_CHECK(n >= 0 && n < DG_MODEL_PATH_MAX, "model path '%s/%s' is too long", dir, name);
    return DG_OK;
}

/* dir/name when test(dir/name), else "". */
static int join_if(char *out, const char *dir, const char *name, int (*test)(const char *)) {
    DG_TRY(join(out, dir, name));
    if (!test(out)) out[0] = 0;
    return DG_OK;
}

/* dir/name when it holds a config.json, else "". */
static int join_if_config(char *out, const char *dir, const char *name) {
    char config[DG_MODEL_PATH_MAX];
    DG_TRY(join(out, dir, name));
    DG_TRY(join(config, out, "config.json"));
    if (!is_file(config)) out[0] = 0;
    return DG_OK;
}

/* A transformer folder's weights: its only .safetensors file whatever its name, else the folder
 * itself (standard names, sharded sets). */
static int weights_in(const char *dir, char *out) {
    snprintf(out, DG_MODEL_PATH_MAX, "%s", dir);
    DIR *d = opendir(dir);
    if (!d) return DG_OK;
    int n = 0;
    char only[1024] = "";
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l > 12 && !strcmp(e->d_name + l - 12, ".safetensors") && n++ == 0)
            snprintf(only, sizeof only, "%s", e->d_name);
    }
    closedir(d);
    return n == 1 ? join(out, dir, only) : DG_OK;
}

static int resolve_transformer_file(dg_model_folder *f, const char *path) {
    f->layout = DG_MODEL_TRANSFORMER_FILE;
    snprintf(f->transformer, DG_MODEL_PATH_MAX, "%s", path);
    snprintf(f->transformer_weights, DG_MODEL_PATH_MAX, "%s", path);
    const char *slash = strrchr(path, '/'); /* config.json beside the file */
    int n = snprintf(f->transformer_config, DG_MODEL_PATH_MAX, "%.*sconfig.json",
                     slash ? (int)(slash + 1 - path) : 0, path);
    DG_CHECK(n >= 0 && n < DG_MODEL_PATH_MAX, "model path '%s' is too long", path);
    if (!is_file(f->transformer_config)) f->transformer_config[0] = 0;
    return DG_OK;
}

int dg_model_folder_resolve(dg_model_folder *f, const char *path) {
    memset(f, 0, sizeof *f);
    DG_CHECK(path && *path, "no model path given");
    DG_CHECK(strlen(path) < DG_MODEL_PATH_MAX / 2, "model path '%.64s...' is too long", path);
    if (is_file(path)) return resolve_transformer_file(f, path);
    DG_CHECK(is_dir(path), "model '%s' is neither a folder nor a file", path);
    char transformer_config[DG_MODEL_PATH_MAX];
    DG_TRY(join(f->transformer, path, "transformer"));
    DG_TRY(join(transformer_config, f->transformer, "config.json"));
    if (!is_file(transformer_config)) {
        f->layout = DG_MODEL_TRANSFORMER_DIR;
        snprintf(f->transformer, DG_MODEL_PATH_MAX, "%s", path);
        DG_TRY(join_if(f->transformer_config, path, "config.json", is_file));
        return weights_in(path, f->transformer_weights);
    }
    f->layout = DG_MODEL_DIFFUSERS;
    snprintf(f->root, DG_MODEL_PATH_MAX, "%s", path);
    snprintf(f->transformer_config, DG_MODEL_PATH_MAX, "%s", transformer_config);
    DG_TRY(weights_in(f->transformer, f->transformer_weights));
    DG_TRY(join_if_config(f->transformer_2, path, "transformer_2"));
    DG_TRY(join_if_config(f->vae, path, "vae"));
    DG_TRY(join_if(f->text_encoder, path, "text_encoder", is_dir));
    DG_TRY(join_if(f->tokenizer, path, "tokenizer", is_dir));
    DG_TRY(join_if(f->scheduler_config, path, "scheduler/scheduler_config.json", is_file));
    return join_if(f->model_index, path, "model_index.json", is_file);
}
