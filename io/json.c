#define _POSIX_C_SOURCE 200809L
#include "io/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "io/regular_file.h"

#define DG_JSON_MAX_FILE ((size_t)100 << 20)
/* Largest magnitude at which every integer is exact in a double. */
#define DG_JSON_MAX_INT 9007199254740992.0

int dg_json_parse(const char *ctx, const char *text, size_t len, cJSON **out) {
    *out = NULL;
    const char *end = text;
    /* Length-bounded parse: the text may be a slice of a mapped file. */
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t at = (end && end >= text) ? (size_t)(end - text) : 0;
        return dg_error("%s: invalid JSON near byte %zu", ctx, at);
    }
    for (size_t i = (size_t)(end - text); i < len; i++) {
        char c = text[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            cJSON_Delete(root);
            return dg_error("%s: invalid JSON near byte %zu (unexpected data after the top-level value)", ctx, i);
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return dg_error("%s: top level must be a JSON object", ctx);
    }
    *out = root;
    return DG_OK;
}

int dg_json_load(const char *path, cJSON **out) {
    *out = NULL;
    int fd;
    size_t size;
    DG_TRY(dg_regular_file_open(path, &fd, &size));
    if (size > DG_JSON_MAX_FILE) {
        close(fd);
        return dg_error("'%s' is too large for a JSON file (%zu bytes)", path, size);
    }
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return dg_error("out of memory reading '%s'", path);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != size) {
        free(buf);
        return dg_error("cannot read '%s'", path);
    }
    int rc = dg_json_parse(path, buf, size, out);
    free(buf);
    return rc;
}

/* The item under key, or NULL when absent or null and not required. */
static int json_lookup(const char *ctx, const cJSON *obj, const char *key, int required, const cJSON **item) {
    *item = NULL;
    if (!cJSON_IsObject(obj)) return dg_error("%s: cannot look up key '%s': not inside a JSON object", ctx, key);
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it && cJSON_IsNull(it)) it = NULL;
    if (!it && required) return dg_error("%s: missing required key '%s'", ctx, key);
    *item = it;
    return DG_OK;
}

static int json_integer(const cJSON *v, int64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= -DG_JSON_MAX_INT && d <= DG_JSON_MAX_INT)) return 0;
    int64_t i = (int64_t)d;
    if ((double)i != d) return 0;
    *out = i;
    return 1;
}

int dg_json_get_int(const char *ctx, const cJSON *obj, const char *key, int64_t *out, int required) {
    const cJSON *it;
    DG_TRY(json_lookup(ctx, obj, key, required, &it));
    if (!it) return DG_OK;
    DG_CHECK(json_integer(it, out), "%s: key '%s' must be an integer", ctx, key);
    return DG_OK;
}

int dg_json_get_double(const char *ctx, const cJSON *obj, const char *key, double *out, int required) {
    const cJSON *it;
    DG_TRY(json_lookup(ctx, obj, key, required, &it));
    if (!it) return DG_OK;
    DG_CHECK(cJSON_IsNumber(it) && isfinite(it->valuedouble), "%s: key '%s' must be a finite number", ctx, key);
    *out = it->valuedouble;
    return DG_OK;
}

int dg_json_get_bool(const char *ctx, const cJSON *obj, const char *key, int *out, int required) {
    const cJSON *it;
    DG_TRY(json_lookup(ctx, obj, key, required, &it));
    if (!it) return DG_OK;
    DG_CHECK(cJSON_IsBool(it), "%s: key '%s' must be true or false", ctx, key);
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return DG_OK;
}

int dg_json_check_keys(const char *ctx, const cJSON *obj, const char *const *keys) {
    DG_CHECK(cJSON_IsObject(obj), "%s: must be a JSON object", ctx);
    for (const cJSON *it = obj->child; it; it = it->next) {
        const char *const *k = keys;
        while (*k && strcmp(it->string, *k)) k++;
        if (*k) continue;
        char known[512] = "";
        for (k = keys; *k; k++) {
            const size_t used = strlen(known);
            snprintf(known + used, sizeof known - used, "%s%s", k == keys ? "" : ", ", *k);
        }
        return dg_error("%s: unknown key '%s' (known: %s)", ctx, it->string, known);
    }
    return DG_OK;
}

int dg_json_get_string(const char *ctx, const cJSON *obj, const char *key, const char **out, int required) {
    const cJSON *it;
    DG_TRY(json_lookup(ctx, obj, key, required, &it));
    if (!it) return DG_OK;
    DG_CHECK(cJSON_IsString(it) && it->valuestring, "%s: key '%s' must be a string", ctx, key);
    *out = it->valuestring;
    return DG_OK;
}

int dg_json_get_int_array(const char *ctx, const cJSON *obj, const char *key, int64_t *out, int n_expected,
                          int required) {
    const cJSON *it;
    DG_TRY(json_lookup(ctx, obj, key, required, &it));
    if (!it) return DG_OK;
    DG_CHECK(cJSON_IsArray(it) && cJSON_GetArraySize(it) == n_expected,
             "%s: key '%s' must be an array of %d integers", ctx, key, n_expected);
    /* Validate every element before writing, so *out stays untouched on failure. */
    int64_t v;
    int i = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, it) {
        DG_CHECK(json_integer(el, &v), "%s: key '%s': element %d must be an integer", ctx, key, i);
        i++;
    }
    i = 0;
    cJSON_ArrayForEach(el, it) json_integer(el, &out[i++]);
    return DG_OK;
}
