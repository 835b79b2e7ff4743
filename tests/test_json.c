/* io/json: loading config files and typed getters whose errors name the file and key. */
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/json.h"
#include "test.h"

#define OUT_DIR DG_BINARY_DIR "/test_json.d"

static void write_text(const char *path, const char *text, size_t len) {
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(text, 1, len, fp) != len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(fp);
}

static int err_has(const char *a, const char *b) {
    const char *e = dg_last_error();
    int ok = strstr(e, a) && (!b || strstr(e, b));
    if (!ok) fprintf(stderr, "  unexpected error message: %s\n", e);
    return ok;
}

static const char *config_text =
    "{\n"
    "  \"_class_name\": \"WanTransformer3DModel\",\n"
    "  \"num_layers\": 30,\n"
    "  \"big\": -9007199254740992,\n"
    "  \"float_int\": 4.0,\n"
    "  \"eps\": 1e-06,\n"
    "  \"qk_norm\": \"rms_norm_across_heads\",\n"
    "  \"cross_attn_norm\": true,\n"
    "  \"flag_off\": false,\n"
    "  \"patch_size\": [1, 2, 2],\n"
    "  \"image_dim\": null,\n"
    "  \"half\": 1.5,\n"
    "  \"huge\": 1e300,\n"
    "  \"one\": 1,\n"
    "  \"mixed\": [1, \"2\", 3],\n"
    "  \"fracs\": [1, 2.5, 3],\n"
    "  \"rope\": {\"theta\": 10000.0, \"dims\": [44, 42, 42]}\n"
    "}\n";

