#include "io/safetensors_meta.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "io/json.h"
#include "io/regular_file.h"

#define META_MAX_HEADER ((uint64_t)100 << 20) /* as the safetensors reader */

static int read_all(int fd, void *buf, size_t n) {
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0) return r == 0 ? 0 : -1;
        got += (size_t)r;
    }
    return 1;
}

int dg_safetensors_metadata(const char *path, const char *key, char **out) {
    *out = NULL;
    int fd;
    size_t size;
    DG_TRY(dg_regular_file_open(path, &fd, &size));
    uint8_t len8[8];
    uint64_t hlen = 0;
    int ok = size >= 8 && read_all(fd, len8, 8) == 1;
    for (int i = 7; ok && i >= 0; i--) hlen = hlen << 8 | len8[i];
    if (!ok || hlen == 0 || hlen > META_MAX_HEADER || hlen > size - 8) {
        close(fd);
        return dg_error("'%s' is not a safetensors file (bad header length)", path);
    }
    char *text = malloc((size_t)hlen);
    if (!text || read_all(fd, text, (size_t)hlen) != 1) {
        int e = errno;
        free(text);
        close(fd);
        return dg_error("cannot read the header of '%s': %s", path, text ? strerror(e) : "out of memory");
    }
    close(fd);
    cJSON *root;
    int rc = dg_json_parse(path, text, (size_t)hlen, &root);
    free(text);
    if (rc) return rc;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    const cJSON *v = cJSON_IsObject(meta) ? cJSON_GetObjectItemCaseSensitive(meta, key) : NULL;
    if (cJSON_IsString(v) && !(*out = strdup(v->valuestring))) rc = dg_error("out of memory reading '%s'", path);
    cJSON_Delete(root);
    return rc;
}
