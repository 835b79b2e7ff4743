#define _POSIX_C_SOURCE 200809L
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json.h"
#include "io/regular_file.h"

#define ST_MAX_HEADER ((uint64_t)100 << 20)
/* JSON numbers are doubles: beyond 2^53 integers are no longer exact. */
#define ST_MAX_INT ((uint64_t)1 << 53)

/* ---- reading ---------------------------------------------------------- */

static int st_parse_dtype(const char *s, dg_dtype *out) {
    if (strcmp(s, "F32") == 0) *out = DG_F32;
    else if (strcmp(s, "BF16") == 0) *out = DG_BF16;
    else if (strcmp(s, "F16") == 0) *out = DG_F16;
    else return 0;
    return 1;
}

static int st_json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= (double)ST_MAX_INT)) return 0;
    uint64_t u = (uint64_t)d;
    if ((double)u != d) return 0;
    *out = u;
    return 1;
}

static const char *st_shape_str(const uint64_t *shape, int ndim, char *buf, size_t len) {
    size_t at = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, i ? ", %" PRIu64 : "%" PRIu64, shape[i]);
    if (at < len) snprintf(buf + at, len - at, "]");
    return buf;
}

/* Map a whole file read-only and append it to st->files. */
static int st_map_file(dg_safetensors *st, const char *path) {
    dg_st_file *files = realloc(st->files, sizeof *files * (size_t)(st->n_files + 1));
    DG_CHECK_ALLOC(files);
    st->files = files;
    dg_st_file *f = &files[st->n_files];
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    DG_CHECK_ALLOC(f->path);
    st->n_files++;

    int fd;
    size_t size;
    DG_TRY(dg_regular_file_open(path, &fd, &size));
    if (size < 8) {
        close(fd);
        return dg_error("'%s': file is %zu bytes, too short for a safetensors header", path, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return dg_error("cannot map '%s': %s", path, strerror(e));
    f->map = map;
    f->size = size;
    return DG_OK;
}

typedef struct st_range {
    uint64_t begin, end;
    const char *name;
} st_range;

static int st_range_cmp(const void *a, const void *b) {
    const st_range *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Validate one header entry and append it to st->tensors. */
static int st_add_entry(dg_safetensors *st, const char *path, const cJSON *e, size_t data_off, size_t data_len,
                        st_range *range) {
    const char *name = e->string;
    DG_CHECK(cJSON_IsObject(e), "%s: entry for tensor '%s' is not an object", path, name);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    DG_CHECK(cJSON_IsString(jd) && jd->valuestring, "%s: tensor '%s' has no \"dtype\" string", path, name);
    dg_dtype dtype;
    DG_CHECK(st_parse_dtype(jd->valuestring, &dtype), "%s: unsupported dtype %s for tensor '%s'", path,
             jd->valuestring, name);
    DG_CHECK(cJSON_IsArray(js), "%s: tensor '%s' has no \"shape\" array", path, name);
    int ndim = cJSON_GetArraySize(js);
    DG_CHECK(ndim <= 5, "%s: tensor '%s' has rank %d; at most 5 is supported", path, name, ndim);
    uint64_t shape[5], numel = 1;
    int overflow = 0, empty = 0;
    for (int i = 0; i < ndim; i++) {
        DG_CHECK(st_json_uint(cJSON_GetArrayItem(js, i), &shape[i]),
                 "%s: tensor '%s': dimension %d is not a non-negative integer", path, name, i);
        if (!shape[i]) empty = 1;
        else if (numel > UINT64_MAX / shape[i]) overflow = 1;
        else numel *= shape[i];
    }
    if (empty) numel = 0, overflow = 0; /* a zero dim makes any product empty */
    DG_CHECK(cJSON_IsArray(jo) && cJSON_GetArraySize(jo) == 2,
             "%s: tensor '%s' has no \"data_offsets\" [begin, end] pair", path, name);
    uint64_t begin, end;
    DG_CHECK(st_json_uint(cJSON_GetArrayItem(jo, 0), &begin) && st_json_uint(cJSON_GetArrayItem(jo, 1), &end),
             "%s: tensor '%s': data_offsets must be non-negative integers", path, name);
    DG_CHECK(begin <= end, "%s: tensor '%s': data_offsets begin %" PRIu64 " is after end %" PRIu64, path, name,
             begin, end);
    DG_CHECK(end <= data_len,
             "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] extend past the data section (%zu bytes)",
             path, name, begin, end, data_len);
    size_t esize = dg_dtype_size(dtype);
    if (numel > UINT64_MAX / esize) overflow = 1;
    char sbuf[128];
    DG_CHECK(!overflow, "%s: tensor '%s': shape %s is too large", path, name,
             st_shape_str(shape, ndim, sbuf, sizeof sbuf));
    DG_CHECK(numel * esize == end - begin,
             "%s: tensor '%s': shape %s of %s needs %" PRIu64 " bytes but data_offsets span %" PRIu64, path, name,
             st_shape_str(shape, ndim, sbuf, sizeof sbuf), dg_dtype_name(dtype), numel * esize, end - begin);
    DG_CHECK((data_off + begin) % esize == 0,
             "%s: tensor '%s' is misaligned: its data at file offset %" PRIu64 " is not a multiple of %zu", path,
             name, (uint64_t)data_off + begin, esize);

    dg_st_tensor *t = &st->tensors[st->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    DG_CHECK_ALLOC(t->name);
    st->n_tensors++;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = (int64_t)shape[i];
    t->data = (const char *)st->files[st->n_files - 1].map + data_off + begin;
    t->nbytes = (size_t)(end - begin);
    t->file = st->n_files - 1;
    *range = (st_range){begin, end, t->name};
    return DG_OK;
}

/* As the reference (Rust) reader: sorted by data_offsets, each tensor starts
 * where the previous one ends (no gap, no overlap, empty tensors included) and
 * the last one ends with the file. */
static int st_check_layout(const char *path, st_range *r, int n, size_t data_len) {
    qsort(r, (size_t)n, sizeof *r, st_range_cmp);
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        DG_CHECK(r[i].begin >= at, "%s: tensors '%s' and '%s' have overlapping data_offsets", path, r[i - 1].name,
                 r[i].name);
        DG_CHECK(r[i].begin == at,
                 "%s: %" PRIu64 " unused bytes before tensor '%s' (data_offsets begin %" PRIu64 ", the data before "
                 "ends at %" PRIu64 "); safetensors leaves no gaps",
                 path, r[i].begin - at, r[i].name, r[i].begin, at);
        at = r[i].end;
    }
    DG_CHECK(at == data_len, "%s: %" PRIu64 " bytes after the last tensor's data (the tensors end at %" PRIu64
             " of a %zu-byte data section); safetensors files end with their data", path, data_len - at, at, data_len);
    return DG_OK;
}

/* cJSON ends strings at a NUL, so a name holding one (raw or \u0000) would be
 * read as another, shorter name: refuse it (pairs of backslashes are skipped). */
static int st_header_has_nul(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0') return 1;
        if (s[i] != '\\') continue;
        if (i + 5 < n && s[i + 1] == 'u' && !memcmp(s + i + 2, "0000", 4)) return 1;
        i++;
    }
    return 0;
}

static int st_load_file(dg_safetensors *st, const char *path) {
    DG_TRY(st_map_file(st, path));
    const dg_st_file *f = &st->files[st->n_files - 1];
    const unsigned char *p = f->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[i];
    DG_CHECK(hlen > 0, "%s: header length is 0", path);
    DG_CHECK(hlen <= ST_MAX_HEADER, "%s: header length %" PRIu64 " exceeds the 100 MB limit", path, hlen);
    DG_CHECK(hlen <= f->size - 8, "%s: header length %" PRIu64 " runs past the end of the file (%zu bytes)", path,
             hlen, f->size);
    size_t data_off = 8 + (size_t)hlen, data_len = f->size - data_off;

    char ctx[1100];
    snprintf(ctx, sizeof ctx, "%s: header", path);
    DG_CHECK(!st_header_has_nul((const char *)p + 8, (size_t)hlen),
             "%s: a name or string holds a NUL character (\\u0000), which tensor names cannot", ctx);
    cJSON *root;
    DG_TRY(dg_json_parse(ctx, (const char *)p + 8, (size_t)hlen, &root));

    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) n += strcmp(e->string, "__metadata__") != 0;
    dg_st_tensor *tensors = realloc(st->tensors, sizeof *tensors * (size_t)(st->n_tensors + n + 1));
    st_range *ranges = malloc(sizeof *ranges * (size_t)(n + 1));
    if (tensors) st->tensors = tensors;
    if (!tensors || !ranges) {
        free(ranges);
        cJSON_Delete(root);
        return dg_error("out of memory reading '%s'", path);
    }
    int k = 0, rc = DG_OK;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        rc = st_add_entry(st, path, e, data_off, data_len, &ranges[k]);
        if (rc != DG_OK) break;
        k++;
    }
    if (rc == DG_OK) rc = st_check_layout(path, ranges, k, data_len);
    free(ranges);
    cJSON_Delete(root);
    return rc;
}

