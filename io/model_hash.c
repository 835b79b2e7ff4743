#define _GNU_SOURCE
#include "io/model_hash.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/model_folder.h"
#include "io/sha256.h"

#define MAX_FILES 4096

typedef struct weight_files {
    char dir[PATH_MAX];
    char *name[MAX_FILES];
    int n;
    unsigned long long size, mtime_ns; /* total size, latest modification */
} weight_files;

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void files_free(weight_files *w) {
    for (int i = 0; i < w->n; i++) free(w->name[i]);
    w->n = 0;
}

/* The transformer's .safetensors files: the one file, or every one in its folder (shards). */
static int list_files(const char *model, weight_files *w) {
    dg_model_folder f;
    DG_TRY(dg_model_folder_resolve(&f, model));
    struct stat st;
    const char *weights = f.transformer_weights;
    DG_CHECK(stat(weights, &st) == 0, "model hash: cannot stat '%s': %s", weights, strerror(errno));
    char dir[PATH_MAX];
    const char *only = NULL;
    if (S_ISDIR(st.st_mode)) {
        snprintf(dir, sizeof dir, "%s", weights);
    } else {
        const char *slash = strrchr(weights, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - weights) : 1, slash ? weights : ".");
        if (ends_with(weights, ".safetensors")) only = slash ? slash + 1 : weights;
    }
    DG_CHECK(realpath(dir[0] ? dir : "/", w->dir), "model hash: cannot resolve '%s': %s", dir, strerror(errno));
    DIR *d = opendir(w->dir);
    DG_CHECK(d, "model hash: cannot list '%s': %s", w->dir, strerror(errno));
    struct dirent *e;
    int rc = DG_OK;
    while ((e = readdir(d)) && rc == DG_OK) {
        if (only ? strcmp(e->d_name, only) : !ends_with(e->d_name, ".safetensors")) continue;
        if (w->n == MAX_FILES) rc = dg_error("model hash: more than %d files in '%s'", MAX_FILES, w->dir);
        else if (!(w->name[w->n++] = strdup(e->d_name))) rc = dg_error("model hash: out of memory");
    }
    closedir(d);
    if (rc == DG_OK && !w->n) rc = dg_error("model hash: no .safetensors file in '%s'", w->dir);
    if (rc) {
        files_free(w);
        return rc;
    }
    qsort(w->name, (size_t)w->n, sizeof *w->name, cmp_name);
    for (int i = 0; i < w->n; i++) {
        char path[PATH_MAX * 2];
        snprintf(path, sizeof path, "%s/%s", w->dir, w->name[i]);
        if (stat(path, &st)) {
            files_free(w);
            return dg_error("model hash: cannot stat '%s': %s", path, strerror(errno));
        }
        unsigned long long m = (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec;
        w->size += (unsigned long long)st.st_size;
        if (m > w->mtime_ns) w->mtime_ns = m;
    }
    return DG_OK;
}

static int hash_files(const weight_files *w, char hash[DG_MODEL_HASH_LEN + 1]) {
    enum { CHUNK = 4 << 20 };
    uint8_t *buf = malloc(CHUNK);
    DG_CHECK_ALLOC(buf);
    dg_sha256 s;
    dg_sha256_init(&s);
    int rc = DG_OK;
    for (int i = 0; i < w->n && rc == DG_OK; i++) {
        char path[PATH_MAX * 2];
        snprintf(path, sizeof path, "%s/%s", w->dir, w->name[i]);
        FILE *fp = fopen(path, "rb");
        if (!fp) {
            rc = dg_error("model hash: cannot open '%s': %s", path, strerror(errno));
            break;
        }
        size_t n;
        while ((n = fread(buf, 1, CHUNK, fp)) > 0) dg_sha256_update(&s, buf, n);
        if (ferror(fp)) rc = dg_error("model hash: read error in '%s'", path);
        fclose(fp);
    }
    free(buf);
    if (rc) return rc;
    uint8_t digest[32];
    dg_sha256_final(&s, digest);
    for (int i = 0; i < DG_MODEL_HASH_LEN / 2; i++) snprintf(hash + 2 * i, 3, "%02x", digest[i]);
    return DG_OK;
}

/* Cache lines: "HASH SIZE MTIME_NS DIR|NAME,NAME,...". */
static int cache_key(const weight_files *w, char *key, size_t size) {
    size_t len = (size_t)snprintf(key, size, "%llu %llu %s|", w->size, w->mtime_ns, w->dir);
    for (int i = 0; i < w->n && len < size; i++) len += (size_t)snprintf(key + len, size - len, "%s%s", i ? "," : "", w->name[i]);
    return len < size;
}

static char *read_cache(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *text = NULL;
    if (!fseek(fp, 0, SEEK_END)) {
        long n = ftell(fp);
        if (n >= 0 && n < (16 << 20) && !fseek(fp, 0, SEEK_SET) && (text = malloc((size_t)n + 1))) {
            if (fread(text, 1, (size_t)n, fp) == (size_t)n) text[n] = 0;
            else free(text), text = NULL;
        }
    }
    fclose(fp);
    return text;
}

static int cache_lookup(const char *text, const char *key, char hash[DG_MODEL_HASH_LEN + 1]) {
    size_t klen = strlen(key);
    for (const char *l = text; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n == DG_MODEL_HASH_LEN + 1 + klen && l[DG_MODEL_HASH_LEN] == ' ' && !memcmp(l + DG_MODEL_HASH_LEN + 1, key, klen) &&
            strspn(l, "0123456789abcdef") == DG_MODEL_HASH_LEN) {
            memcpy(hash, l, DG_MODEL_HASH_LEN);
            hash[DG_MODEL_HASH_LEN] = 0;
            return 1;
        }
        l = e ? e + 1 : NULL;
    }
    return 0;
}

static void cache_store(const char *path, const char *old, const char *key, const char *hash) {
    size_t olen = old ? strlen(old) : 0, n = olen + strlen(key) + DG_MODEL_HASH_LEN + 3;
    char *text = malloc(n);
    if (!text) return;
    snprintf(text, n, "%s%s%s %s\n", old ? old : "", olen && old[olen - 1] != '\n' ? "\n" : "", hash, key);
    if (dg_atomic_write_all(path, text, strlen(text))) dg_error_clear(); /* only a cache */
    free(text);
}

int dg_model_hash(const char *model, const char *cache_path, char hash[DG_MODEL_HASH_LEN + 1]) {
    weight_files *w = calloc(1, sizeof *w);
    DG_CHECK_ALLOC(w);
    int rc = list_files(model, w);
    char key[8192];
    int keyed = rc == DG_OK && cache_path && cache_key(w, key, sizeof key);
    char *cache = keyed ? read_cache(cache_path) : NULL;
    if (rc == DG_OK && !(keyed && cache_lookup(cache, key, hash))) {
        rc = hash_files(w, hash);
        if (rc == DG_OK && keyed) cache_store(cache_path, cache, key, hash);
    }
    free(cache);
    files_free(w);
    free(w);
    return rc;
}
