/* io/safetensors: save/open round trips, sharded checkpoints and model
 * folders, and every malformed file the reader must refuse (with a message
 * naming the file and tensor). Files go to <build>/test_safetensors.d. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/error.h"
#include "io/safetensors.h"
#include "test.h"

#define OUT_DIR DG_BINARY_DIR "/test_safetensors.d"

/* Up to 8 live paths at once, enough for any one statement below. */
static const char *P(const char *name) {
    static char buf[8][512];
    static int next = 0;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", OUT_DIR, name);
    return b;
}

static void write_bytes(const char *path, const void *data, size_t len) {
    FILE *fp = fopen(path, "wb");
    if (!fp || (len && fwrite(data, 1, len, fp) != len) || fclose(fp) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* A hand-built file: length field, header (space-padded to 8 when pad), data. */
static void write_raw_opt(const char *path, const char *header, int pad, const void *data, size_t dlen) {
    size_t hl = strlen(header), hp = pad ? (hl + 7) / 8 * 8 : hl;
    unsigned char *buf = calloc(1, 8 + hp + dlen);
    if (!buf) exit(1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hp >> (8 * i));
    memcpy(buf + 8, header, hl);
    memset(buf + 8 + hl, ' ', hp - hl);
    if (dlen) memcpy(buf + 8 + hp, data, dlen);
    write_bytes(path, buf, 8 + hp + dlen);
    free(buf);
}

static void write_raw(const char *path, const char *header, size_t dlen) {
    unsigned char data[64] = {0};
    if (dlen > sizeof data) exit(1);
    write_raw_opt(path, header, 1, data, dlen);
}

static int err_has(const char *a, const char *b) {
    const char *e = dg_last_error();
    int ok = strstr(e, a) && (!b || strstr(e, b));
    if (!ok) fprintf(stderr, "  unexpected error message: %s\n", e);
    return ok;
}

static int is_zeroed(const dg_safetensors *st) {
    return !st->files && !st->tensors && !st->n_files && !st->n_tensors;
}

/* Opening must fail, leave st empty, and say both `a` and `b` (b may be NULL). */
static void expect_open_fail(const char *path, const char *a, const char *b, int line) {
    dg_safetensors st;
    memset(&st, 0xab, sizeof st);
    int rc = dg_safetensors_open(&st, path);
    if (rc != DG_ERR) {
        fprintf(stderr, "line %d: opening %s succeeded\n", line, path);
        test_failures++;
        if (rc == DG_OK) dg_safetensors_close(&st);
        return;
    }
    CHECK(is_zeroed(&st), "line %d: struct not cleared after failure", line);
    CHECK(err_has(a, b), "line %d: message for %s", line, path);
}
#define OPEN_FAIL(path, a, b) expect_open_fail(path, a, b, __LINE__)

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void make_clean_dir(const char *dir) {
    mkdir(dir, 0755);
    DIR *d = opendir(dir);
    if (!d) exit(1);
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

/* ---- round trip --------------------------------------------------------- */

static float w_f32[6] = {0, 1.5f, -3, 4.25f, 1e-3f, -7};
static uint16_t b_bf16[4], h_f16[3], five_bf16[12];
static float scalar = 3.25f;

static void fill_inputs(void) {
    for (int i = 0; i < 4; i++) b_bf16[i] = dg_f32_to_bf16(0.5f * (float)i - 1.0f);
    for (int i = 0; i < 3; i++) h_f16[i] = dg_f32_to_f16(0.25f * (float)i + 2.0f);
    for (int i = 0; i < 12; i++) five_bf16[i] = dg_f32_to_bf16((float)i);
}

static const int64_t sh_w[2] = {2, 3}, sh_b[1] = {4}, sh_h[2] = {3, 1}, sh_5[5] = {1, 2, 1, 3, 2},
                     sh_z[2] = {0, 4};

/* Mixed on purpose: after the 6-byte F16 tensor an F32 one would be misaligned
 * if the writer kept this order in the data section. */
static const dg_st_entry round_trip_entries[] = {
    {"w_f32", DG_F32, 2, sh_w, w_f32},       {"b_bf16", DG_BF16, 1, sh_b, b_bf16},
    {"h_f16", DG_F16, 2, sh_h, h_f16},       {"s_scalar", DG_F32, 0, NULL, &scalar},
    {"five_d", DG_BF16, 5, sh_5, five_bf16}, {"z_empty", DG_F32, 2, sh_z, NULL},
};
#define N_RT ((int)(sizeof round_trip_entries / sizeof round_trip_entries[0]))

static void check_tensor(const dg_safetensors *st, const dg_st_entry *e) {
    const dg_st_tensor *t = dg_safetensors_find(st, e->name);
    CHECK(t != NULL, "tensor %s not found", e->name);
    if (!t) return;
    CHECK(strcmp(t->name, e->name) == 0, "found %s for %s", t->name, e->name);
    CHECK(t->dtype == e->dtype, "%s dtype %d", e->name, (int)t->dtype);
    CHECK(t->ndim == e->ndim, "%s ndim %d", e->name, t->ndim);
    size_t n = dg_dtype_size(e->dtype);
    for (int d = 0; d < e->ndim && d < t->ndim; d++) {
        CHECK(t->shape[d] == e->shape[d], "%s dim %d: %lld", e->name, d, (long long)t->shape[d]);
        n *= (size_t)e->shape[d];
    }
    CHECK(t->nbytes == n, "%s nbytes %zu, expected %zu", e->name, t->nbytes, n);
    CHECK((uintptr_t)t->data % dg_dtype_size(e->dtype) == 0, "%s data misaligned", e->name);
    if (n && t->nbytes == n) CHECK(memcmp(t->data, e->data, n) == 0, "%s data differs", e->name);
}

static void test_round_trip(void) {
    const char *path = P("round_trip.safetensors");
    const char *meta[] = {"format", "pt", "seed", "42"};
    CHECK_OK(dg_safetensors_save(path, round_trip_entries, N_RT, meta, 2));

    dg_safetensors st;
    CHECK_OK(dg_safetensors_open(&st, path));
    CHECK(st.n_files == 1 && st.n_tensors == N_RT, "files %d tensors %d", st.n_files, st.n_tensors);
    CHECK(st.n_files == 1 && strcmp(st.files[0].path, path) == 0, "file path");
    for (int i = 1; i < st.n_tensors; i++)
        CHECK(strcmp(st.tensors[i - 1].name, st.tensors[i].name) < 0, "not sorted at %d", i);
    for (int i = 0; i < N_RT; i++) check_tensor(&st, &round_trip_entries[i]);
    for (int i = 0; i < st.n_tensors; i++) {
        CHECK(st.tensors[i].file == 0, "file index");
        CHECK(dg_safetensors_find(&st, st.tensors[i].name) == &st.tensors[i], "find %s", st.tensors[i].name);
    }
    CHECK(dg_safetensors_find(&st, "missing") == NULL, "found a missing tensor");
    CHECK(dg_safetensors_find(&st, "") == NULL, "found ''");
    CHECK(dg_safetensors_find(&st, "a") == NULL, "found 'a' (before first)");
    CHECK(dg_safetensors_find(&st, "zz") == NULL, "found 'zz' (after last)");

    /* Header: 8-byte padded, metadata kept. Data: F32 tensors first, then the
     * 2-byte ones, each group in the given order, contiguous to the end. */
    const unsigned char *p = st.files[0].map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[i];
    CHECK(hlen % 8 == 0, "header length %llu not a multiple of 8", (unsigned long long)hlen);
    CHECK(st.files[0].size == 8 + hlen + 66, "file size %zu, header %llu", st.files[0].size,
          (unsigned long long)hlen);
    cJSON *h = cJSON_ParseWithLength((const char *)p + 8, (size_t)hlen);
    CHECK(h != NULL, "header does not parse");
    if (h) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(m, "format");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, "seed");
        CHECK(cJSON_IsString(f) && strcmp(f->valuestring, "pt") == 0, "metadata format");
        CHECK(cJSON_IsString(s) && strcmp(s->valuestring, "42") == 0, "metadata seed");
        static const char *layout[N_RT] = {"w_f32", "s_scalar", "z_empty", "b_bf16", "h_f16", "five_d"};
        static const double begins[N_RT] = {0, 24, 28, 28, 36, 42}, ends[N_RT] = {24, 28, 28, 36, 42, 66};
        for (int i = 0; i < N_RT; i++) {
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(h, layout[i]),
                                                              "data_offsets");
            CHECK(cJSON_GetArraySize(o) == 2 && cJSON_GetArrayItem(o, 0)->valuedouble == begins[i] &&
                      cJSON_GetArrayItem(o, 1)->valuedouble == ends[i],
                  "%s: data_offsets", layout[i]);
        }
        cJSON_Delete(h);
    }
    dg_safetensors_close(&st);
    CHECK(is_zeroed(&st), "close does not clear");
    dg_safetensors_close(&st); /* twice is harmless */

    /* No tensors at all, no metadata. */
    CHECK_OK(dg_safetensors_save(P("empty.safetensors"), NULL, 0, NULL, 0));
    CHECK_OK(dg_safetensors_open(&st, P("empty.safetensors")));
    CHECK(st.n_tensors == 0 && dg_safetensors_find(&st, "x") == NULL, "empty file");
    dg_safetensors_close(&st);
}

