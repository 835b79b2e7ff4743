/* Transformer config.json (diffusers or original Wan format) -> dg_wan_config,
 * with range checks; the parts a checkpoint's shapes imply. */
#include <stdlib.h>
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

static int get_patch(const char *path, const cJSON *j, int *out) {
    int64_t patch[3] = {out[0], out[1], out[2]};
    DG_TRY(dg_json_get_int_array(path, j, "patch_size", patch, 3, 0));
    for (int i = 0; i < 3; i++) {
        DG_CHECK(patch[i] >= 1 && patch[i] <= 16, "%s: patch_size[%d] = %lld outside 1..16", path, i,
                 (long long)patch[i]);
        out[i] = (int)patch[i];
    }
    return DG_OK;
}

static int get_eps(const char *path, const cJSON *j, float *out) {
    double eps = *out;
    DG_TRY(dg_json_get_double(path, j, "eps", &eps, 0));
    DG_CHECK(eps > 0 && eps < 1, "%s: eps = %g outside (0, 1)", path, eps);
    *out = (float)eps;
    return DG_OK;
}

/* The original Wan config (Wan-AI/Wan2.1-T2V-*: _class_name WanModel). */
static int parse_original(dg_wan_config *c, const char *path, const cJSON *j) {
    const char *type = "t2v";
    DG_TRY(dg_json_get_string(path, j, "model_type", &type, 0));
    DG_CHECK(type && !strcmp(type, "t2v"),
             "%s: model_type '%s' is not supported: only text-to-video (t2v) Wan models run (i2v, flf2v and vace "
             "need image conditioning)", path, type ? type : "null");
    /* WanModel defaults (wan/modules/model.py), then the file; text_dim comes from the weights */
    *c = (dg_wan_config){.patch = {1, 2, 2}, .heads = 16, .dim = 2048, .in_channels = 16, .out_channels = 16,
                         .freq_dim = 256, .ffn_dim = 8192, .num_layers = 32, .cross_attn_norm = 1, .eps = 1e-6f,
                         .rope_max_seq_len = 1024};
    int qk = 1;
    DG_TRY(get_patch(path, j, c->patch));
    DG_TRY(get_int(path, j, "dim", &c->dim, 0, 2, 1 << 16));
    DG_TRY(get_int(path, j, "num_heads", &c->heads, 0, 1, 1024));
    DG_TRY(get_int(path, j, "in_dim", &c->in_channels, 0, 1, 4096));
    DG_TRY(get_int(path, j, "out_dim", &c->out_channels, 0, 1, 4096));
    if (cJSON_HasObjectItem(j, "text_dim")) DG_TRY(get_int(path, j, "text_dim", &c->text_dim, 1, 1, 1 << 16));
    DG_TRY(get_int(path, j, "freq_dim", &c->freq_dim, 0, 2, 1 << 16));
    DG_TRY(get_int(path, j, "ffn_dim", &c->ffn_dim, 0, 1, 1 << 20));
    DG_TRY(get_int(path, j, "num_layers", &c->num_layers, 0, 1, 1024));
    DG_TRY(dg_json_get_bool(path, j, "cross_attn_norm", &c->cross_attn_norm, 0));
    DG_TRY(dg_json_get_bool(path, j, "qk_norm", &qk, 0));
    DG_CHECK(qk, "%s: qk_norm false is not supported", path);
    DG_TRY(get_eps(path, j, &c->eps));
    int64_t window[2] = {-1, -1};
    DG_TRY(dg_json_get_int_array(path, j, "window_size", window, 2, 0));
    DG_CHECK(window[0] == -1 && window[1] == -1, "%s: window_size [%lld, %lld] is not supported (only [-1, -1])",
             path, (long long)window[0], (long long)window[1]);
    DG_CHECK(c->dim % c->heads == 0, "%s: dim %d is not divisible by num_heads %d", path, c->dim, c->heads);
    c->head_dim = c->dim / c->heads;
    DG_CHECK(c->head_dim % 2 == 0, "%s: dim / num_heads = %d must be even (RoPE pairs)", path, c->head_dim);
    DG_CHECK(c->freq_dim % 2 == 0, "%s: freq_dim %d must be even", path, c->freq_dim);
    return DG_OK;
}