static int st_name_cmp(const void *a, const void *b) {
    return strcmp(((const dg_st_tensor *)a)->name, ((const dg_st_tensor *)b)->name);
}

static int st_sort_and_check_duplicates(dg_safetensors *st) {
    qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, st_name_cmp);
    for (int i = 1; i < st->n_tensors; i++) {
        const dg_st_tensor *a = &st->tensors[i - 1], *b = &st->tensors[i];
        if (strcmp(a->name, b->name) != 0) continue;
        if (a->file == b->file) return dg_error("%s: duplicate tensor '%s'", st->files[a->file].path, a->name);
        return dg_error("tensor '%s' appears in both '%s' and '%s'", a->name, st->files[a->file].path,
                        st->files[b->file].path);
    }
    return DG_OK;
}

/* Shard names in the index are relative to the index's folder. */
static char *st_join(const char *index_path, const char *name) {
    const char *slash = strrchr(index_path, '/');
    size_t dir_len = slash ? (size_t)(slash - index_path) + 1 : 0;
    size_t len = dir_len + strlen(name) + 1;
    char *s = malloc(len);
    if (s) snprintf(s, len, "%.*s%s", (int)dir_len, index_path, name);
    return s;
}

static int st_shard_of(char **shards, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(shards[i], name) == 0) return i;
    return -1;
}