/* ---- accepted hand-built files ------------------------------------------ */

static void test_accepted_raw(void) {
    dg_safetensors st;
    /* Unknown extra keys, and an empty tensor at the end. */
    write_raw(P("extra_keys.safetensors"),
              "{\"__metadata__\":{\"a\":\"b\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],"
              "\"extra\":1},\"e\":{\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[8,8]}}",
              8);
    CHECK_OK(dg_safetensors_open(&st, P("extra_keys.safetensors")));
    CHECK(st.n_tensors == 2, "tensors %d", st.n_tensors);
    const dg_st_tensor *e = dg_safetensors_find(&st, "e");
    CHECK(e && e->nbytes == 0 && e->ndim == 1 && e->shape[0] == 0, "empty tensor");
    dg_safetensors_close(&st);

    /* An empty tensor between two others, and a backslash pair before "u0000" (no NUL). */
    write_raw(P("empty_between.safetensors"),
              "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"e\\\\u0000\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
              "\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
              8);
    CHECK_OK(dg_safetensors_open(&st, P("empty_between.safetensors")));
    CHECK(dg_safetensors_find(&st, "e\\u0000") != NULL, "name with a literal backslash");
    dg_safetensors_close(&st);

    /* Huge dims times a zero dim is empty, not an overflow. */
    write_raw(P("zero_huge.safetensors"),
              "{\"z\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296,0],\"data_offsets\":[0,0]}}", 0);
    CHECK_OK(dg_safetensors_open(&st, P("zero_huge.safetensors")));
    CHECK(st.n_tensors == 1 && st.tensors[0].nbytes == 0 && st.tensors[0].ndim == 4, "zero_huge");
    dg_safetensors_close(&st);

    /* An unpadded header is fine for 2-byte types when the data start is even. */
    write_raw_opt(P("unpadded.safetensors"), "{\"h\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}   ",
                  0, "\0\0", 2);
    CHECK_OK(dg_safetensors_open(&st, P("unpadded.safetensors")));
    dg_safetensors_close(&st);
}