static int parse(dg_wan_config *c, const char *path, const cJSON *j) {
    const char *cls = NULL, *qk = "rms_norm_across_heads";
    DG_TRY(dg_json_get_string(path, j, "_class_name", &cls, 0));
    if (cls ? !strcmp(cls, "WanModel") : cJSON_HasObjectItem(j, "dim") && cJSON_HasObjectItem(j, "num_heads"))
        return parse_original(c, path, j);
    DG_CHECK(!cls || !strcmp(cls, "WanTransformer3DModel"),
             "%s: _class_name '%s' is neither WanTransformer3DModel (diffusers) nor WanModel (original Wan)", path,
             cls);
    /* diffusers class defaults, then the file */
    *c = (dg_wan_config){.patch = {1, 2, 2}, .heads = 40, .head_dim = 128, .in_channels = 16, .out_channels = 16,
                         .text_dim = 512, .freq_dim = 256, .ffn_dim = 13824, .num_layers = 40,
                         .cross_attn_norm = 0, .eps = 1e-6f, .rope_max_seq_len = 1024};
    DG_TRY(get_patch(path, j, c->patch));
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
    DG_TRY(get_eps(path, j, &c->eps));
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

/* Checkpoint tensor `name` (diffusers naming) of rank ndim, or NULL with the error set. */
static const dg_st_tensor *shape_of(const dg_safetensors *st, int original, const char *name, int ndim,
                                    const char *path) {
    char buf[160];
    const char *f = original ? dg_wan_original_name(name, buf, sizeof buf) : name;
    const dg_st_tensor *t = dg_safetensors_find(st, f);
    if (!t) dg_error("%s: missing tensor '%s'", path, f);
    else if (t->ndim != ndim) dg_error("%s: tensor '%s' has %d dimensions, expected %d", path, f, t->ndim, ndim);
    return t && t->ndim == ndim ? t : NULL;
}

int dg_wan_config_infer(dg_wan_config *c, const dg_safetensors *st, int original, const char *path) {
    const dg_st_tensor *t;
    int whole = c->dim == 0;
    if (whole) {
        /* the original Wan2.1 T2V architecture; the shapes give the widths */
        *c = (dg_wan_config){.cross_attn_norm = 1, .eps = 1e-6f, .rope_max_seq_len = 1024};
        if (!(t = shape_of(st, original, "patch_embedding.weight", 5, path))) return DG_ERR;
        c->dim = (int)t->shape[0];
        c->in_channels = (int)t->shape[1];
        for (int i = 0; i < 3; i++) c->patch[i] = (int)t->shape[2 + i];
        DG_CHECK(c->dim > 0 && c->in_channels > 0 && c->patch[0] > 0 && c->patch[1] > 0 && c->patch[2] > 0,
                 "%s: empty patch_embedding", path);
        int64_t pk = (int64_t)c->patch[0] * c->patch[1] * c->patch[2];
        if (!(t = shape_of(st, original, "proj_out.weight", 2, path))) return DG_ERR;
        DG_CHECK(t->shape[0] > 0 && t->shape[0] % pk == 0, "%s: output projection rows %lld are not a multiple of "
                 "the patch volume %lld", path, (long long)t->shape[0], (long long)pk);
        c->out_channels = (int)(t->shape[0] / pk);
        if (!(t = shape_of(st, original, "condition_embedder.time_embedder.linear_1.weight", 2, path))) return DG_ERR;
        c->freq_dim = (int)t->shape[1];
        DG_CHECK(c->freq_dim > 0 && c->freq_dim % 2 == 0, "%s: sinusoid width %d must be even", path, c->freq_dim);
        if (!(t = shape_of(st, original, "blocks.0.ffn.net.0.proj.weight", 2, path))) return DG_ERR;
        c->ffn_dim = (int)t->shape[0];
        /* blocks.{i}. is the same in both namings */
        for (int i = 0; i < st->n_tensors; i++) {
            const char *name = st->tensors[i].name;
            char *end = NULL;
            long b = strncmp(name, "blocks.", 7) ? -1 : strtol(name + 7, &end, 10);
            if (b >= 0 && b < 1024 && end != name + 7 && *end == '.' && b >= c->num_layers) c->num_layers = (int)b + 1;
        }
        char buf[160];
        const char *n2 = original ? dg_wan_original_name("blocks.0.norm2.weight", buf, sizeof buf)
                                  : "blocks.0.norm2.weight";
        c->cross_attn_norm = dg_safetensors_find(st, n2) != NULL;
    }
    if (c->text_dim == 0) {
        if (!(t = shape_of(st, original, "condition_embedder.text_embedder.linear_1.weight", 2, path))) return DG_ERR;
        c->text_dim = (int)t->shape[1];
    }
    if (whole) {
        /* Shapes do not tell the head count; every Wan2.1 model has head_dim 128 (1.3B: 12 heads, 14B: 40). */
        DG_CHECK(c->dim % 128 == 0, "%s: no config.json beside the weights and dim %d is not a multiple of 128: the "
                 "attention heads cannot be inferred (Wan uses head_dim 128); put the model's config.json beside "
                 "the weights", path, c->dim);
        c->head_dim = 128;
        c->heads = c->dim / 128;
    }
    return DG_OK;
}