/* A shard name is relative and has no ".." part: an untrusted index must not
 * make ditgen map files elsewhere. */
static int st_shard_name_stays(const char *name) {
    if (name[0] == '/') return 0;
    for (const char *c = name; *c;) {
        size_t len = strcspn(c, "/");
        if (len == 2 && c[0] == '.' && c[1] == '.') return 0;
        c += len + (c[len] == '/');
    }
    return 1;
}

/* Distinct shard names, in first-seen order; file i of st is shard i. */
static int st_load_index_shards(dg_safetensors *st, const char *path, const cJSON *wm, char ***shards_out,
                                int *n_out) {
    int cap = cJSON_GetArraySize(wm);
    char **shards = calloc((size_t)cap + 1, sizeof *shards);
    DG_CHECK_ALLOC(shards);
    *shards_out = shards;
    const cJSON *e;
    cJSON_ArrayForEach(e, wm) {
        DG_CHECK(cJSON_IsString(e) && e->valuestring && *e->valuestring,
                 "%s: weight_map entry for tensor '%s' is not a file name", path, e->string);
        DG_CHECK(st_shard_name_stays(e->valuestring),
                 "%s: weight_map puts tensor '%s' in '%s', outside the index's folder (shards must lie beside or "
                 "below it)", path, e->string, e->valuestring);
        if (st_shard_of(shards, *n_out, e->valuestring) >= 0) continue;
        shards[*n_out] = e->valuestring;
        (*n_out)++;
    }
    DG_CHECK(*n_out > 0, "%s: weight_map is empty", path);
    for (int i = 0; i < *n_out; i++) {
        char *shard_path = st_join(path, shards[i]);
        DG_CHECK_ALLOC(shard_path);
        int rc = st_load_file(st, shard_path);
        free(shard_path);
        if (rc != DG_OK) return dg_error_wrap("%s: shard '%s': ", path, shards[i]);
    }
    return DG_OK;
}

