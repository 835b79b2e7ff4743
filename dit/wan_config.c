/* diffusers transformer/config.json -> dg_wan_config, with range checks. */
#include <string.h>

#include "core/error.h"
#include "dit/wan.h"
#include "io/json.h"

static int get_int(const char *path, const cJSON *j, const char *key, int *out, int required, int lo, int hi) {
    int64_t v = *out;
    DG_TRY(dg_json_get_int(path, j, key, &v, required));
    DG_CHECK(v >= lo && v <= hi, "%s: '%s' = %lld outside %d..%d", path, key, (long long)v, lo, hi);
    *out = (int)v;
    return DG_OK;
}

static int parse(dg_wan_config *c, const char *path, const cJSON *j) {
    const char *cls = NULL, *qk = "rms_norm_across_heads";
    DG_TRY(dg_json_get_string(path, j, "_class_name", &cls, 0));
    DG_CHECK(!cls || !strcmp(cls, "WanTransformer3DModel"), "%s: _class_name '%s' is not WanTransformer3DModel",
             path, cls);
    /* diffusers class defaults, then the file */
    *c = (dg_wan_config){.patch = {1, 2, 2}, .heads = 40, .head_dim = 128, .in_channels = 16, .out_channels = 16,
                         .text_dim = 512, .freq_dim = 256, .ffn_dim = 13824, .num_layers = 40,
                         .cross_attn_norm = 0, .eps = 1e-6f, .rope_max_seq_len = 1024};
    int64_t patch[3];
    patch[0] = 1, patch[1] = 2, patch[2] = 2;
    DG_TRY(dg_json_get_int_array(path, j, "patch_size", patch, 3, 0));
    for (int i = 0; i < 3; i++) {
        DG_CHECK(patch[i] >= 1 && patch[i] <= 16, "%s: patch_size[%d] = %lld outside 1..16", path, i,
                 (long long)patch[i]);
        c->patch[i] = (int)patch[i];
    }
    DG_TRY(get_int(path, j, "num_attention_heads", &c->heads, 0, 1, 1024));
    DG_TRY(get_int(path, j, "attention_head_dim", &c->head_dim, 0, 2, 1024));
    DG_TRY(get_int(path, j, "in_channels", &c->in_channels, 0, 1, 4096));
    DG_TRY(get_int(path, j, "out_channels", &c->out_channels, 0, 1, 4096));
    DG_TRY(get_int(path, j, "text_dim", &c->text_dim, 0, 1, 1 << 16));
    DG_TRY(get_int(path, j, "freq_dim", &c->freq_dim, 0, 2, 1 << 16));
    DG_TRY(get_int(path, j, "ffn_dim", &c->ffn_dim, 0, 1, 1 << 20));
    DG_TRY(get_int(path, j, "num_layers", &c->num_layers, 0, 1, 1024));
    DG_TRY(get_int(path, j, "rope_max_seq_len", &c->rope_max_seq_len, 0, 1, 1 << 20));
    DG_TRY(dg_json_get_bool(path, j, "cross_attn_norm", &c->cross_attn_norm, 0));
    double eps = c->eps;
    DG_TRY(dg_json_get_double(path, j, "eps", &eps, 0));
    DG_CHECK(eps > 0 && eps < 1, "%s: eps = %g outside (0, 1)", path, eps);
    c->eps = (float)eps;
    DG_TRY(dg_json_get_string(path, j, "qk_norm", &qk, 0));
    DG_CHECK(qk && !strcmp(qk, "rms_norm_across_heads"), "%s: qk_norm '%s' is not supported (rms_norm_across_heads)",
             path, qk ? qk : "null");
    DG_CHECK(c->head_dim % 2 == 0, "%s: attention_head_dim %d must be even (RoPE pairs)", path, c->head_dim);
    DG_CHECK(c->freq_dim % 2 == 0, "%s: freq_dim %d must be even", path, c->freq_dim);
    /* I2V / Wan2.2 features change the forward; refuse rather than silently ignore. */
    static const char *const unsupported[] = {"image_dim", "added_kv_proj_dim", "pos_embed_seq_len"};
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, unsupported[i]);
        DG_CHECK(!v || cJSON_IsNull(v), "%s: '%s' is set: image-to-video models are not supported yet", path,
                 unsupported[i]);
    }
    c->dim = c->heads * c->head_dim;
    return DG_OK;
}

int dg_wan_config_load(dg_wan_config *c, const char *path) {
    cJSON *j;
    DG_TRY(dg_json_load(path, &j));
    int rc = parse(c, path, j);
    cJSON_Delete(j);
    return rc;
}