/* ---- refusals ------------------------------------------------------------ */

#define T(body) "{\"w\":{" body "}}"

static void test_refusals(void) {
    unsigned char b[16] = {16, 0, 0, 0, 0};
    write_bytes(P("trunc.safetensors"), b, 5);
    OPEN_FAIL(P("trunc.safetensors"), "trunc.safetensors", "too short");
    write_bytes(P("zero_len.safetensors"), "", 0);
    OPEN_FAIL(P("zero_len.safetensors"), "zero_len.safetensors", "too short");

    memset(b, 0, sizeof b);
    memcpy(b + 8, "{}      ", 8);
    write_bytes(P("hlen0.safetensors"), b, 16);
    OPEN_FAIL(P("hlen0.safetensors"), "hlen0.safetensors", "header length is 0");

    uint64_t huge = (uint64_t)200 << 20;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(huge >> (8 * i));
    write_bytes(P("hlen_huge.safetensors"), b, 16);
    OPEN_FAIL(P("hlen_huge.safetensors"), "hlen_huge.safetensors", "100 MB");

    memset(b, 0, 8);
    b[0] = 100;
    write_bytes(P("hlen_eof.safetensors"), b, 16);
    OPEN_FAIL(P("hlen_eof.safetensors"), "hlen_eof.safetensors", "past the end of the file");
    memset(b, 0xff, 8); /* 2^64-1: must not wrap around */
    write_bytes(P("hlen_max.safetensors"), b, 16);
    OPEN_FAIL(P("hlen_max.safetensors"), "hlen_max.safetensors", "header length");

    write_raw(P("bad_json.safetensors"), "{\"w\": ", 0);
    OPEN_FAIL(P("bad_json.safetensors"), "bad_json.safetensors", "invalid JSON");
    write_raw(P("garbage.safetensors"), "{} x", 0);
    OPEN_FAIL(P("garbage.safetensors"), "garbage.safetensors", "invalid JSON");
    write_raw(P("array.safetensors"), "[1, 2]", 0);
    OPEN_FAIL(P("array.safetensors"), "array.safetensors", "object");

    write_raw(P("not_obj.safetensors"), "{\"w\": 3}", 0);
    OPEN_FAIL(P("not_obj.safetensors"), "not_obj.safetensors", "'w' is not an object");
    write_raw(P("no_dtype.safetensors"), T("\"shape\":[1],\"data_offsets\":[0,4]"), 4);
    OPEN_FAIL(P("no_dtype.safetensors"), "no_dtype.safetensors", "'w' has no \"dtype\"");
    write_raw(P("i64.safetensors"), T("\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]"), 8);
    OPEN_FAIL(P("i64.safetensors"), "i64.safetensors", "unsupported dtype I64 for tensor 'w'");
    write_raw(P("f64.safetensors"), T("\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]"), 8);
    OPEN_FAIL(P("f64.safetensors"), "f64.safetensors", "unsupported dtype F64 for tensor 'w'");
    write_raw(P("u8.safetensors"), T("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]"), 1);
    OPEN_FAIL(P("u8.safetensors"), "u8.safetensors", "unsupported dtype U8 for tensor 'w'");
    write_raw(P("dtype_num.safetensors"), T("\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]"), 4);
    OPEN_FAIL(P("dtype_num.safetensors"), "dtype_num.safetensors", "'w'");

    write_raw(P("rank6.safetensors"), T("\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1],\"data_offsets\":[0,4]"), 4);
    OPEN_FAIL(P("rank6.safetensors"), "rank6.safetensors", "'w' has rank 6");
    write_raw(P("no_shape.safetensors"), T("\"dtype\":\"F32\",\"data_offsets\":[0,4]"), 4);
    OPEN_FAIL(P("no_shape.safetensors"), "no_shape.safetensors", "'w' has no \"shape\"");
    write_raw(P("neg_dim.safetensors"), T("\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]"), 4);
    OPEN_FAIL(P("neg_dim.safetensors"), "neg_dim.safetensors", "'w': dimension 0");
    write_raw(P("frac_dim.safetensors"), T("\"dtype\":\"F32\",\"shape\":[2, 1.5],\"data_offsets\":[0,12]"), 12);
    OPEN_FAIL(P("frac_dim.safetensors"), "frac_dim.safetensors", "'w': dimension 1");
    write_raw(P("str_dim.safetensors"), T("\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]"), 8);
    OPEN_FAIL(P("str_dim.safetensors"), "str_dim.safetensors", "'w': dimension 0");

    write_raw(P("mismatch.safetensors"), T("\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]"), 8);
    OPEN_FAIL(P("mismatch.safetensors"), "mismatch.safetensors", "'w': shape [3] of F32 needs 12 bytes");
    write_raw(P("overflow.safetensors"),
              T("\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,0]"), 0);
    OPEN_FAIL(P("overflow.safetensors"), "overflow.safetensors", "'w': shape [4294967296, 4294967296, 4294967296]");
    write_raw(P("overflow2.safetensors"),
              T("\"dtype\":\"BF16\",\"shape\":[9007199254740992,4],\"data_offsets\":[0,0]"), 0);
    OPEN_FAIL(P("overflow2.safetensors"), "overflow2.safetensors", "'w'");
    write_raw(P("big_off.safetensors"), T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1e30,1e30]"), 0);
    OPEN_FAIL(P("big_off.safetensors"), "big_off.safetensors", "'w'");

    write_raw(P("no_offs.safetensors"), T("\"dtype\":\"F32\",\"shape\":[1]"), 4);
    OPEN_FAIL(P("no_offs.safetensors"), "no_offs.safetensors", "'w' has no \"data_offsets\"");
    write_raw(P("offs3.safetensors"), T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]"), 8);
    OPEN_FAIL(P("offs3.safetensors"), "offs3.safetensors", "'w' has no \"data_offsets\"");
    write_raw(P("neg_off.safetensors"), T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]"), 8);
    OPEN_FAIL(P("neg_off.safetensors"), "neg_off.safetensors", "'w'");
    write_raw(P("reversed.safetensors"), T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]"), 8);
    OPEN_FAIL(P("reversed.safetensors"), "reversed.safetensors", "'w': data_offsets begin 8 is after end 4");
    write_raw(P("past_end.safetensors"), T("\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]"), 8);
    OPEN_FAIL(P("past_end.safetensors"), "past_end.safetensors", "'w': data_offsets [0, 16] extend past");

    write_raw(P("overlap.safetensors"),
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
              12);
    OPEN_FAIL(P("overlap.safetensors"), "overlap.safetensors", "'a' and 'b' have overlapping");
    /* Listed out of order, and b lies wholly inside a; c after both is not involved. */
    write_raw(P("overlap2.safetensors"),
              "{\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
              20);
    OPEN_FAIL(P("overlap2.safetensors"), "overlap2.safetensors", "'a' and 'b' have overlapping");

    /* The reference (Rust) reader's layout rules: no gap, no trailing bytes, no empty tensor inside another. */
    write_raw(P("gap.safetensors"),
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
              12);
    OPEN_FAIL(P("gap.safetensors"), "gap.safetensors", "4 unused bytes before tensor 'b'");
    write_raw(P("gap_first.safetensors"), T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]"), 8);
    OPEN_FAIL(P("gap_first.safetensors"), "gap_first.safetensors", "4 unused bytes before tensor 'w'");
    write_raw(P("trailing.safetensors"), T("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"), 12);
    OPEN_FAIL(P("trailing.safetensors"), "trailing.safetensors", "4 bytes after the last tensor's data");
    write_raw(P("empty_inside.safetensors"),
              "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]}}",
              8);
    OPEN_FAIL(P("empty_inside.safetensors"), "empty_inside.safetensors", "'w' and 'e' have overlapping");
    /* cJSON would cut the name at the NUL: "w\u0000x" would load as "w". */
    write_raw(P("nul_name.safetensors"), "{\"w\\u0000x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    OPEN_FAIL(P("nul_name.safetensors"), "nul_name.safetensors", "NUL");

    write_raw(P("misaligned.safetensors"), T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]"), 8);
    OPEN_FAIL(P("misaligned.safetensors"), "misaligned.safetensors", "'w' is misaligned");
    write_raw(P("misaligned16.safetensors"), T("\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[1,3]"), 4);
    OPEN_FAIL(P("misaligned16.safetensors"), "misaligned16.safetensors", "'w' is misaligned");
    /* Offset 0 but the header length leaves the data section at an odd file offset. */
    write_raw_opt(P("misaligned_hdr.safetensors"), T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") " ",
                  0, "\0\0\0\0", 4);
    OPEN_FAIL(P("misaligned_hdr.safetensors"), "misaligned_hdr.safetensors", "'w' is misaligned");

    write_raw(P("dup.safetensors"),
              "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
              8);
    OPEN_FAIL(P("dup.safetensors"), "dup.safetensors", "duplicate tensor 'w'");

    OPEN_FAIL(P("does_not_exist.safetensors"), "does_not_exist.safetensors", NULL);
}

/* ---- sharded checkpoints and folders -------------------------------------- */

static const float s0w[4] = {1, 2, 3, 4}, s0b[2] = {5, 6};
static uint16_t s1w[4];
static const int64_t sh22[2] = {2, 2}, sh2[1] = {2};
static const dg_st_entry shard1[] = {{"blocks.0.w", DG_F32, 2, sh22, s0w}, {"blocks.0.b", DG_F32, 1, sh2, s0b}};
static const dg_st_entry shard2[] = {{"blocks.1.w", DG_BF16, 2, sh22, s1w}};
#define SH1 "diffusion_pytorch_model-00001-of-00002.safetensors"
#define SH2 "diffusion_pytorch_model-00002-of-00002.safetensors"

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

static void check_sharded(const char *path) {
    dg_safetensors st;
    CHECK_OK(dg_safetensors_open(&st, path));
    CHECK(st.n_files == 2 && st.n_tensors == 3, "%s: files %d tensors %d", path, st.n_files, st.n_tensors);
    for (int i = 0; i < 2; i++) check_tensor(&st, &shard1[i]);
    check_tensor(&st, &shard2[0]);
    const dg_st_tensor *a = dg_safetensors_find(&st, "blocks.0.b"), *c = dg_safetensors_find(&st, "blocks.1.w");
    if (a && c) {
        CHECK(strstr(st.files[a->file].path, SH1) != NULL, "blocks.0.b in %s", st.files[a->file].path);
        CHECK(strstr(st.files[c->file].path, SH2) != NULL, "blocks.1.w in %s", st.files[c->file].path);
    }
    dg_safetensors_close(&st);
}

static void test_sharded(void) {
    for (int i = 0; i < 4; i++) s1w[i] = dg_f32_to_bf16((float)i * 0.5f);
    mkdir(P("sharded"), 0755);
    CHECK_OK(dg_safetensors_save(P("sharded/" SH1), shard1, 2, NULL, 0));
    CHECK_OK(dg_safetensors_save(P("sharded/" SH2), shard2, 1, NULL, 0));
    write_text(P("sharded/diffusion_pytorch_model.safetensors.index.json"),
               "{\"metadata\": {\"total_size\": 32}, \"weight_map\": {\"blocks.0.w\": \"" SH1
               "\", \"blocks.1.w\": \"" SH2 "\", \"blocks.0.b\": \"" SH1 "\"}}");
    check_sharded(P("sharded/diffusion_pytorch_model.safetensors.index.json"));
    check_sharded(P("sharded"));
    check_sharded(P("sharded/"));

    /* Broken indexes beside the good shards. */
    write_text(P("sharded/missing_shard.safetensors.index.json"),
               "{\"weight_map\": {\"blocks.0.w\": \"nope-00003.safetensors\"}}");
    OPEN_FAIL(P("sharded/missing_shard.safetensors.index.json"), "missing_shard.safetensors.index.json",
              "nope-00003.safetensors");
    write_text(P("sharded/missing_tensor.safetensors.index.json"),
               "{\"weight_map\": {\"blocks.0.w\": \"" SH1 "\", \"blocks.9.w\": \"" SH1 "\"}}");
    OPEN_FAIL(P("sharded/missing_tensor.safetensors.index.json"), "'blocks.9.w' is missing from shard '" SH1 "'",
              "missing_tensor.safetensors.index.json");
    write_text(P("sharded/wrong_shard.safetensors.index.json"),
               "{\"weight_map\": {\"blocks.0.w\": \"" SH1 "\", \"blocks.1.w\": \"" SH1 "\", \"x\": \"" SH2 "\"}}");
    OPEN_FAIL(P("sharded/wrong_shard.safetensors.index.json"), "'blocks.1.w'", SH2);
    /* Shards outside the index's folder, even existing ones. */
    write_text(P("sharded/escape.safetensors.index.json"),
               "{\"weight_map\": {\"blocks.0.w\": \"../sharded/" SH1 "\"}}");
    OPEN_FAIL(P("sharded/escape.safetensors.index.json"), "escape.safetensors.index.json",
              "outside the index's folder");
    char abs_index[700];
    snprintf(abs_index, sizeof abs_index, "{\"weight_map\": {\"blocks.0.w\": \"%s\"}}", P("sharded/" SH1));
    write_text(P("sharded/absolute.safetensors.index.json"), abs_index);
    OPEN_FAIL(P("sharded/absolute.safetensors.index.json"), "absolute.safetensors.index.json",
              "outside the index's folder");
    write_text(P("sharded/no_map.safetensors.index.json"), "{\"metadata\": {}}");
    OPEN_FAIL(P("sharded/no_map.safetensors.index.json"), "no_map.safetensors.index.json", "weight_map");
    write_text(P("sharded/empty_map.safetensors.index.json"), "{\"weight_map\": {}}");
    OPEN_FAIL(P("sharded/empty_map.safetensors.index.json"), "empty_map.safetensors.index.json", "empty");
    write_text(P("sharded/num_map.safetensors.index.json"), "{\"weight_map\": {\"blocks.0.w\": 1}}");
    OPEN_FAIL(P("sharded/num_map.safetensors.index.json"), "num_map.safetensors.index.json", "'blocks.0.w'");
    write_text(P("sharded/bad.safetensors.index.json"), "{\"weight_map\": {");
    OPEN_FAIL(P("sharded/bad.safetensors.index.json"), "bad.safetensors.index.json", "invalid JSON");
    /* A broken shard: the message names the index, the shard and the tensor. */
    write_raw(P("sharded/broken.safetensors"), T("\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]"), 1);
    write_text(P("sharded/broken_shard.safetensors.index.json"), "{\"weight_map\": {\"w\": \"broken.safetensors\"}}");
    OPEN_FAIL(P("sharded/broken_shard.safetensors.index.json"), "broken_shard.safetensors.index.json",
              "unsupported dtype I8 for tensor 'w'");

    /* The same tensor in two shards. */
    CHECK_OK(dg_safetensors_save(P("sharded/dup-a.safetensors"), shard1, 1, NULL, 0));
    CHECK_OK(dg_safetensors_save(P("sharded/dup-b.safetensors"), shard1, 2, NULL, 0));
    write_text(P("sharded/dup.safetensors.index.json"),
               "{\"weight_map\": {\"blocks.0.w\": \"dup-a.safetensors\", \"blocks.0.b\": \"dup-b.safetensors\"}}");
    OPEN_FAIL(P("sharded/dup.safetensors.index.json"), "'blocks.0.w' appears in both", "dup-b.safetensors");
}

static void test_folders(void) {
    dg_safetensors st;
    mkdir(P("single"), 0755);
    CHECK_OK(dg_safetensors_save(P("single/model.safetensors"), shard2, 1, NULL, 0));
    CHECK_OK(dg_safetensors_open(&st, P("single")));
    CHECK(st.n_tensors == 1 && dg_safetensors_find(&st, "blocks.1.w"), "single folder");
    CHECK(st.n_files == 1 && strstr(st.files[0].path, "single/model.safetensors"), "picked file");
    dg_safetensors_close(&st);

    make_clean_dir(P("empty_dir"));
    OPEN_FAIL(P("empty_dir"), "empty_dir", "diffusion_pytorch_model.safetensors");

    mkdir(P("both"), 0755);
    CHECK_OK(dg_safetensors_save(P("both/model.safetensors"), shard2, 1, NULL, 0));
    CHECK_OK(dg_safetensors_save(P("both/diffusion_pytorch_model.safetensors"), shard2, 1, NULL, 0));
    OPEN_FAIL(P("both"), "both", "holds both");
}

/* ---- save failures -------------------------------------------------------- */

static void test_save_failures(void) {
    const float x[2] = {1, 2};
    const int64_t sh[6] = {2, 1, 1, 1, 1, 1}, neg[1] = {-2};
    const dg_st_entry ok[1] = {{"x", DG_F32, 1, sh, x}};

    CHECK(dg_safetensors_save(OUT_DIR "/no_such_dir/x.safetensors", ok, 1, NULL, 0) == DG_ERR,
          "save into a missing folder succeeded");
    CHECK(err_has("no_such_dir/x.safetensors", NULL), "message");
    struct stat sb;
    CHECK(stat(OUT_DIR "/no_such_dir", &sb) != 0, "missing folder was created");

    const char *dir = P("save_fail");
    make_clean_dir(dir);
    const char *path = P("save_fail/out.safetensors");
    const dg_st_entry rank6[1] = {{"r", DG_F32, 6, sh, x}};
    const dg_st_entry negative[1] = {{"n", DG_F32, 1, neg, x}};
    const dg_st_entry dup[2] = {{"d", DG_F32, 1, sh, x}, {"d", DG_F32, 1, sh, x}};
    const dg_st_entry nodata[1] = {{"nd", DG_F32, 1, sh, NULL}};
    const dg_st_entry reserved[1] = {{"__metadata__", DG_F32, 1, sh, x}};
    const dg_st_entry badtype[1] = {{"bt", (dg_dtype)7, 1, sh, x}};
    const char *nullmeta[] = {"k", NULL};
    struct {
        const dg_st_entry *e;
        int n;
        const char *const *meta;
        const char *what;
    } cases[] = {{rank6, 1, NULL, "'r' has rank 6"},   {negative, 1, NULL, "'n': dimension 0"},
                 {dup, 2, NULL, "duplicate tensor 'd'"}, {nodata, 1, NULL, "'nd' has no data"},
                 {reserved, 1, NULL, "__metadata__"},    {badtype, 1, NULL, "'bt' has an invalid dtype"},
                 {ok, 1, nullmeta, "metadata"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(dg_safetensors_save(path, cases[i].e, cases[i].n, cases[i].meta, cases[i].meta ? 1 : 0) == DG_ERR,
              "case %zu saved", i);
        CHECK(err_has("out.safetensors", cases[i].what), "case %zu", i);
        CHECK(count_entries(dir) == 0, "case %zu left a file behind", i);
    }

    /* A failed save over an existing file leaves it intact. */
    CHECK_OK(dg_safetensors_save(path, ok, 1, NULL, 0));
    CHECK(dg_safetensors_save(path, dup, 2, NULL, 0) == DG_ERR, "bad save succeeded");
    CHECK(count_entries(dir) == 1, "temp file left behind");
    dg_safetensors st;
    CHECK_OK(dg_safetensors_open(&st, path));
    CHECK(st.n_tensors == 1 && dg_safetensors_find(&st, "x"), "old file damaged");
    dg_safetensors_close(&st);
}

int main(void) {
    mkdir(OUT_DIR, 0755);
    fill_inputs();
    test_round_trip();
    test_accepted_raw();
    test_refusals();
    test_sharded();
    test_folders();
    test_save_failures();
    return TEST_END();
}