static int st_load_index(dg_safetensors *st, const char *path) {
    cJSON *root;
    DG_TRY(dg_json_load(path, &root));
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        cJSON_Delete(root);
        return dg_error("%s: no \"weight_map\" object", path);
    }
    char **shards = NULL;
    int n_shards = 0;
    int rc = st_load_index_shards(st, path, wm, &shards, &n_shards);
    if (rc == DG_OK) rc = st_sort_and_check_duplicates(st);
    const cJSON *e;
    if (rc == DG_OK) {
        cJSON_ArrayForEach(e, wm) {
            int s = st_shard_of(shards, n_shards, e->valuestring);
            const dg_st_tensor *t = dg_safetensors_find(st, e->string);
            if (t && t->file == s) continue;
            if (t)
                rc = dg_error("%s: weight_map puts tensor '%s' in shard '%s' but it is in '%s'", path, e->string,
                              e->valuestring, st->files[t->file].path);
            else
                rc = dg_error("%s: tensor '%s' is missing from shard '%s'", path, e->string, e->valuestring);
            break;
        }
    }
    free(shards);
    cJSON_Delete(root);
    return rc;
}

static int st_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The one checkpoint a model folder holds. */
static int st_pick_in_dir(const char *dir, char **out) {
    static const char *const names[] = {
        "diffusion_pytorch_model.safetensors.index.json",
        "diffusion_pytorch_model.safetensors",
        "model.safetensors.index.json",
        "model.safetensors",
    };
    *out = NULL;
    const char *sep = st_ends_with(dir, "/") ? "" : "/";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *p = malloc(len);
        if (!p) {
            free(*out);
            *out = NULL;
            return dg_error("out of memory opening '%s'", dir);
        }
        snprintf(p, len, "%s%s%s", dir, sep, names[i]);
        struct stat sb; /* any non-folder entry counts, so that a FIFO there is refused by name */
        if (stat(p, &sb) != 0 || S_ISDIR(sb.st_mode)) {
            free(p);
            continue;
        }
        if (*out) {
            dg_error("'%s' holds both '%s' and '%s'; pass the one to load", dir, strrchr(*out, '/') + 1, names[i]);
            free(p);
            free(*out);
            *out = NULL;
            return DG_ERR;
        }
        *out = p;
    }
    DG_CHECK(*out, "'%s' holds no diffusion_pytorch_model.safetensors(.index.json) or model.safetensors(.index.json)",
             dir);
    return DG_OK;
}

static int st_open_path(dg_safetensors *st, const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return dg_error("cannot open '%s': %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        char *file;
        DG_TRY(st_pick_in_dir(path, &file));
        int rc = st_open_path(st, file);
        free(file);
        return rc;
    }
    if (st_ends_with(path, ".json")) return st_load_index(st, path);
    DG_TRY(st_load_file(st, path));
    return st_sort_and_check_duplicates(st);
}

int dg_safetensors_open(dg_safetensors *st, const char *path) {
    memset(st, 0, sizeof *st);
    if (st_open_path(st, path) == DG_OK) return DG_OK;
    dg_safetensors_close(st);
    return DG_ERR;
}

