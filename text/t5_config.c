/* transformers T5/umT5 config.json -> dg_t5_config, with range checks. */
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "text/t5_encoder.h"

static int get_int(const char *path, const cJSON *j, const char *key, int *out, int required, int lo, int hi) {
    int64_t v = *out;
    DG_TRY(dg_json_get_int(path, j, key, &v, required));
    DG_CHECK(v >= lo && v <= hi, "%s: '%s' = %lld outside %d..%d", path, key, (long long)v, lo, hi);
    *out = (int)v;
    return DG_OK;
}

static int parse(dg_t5_config *c, const char *path, const cJSON *j) {
    const char *type = NULL, *ffp = NULL;
    DG_TRY(dg_json_get_string(path, j, "model_type", &type, 1));
    int umt5 = !strcmp(type, "umt5");
    DG_CHECK(umt5 || !strcmp(type, "t5") || !strcmp(type, "mt5"),
             "%s: model_type '%s' is not a T5 encoder (umt5, t5, mt5)", path, type);
    int is_decoder = 0;
    DG_TRY(dg_json_get_bool(path, j, "is_decoder", &is_decoder, 0));
    DG_CHECK(!is_decoder, "%s: is_decoder is true: not an encoder", path);
    /* Class defaults that matter when a key is absent; the widths are required. */
    *c = (dg_t5_config){.num_buckets = 32, .max_distance = 128, .per_layer_bias = umt5, .eps = 1e-6f};
    ffp = umt5 ? "gated-gelu" : "relu";
    DG_TRY(get_int(path, j, "vocab_size", &c->vocab_size, 1, 1, 1 << 24));
    DG_TRY(get_int(path, j, "d_model", &c->d_model, 1, 1, 1 << 16));
    DG_TRY(get_int(path, j, "d_kv", &c->d_kv, 1, 1, 1 << 12));
    DG_TRY(get_int(path, j, "num_heads", &c->num_heads, 1, 1, 1024));
    DG_TRY(get_int(path, j, "d_ff", &c->d_ff, 1, 1, 1 << 20));
    DG_TRY(get_int(path, j, "num_layers", &c->num_layers, 1, 1, 1024));
    DG_TRY(get_int(path, j, "relative_attention_num_buckets", &c->num_buckets, 0, 4, 4096));
    DG_TRY(get_int(path, j, "relative_attention_max_distance", &c->max_distance, 0, 1, 1 << 20));
    /* The log buckets divide by log(max_distance / max_exact). */
    DG_CHECK(c->max_distance > c->num_buckets / 4, "%s: relative_attention_max_distance %d must exceed buckets/4 = %d",
             path, c->max_distance, c->num_buckets / 4);
    double eps = c->eps;
    DG_TRY(dg_json_get_double(path, j, "layer_norm_epsilon", &eps, 0));
    DG_CHECK(eps > 0 && eps < 1, "%s: layer_norm_epsilon = %g outside (0, 1)", path, eps);
    c->eps = (float)eps;
    DG_TRY(dg_json_get_string(path, j, "feed_forward_proj", &ffp, 0));
    /* "gated-gelu" means gelu_new (tanh approximation) in transformers. */
    if (!strcmp(ffp, "gated-gelu")) c->gated = 1;
    else DG_CHECK(!strcmp(ffp, "relu"), "%s: feed_forward_proj '%s' is not supported (gated-gelu, relu)", path, ffp);
    return DG_OK;
}

int dg_t5_config_load(dg_t5_config *c, const char *path) {
    cJSON *j;
    DG_TRY(dg_json_load(path, &j));
    int rc = parse(c, path, j);
    cJSON_Delete(j);
    return rc;
}