static void test_getters(void) {
    const char *path = OUT_DIR "/config.json";
    write_text(path, config_text, strlen(config_text));
    cJSON *root = NULL;
    CHECK_OK(dg_json_load(path, &root));
    if (!root) return;

    int64_t i = -1;
    CHECK_OK(dg_json_get_int(path, root, "num_layers", &i, 1));
    CHECK(i == 30, "num_layers %lld", (long long)i);
    CHECK_OK(dg_json_get_int(path, root, "big", &i, 1));
    CHECK(i == -9007199254740992LL, "big %lld", (long long)i);
    CHECK_OK(dg_json_get_int(path, root, "float_int", &i, 1));
    CHECK(i == 4, "float_int %lld", (long long)i);

    double d = 0;
    CHECK_OK(dg_json_get_double(path, root, "eps", &d, 1));
    CHECK(d == 1e-06, "eps %g", d);
    CHECK_OK(dg_json_get_double(path, root, "num_layers", &d, 1));
    CHECK(d == 30.0, "int read as double %g", d);

    int b = -1;
    CHECK_OK(dg_json_get_bool(path, root, "cross_attn_norm", &b, 1));
    CHECK(b == 1, "cross_attn_norm %d", b);
    CHECK_OK(dg_json_get_bool(path, root, "flag_off", &b, 1));
    CHECK(b == 0, "flag_off %d", b);

    const char *s = NULL;
    CHECK_OK(dg_json_get_string(path, root, "qk_norm", &s, 1));
    CHECK(s && strcmp(s, "rms_norm_across_heads") == 0, "qk_norm %s", s ? s : "(null)");

    int64_t ps[3] = {0, 0, 0};
    CHECK_OK(dg_json_get_int_array(path, root, "patch_size", ps, 3, 1));
    CHECK(ps[0] == 1 && ps[1] == 2 && ps[2] == 2, "patch_size %lld %lld %lld", (long long)ps[0], (long long)ps[1],
          (long long)ps[2]);

    /* Absent or null, not required: OK and untouched. */
    i = 77;
    CHECK_OK(dg_json_get_int(path, root, "image_dim", &i, 0));
    CHECK(i == 77, "null must leave the default, got %lld", (long long)i);
    CHECK_OK(dg_json_get_int(path, root, "no_such_key", &i, 0));
    CHECK(i == 77, "absent must leave the default, got %lld", (long long)i);
    d = 0.25;
    CHECK_OK(dg_json_get_double(path, root, "no_such_key", &d, 0));
    CHECK(d == 0.25, "absent double touched");
    b = 7;
    CHECK_OK(dg_json_get_bool(path, root, "no_such_key", &b, 0));
    CHECK(b == 7, "absent bool touched");
    s = "default";
    CHECK_OK(dg_json_get_string(path, root, "image_dim", &s, 0));
    CHECK(strcmp(s, "default") == 0, "null string touched");
    ps[0] = 9;
    CHECK_OK(dg_json_get_int_array(path, root, "no_such_key", ps, 3, 0));
    CHECK(ps[0] == 9, "absent array touched");

    /* Absent or null, required: error naming file and key. */
    CHECK(dg_json_get_int(path, root, "num_heads", &i, 1) == DG_ERR, "missing required key accepted");
    CHECK(err_has("config.json", "'num_heads'"), "message");
    CHECK(strstr(dg_last_error(), "missing"), "message says missing: %s", dg_last_error());
    CHECK(dg_json_get_int(path, root, "image_dim", &i, 1) == DG_ERR, "required null accepted");
    CHECK(err_has("config.json", "'image_dim'"), "message");
    CHECK(dg_json_get_string(path, root, "nope", &s, 1) == DG_ERR, "missing string accepted");
    CHECK(dg_json_get_int_array(path, root, "nope", ps, 3, 1) == DG_ERR, "missing array accepted");

    /* Type mismatches: error names file and key, outputs untouched. */
    i = 5;
    CHECK(dg_json_get_int(path, root, "half", &i, 1) == DG_ERR, "1.5 accepted as integer");
    CHECK(err_has("config.json: key 'half' must be an integer", NULL), "message");
    CHECK(i == 5, "output touched on error");
    CHECK(dg_json_get_int(path, root, "huge", &i, 1) == DG_ERR, "1e300 accepted as integer");
    CHECK(err_has("'huge'", "integer"), "message");
    CHECK(dg_json_get_int(path, root, "qk_norm", &i, 1) == DG_ERR, "string accepted as integer");
    CHECK(err_has("config.json", "'qk_norm' must be an integer"), "message");
    CHECK(dg_json_get_int(path, root, "cross_attn_norm", &i, 1) == DG_ERR, "bool accepted as integer");
    CHECK(dg_json_get_double(path, root, "qk_norm", &d, 1) == DG_ERR, "string accepted as double");
    CHECK(err_has("config.json", "'qk_norm' must be a finite number"), "message");
    CHECK(dg_json_get_bool(path, root, "one", &b, 1) == DG_ERR, "1 accepted as bool");
    CHECK(err_has("config.json", "'one' must be true or false"), "message");
    CHECK(dg_json_get_string(path, root, "num_layers", &s, 1) == DG_ERR, "number accepted as string");
    CHECK(err_has("config.json", "'num_layers' must be a string"), "message");
    ps[0] = ps[1] = ps[2] = 9;
    CHECK(dg_json_get_int_array(path, root, "patch_size", ps, 2, 1) == DG_ERR, "wrong length accepted");
    CHECK(err_has("config.json", "'patch_size' must be an array of 2 integers"), "message");
    CHECK(dg_json_get_int_array(path, root, "num_layers", ps, 3, 1) == DG_ERR, "scalar accepted as array");
    CHECK(dg_json_get_int_array(path, root, "mixed", ps, 3, 1) == DG_ERR, "string element accepted");
    CHECK(err_has("'mixed'", "element 1"), "message");
    CHECK(dg_json_get_int_array(path, root, "fracs", ps, 3, 1) == DG_ERR, "fraction element accepted");
    CHECK(ps[0] == 9 && ps[1] == 9 && ps[2] == 9, "array output touched on error");

    /* Nested object with its own context. */
    const cJSON *rope = cJSON_GetObjectItemCaseSensitive(root, "rope");
    int64_t dims[3];
    CHECK_OK(dg_json_get_double("config.json: rope", rope, "theta", &d, 1));
    CHECK(d == 10000.0, "theta %g", d);
    CHECK_OK(dg_json_get_int_array("config.json: rope", rope, "dims", dims, 3, 1));
    CHECK(dims[0] == 44 && dims[2] == 42, "dims");
    CHECK(dg_json_get_int("config.json: rope", rope, "theta_x", &i, 1) == DG_ERR, "missing nested key accepted");
    CHECK(err_has("config.json: rope", "'theta_x'"), "message");
    /* Looking up inside a non-object is an error, not a crash. */
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "num_layers");
    CHECK(dg_json_get_int(path, layers, "x", &i, 0) == DG_ERR, "lookup in a number accepted");
    CHECK(err_has("config.json", "'x'"), "message");
    cJSON_Delete(root);
}