void dg_safetensors_close(dg_safetensors *st) {
    for (int i = 0; i < st->n_files; i++) {
        if (st->files[i].map) munmap(st->files[i].map, st->files[i].size);
        free(st->files[i].path);
    }
    for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    free(st->files);
    free(st->tensors);
    memset(st, 0, sizeof *st);
}

static int st_find_cmp(const void *key, const void *t) { return strcmp(key, ((const dg_st_tensor *)t)->name); }

const dg_st_tensor *dg_safetensors_find(const dg_safetensors *st, const char *name) {
    if (!st->n_tensors) return NULL;
    return bsearch(name, st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, st_find_cmp);
}

/* ---- writing ---------------------------------------------------------- */

static int st_entry_cmp(const void *a, const void *b) {
    return strcmp((*(const dg_st_entry *const *)a)->name, (*(const dg_st_entry *const *)b)->name);
}

/* Check the entries and lay out the data section: tensors with larger
 * elements first, otherwise in the given order. Every tensor is then aligned
 * to its element size with no gaps, which the reference (Rust) reader
 * requires, as it requires the data to end where the last tensor ends. */
static int st_plan(const char *path, const dg_st_entry *en, int n, uint64_t *begin, uint64_t *nbytes,
                   int *order) {
    for (int i = 0; i < n; i++) {
        const dg_st_entry *e = &en[i];
        DG_CHECK(e->name, "%s: tensor %d has no name", path, i);
        DG_CHECK(strcmp(e->name, "__metadata__") != 0, "%s: '__metadata__' is not a valid tensor name", path);
        DG_CHECK(e->dtype == DG_F32 || e->dtype == DG_BF16 || e->dtype == DG_F16,
                 "%s: tensor '%s' has an invalid dtype", path, e->name);
        DG_CHECK(e->ndim >= 0 && e->ndim <= 5, "%s: tensor '%s' has rank %d; 0 to 5 are supported", path, e->name,
                 e->ndim);
        uint64_t bytes = dg_dtype_size(e->dtype);
        for (int d = 0; d < e->ndim; d++) {
            DG_CHECK(e->shape[d] >= 0 && (uint64_t)e->shape[d] <= ST_MAX_INT,
                     "%s: tensor '%s': dimension %d is out of range", path, e->name, d);
            uint64_t dim = (uint64_t)e->shape[d];
            DG_CHECK(!dim || bytes <= ST_MAX_INT / dim, "%s: tensor '%s' is too large", path, e->name);
            bytes *= dim;
        }
        DG_CHECK(bytes == 0 || e->data, "%s: tensor '%s' has no data", path, e->name);
        nbytes[i] = bytes;
    }
    uint64_t at = 0;
    int k = 0;
    for (size_t esize = 8; esize >= 1; esize /= 2) {
        for (int i = 0; i < n; i++) {
            if (dg_dtype_size(en[i].dtype) != esize) continue;
            begin[i] = at;
            order[k++] = i;
            at += nbytes[i];
            DG_CHECK(at <= ST_MAX_INT, "%s: tensors are too large in total", path);
        }
    }
    if (n < 2) return DG_OK;
    const dg_st_entry **sorted = malloc(sizeof *sorted * (size_t)n);
    DG_CHECK_ALLOC(sorted);
    for (int i = 0; i < n; i++) sorted[i] = &en[i];
    qsort(sorted, (size_t)n, sizeof *sorted, st_entry_cmp);
    int rc = DG_OK;
    for (int i = 1; i < n && rc == DG_OK; i++)
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
            rc = dg_error("%s: duplicate tensor '%s'", path, sorted[i]->name);
    free(sorted);
    return rc;
}

