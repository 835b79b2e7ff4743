/* Preset folders: the JSON presets of one kind (attention plans, step caches) in
 * <configs_dir>/<kind>/NAME.json, named on the command line by NAME, NAME.json or a path. */
#ifndef DG_IO_PRESETS_H
#define DG_IO_PRESETS_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* The file preset_or_path names, into path: a path when it holds a '/' or ends in .json and such a
 * file exists (it must be readable), else a preset name ([a-z0-9_]+, NAME.json meaning NAME too):
 * <configs_dir>/<kind>/<name>.json. An unknown preset is refused with the presets there listed;
 * `what` names the kind in messages ("attention plan"). */
int dg_preset_path(const char *kind, const char *what, const char *preset_or_path, const char *configs_dir,
                   char *path, size_t size);
/* dg_preset_path, then the file's JSON into *root (free it with cJSON_Delete); path as above, for
 * the messages of whoever reads the JSON. */
int dg_preset_load(const char *kind, const char *what, const char *preset_or_path, const char *configs_dir,
                   char *path, size_t size, cJSON **root);
/* The preset names in <configs_dir>/<kind> (its .json files, without the extension), sorted, as *n
 * malloc'ed strings in a malloc'ed array; dg_presets_free releases them. */
int dg_presets_list(const char *configs_dir, const char *kind, char ***names, int *n);
void dg_presets_free(char **names, int n);

#endif