static void expect_load_error(const char *name, const char *text, size_t len, const char *what) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", OUT_DIR, name);
    write_text(path, text, len);
    cJSON *root = (cJSON *)1;
    CHECK(dg_json_load(path, &root) == DG_ERR, "%s accepted", name);
    CHECK(root == NULL, "%s: out not cleared", name);
    CHECK(err_has(name, what), "%s", name);
}

static void test_malformed(void) {
    /* The error sits at byte 15 ("}" where a value should be). */
    expect_load_error("bad1.json", "{\"num_layers\": }", 16, "near byte 15");
    CHECK(strstr(dg_last_error(), "invalid JSON"), "says invalid JSON: %s", dg_last_error());
    expect_load_error("bad2.json", "{\"a\": 1", 7, "invalid JSON");
    expect_load_error("bad3.json", "", 0, "invalid JSON");
    expect_load_error("bad4.json", "[1, 2]", 6, "top level must be a JSON object");
    expect_load_error("bad5.json", "{\"a\": 1} x", 10, "byte 9");
    expect_load_error("bad6.json", "{\"a\": 1}\0{}", 11, "invalid JSON");

    cJSON *root = (cJSON *)1;
    CHECK(dg_json_load(OUT_DIR "/does_not_exist.json", &root) == DG_ERR, "missing file accepted");
    CHECK(root == NULL, "out not cleared");
    CHECK(err_has("does_not_exist.json", NULL), "message");
    CHECK(dg_json_load(OUT_DIR, &root) == DG_ERR, "directory accepted");
    CHECK(err_has("test_json.d", "regular file"), "message");

    /* Trailing whitespace is fine; parsing a slice does not read past len. */
    const char *text = "{\"k\": [1,2,3]} \n\t  GARBAGE";
    CHECK_OK(dg_json_parse("slice", text, 18, &root));
    int64_t k[3] = {0};
    CHECK_OK(dg_json_get_int_array("slice", root, "k", k, 3, 1));
    CHECK(k[2] == 3, "k[2]");
    cJSON_Delete(root);
    CHECK(dg_json_parse("slice", text, strlen(text), &root) == DG_ERR, "trailing garbage accepted");
    CHECK(err_has("slice", "byte 19"), "message");
}

/* Parsing must stay inside the given bytes: each text sits in a heap buffer of
 * exactly its length (no NUL), so a read past the end trips ASan. */
static void test_bounded(void) {
    static const char *texts[] = {"{\"a\": 12", "{\"a\": \"abc", "{\"a\": tru", "{\"a\": [1, 2", "{\"a", "{",
                                  "{\"a\": 1e", "{\"a\": -"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t len = strlen(texts[i]);
        char *buf = malloc(len);
        if (!buf) exit(1);
        memcpy(buf, texts[i], len);
        cJSON *root = NULL;
        CHECK(dg_json_parse("bounded", buf, len, &root) == DG_ERR, "truncated text %zu accepted", i);
        CHECK(err_has("bounded: invalid JSON near byte", NULL), "text %zu", i);
        free(buf);
    }
    char *buf = malloc(8);
    if (!buf) exit(1);
    memcpy(buf, "{\"a\": 1}", 8);
    cJSON *root = NULL;
    CHECK_OK(dg_json_parse("bounded", buf, 8, &root));
    int64_t a = 0;
    CHECK_OK(dg_json_get_int("bounded", root, "a", &a, 1));
    CHECK(a == 1, "a %lld", (long long)a);
    cJSON_Delete(root);
    free(buf);
}

int main(void) {
    mkdir(OUT_DIR, 0755);
    test_getters();
    test_malformed();
    test_bounded();
    return TEST_END();
}