/* Integers as raw JSON text: cJSON would print large ones in exponent form. */
static int st_add_uint(cJSON *arr, uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    cJSON *num = cJSON_CreateRaw(buf);
    if (num && cJSON_AddItemToArray(arr, num)) return 1;
    cJSON_Delete(num);
    return 0;
}

static char *st_header_json(const dg_st_entry *en, int n, const char *const *meta_kv, int n_meta,
                            const uint64_t *begin, const uint64_t *nbytes) {
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && n_meta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        ok = meta != NULL;
        for (int i = 0; ok && i < n_meta; i++)
            ok = cJSON_AddStringToObject(meta, meta_kv[2 * i], meta_kv[2 * i + 1]) != NULL;
    }
    for (int i = 0; ok && i < n; i++) {
        cJSON *t = cJSON_CreateObject();
        ok = t && cJSON_AddItemToObject(root, en[i].name, t);
        if (!ok) {
            cJSON_Delete(t);
            break;
        }
        cJSON *shape = cJSON_AddArrayToObject(t, "shape");
        cJSON *offs = cJSON_AddArrayToObject(t, "data_offsets");
        ok = cJSON_AddStringToObject(t, "dtype", dg_dtype_name(en[i].dtype)) && shape && offs;
        for (int d = 0; ok && d < en[i].ndim; d++) ok = st_add_uint(shape, (uint64_t)en[i].shape[d]);
        ok = ok && st_add_uint(offs, begin[i]) && st_add_uint(offs, begin[i] + nbytes[i]);
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return json;
}

static int st_write_body(FILE *fp, const char *json, const dg_st_entry *en, int n, const uint64_t *nbytes,
                         const int *order) {
    size_t jlen = strlen(json), hlen = (jlen + 7) / 8 * 8;
    unsigned char len_le[8];
    for (int i = 0; i < 8; i++) len_le[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    int ok = fwrite(len_le, 1, 8, fp) == 8 && fwrite(json, 1, jlen, fp) == jlen;
    for (size_t i = jlen; ok && i < hlen; i++) ok = fputc(' ', fp) != EOF;
    for (int k = 0; ok && k < n; k++) {
        size_t len = (size_t)nbytes[order[k]];
        ok = !len || fwrite(en[order[k]].data, 1, len, fp) == len;
    }
    return ok ? DG_OK : DG_ERR;
}

int dg_safetensors_save(const char *path, const dg_st_entry *entries, int n, const char *const *meta_kv, int n_meta) {
    DG_CHECK(n >= 0 && (n == 0 || entries), "%s: no tensors given", path);
    DG_CHECK(n_meta >= 0 && (n_meta == 0 || meta_kv), "%s: no metadata given", path);
    for (int i = 0; i < 2 * n_meta; i++) DG_CHECK(meta_kv[i], "%s: metadata entry %d is NULL", path, i / 2);
    uint64_t *begin = malloc(sizeof *begin * (size_t)(2 * n + 1));
    int *order = malloc(sizeof *order * (size_t)(n + 1));
    if (!begin || !order) {
        free(begin);
        free(order);
        return dg_error("out of memory writing '%s'", path);
    }
    uint64_t *nbytes = begin + n;
    char *json = NULL;
    int rc = st_plan(path, entries, n, begin, nbytes, order);
    if (rc == DG_OK) {
        json = st_header_json(entries, n, meta_kv, n_meta, begin, nbytes);
        if (!json) rc = dg_error("out of memory writing '%s'", path);
    }
    dg_atomic_file f;
    if (rc == DG_OK) rc = dg_atomic_open(&f, path);
    if (rc == DG_OK) {
        if (st_write_body(f.fp, json, entries, n, nbytes, order) != DG_OK) {
            const int err = errno;
            dg_atomic_abort(&f);
            rc = dg_error("writing '%s' failed: %s", path, strerror(err));
        } else {
            rc = dg_atomic_commit(&f);
        }
    }
    free(json);
    free(begin);
    free(order);
    return rc;
}
