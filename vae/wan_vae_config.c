/* diffusers vae/config.json (AutoencoderKLWan) -> dg_wan_vae_config, with
 * range checks. Defaults are the class defaults (the Wan2.1 VAE); is_residual and patch_size
 * select the Wan2.2 VAE's decoder. */
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "vae/wan_vae.h"

static const float default_mean[16] = {-0.7571f, -0.7089f, -0.9113f, 0.1075f, -0.1745f, 0.9653f, -0.1517f, 1.5508f,
                                       0.4134f,  -0.0715f, 0.5517f,  -0.3632f, -0.1922f, -0.9497f, 0.2503f, -0.2921f};
static const float default_std[16] = {2.8184f, 1.4541f, 2.3275f, 2.6558f, 1.2196f, 1.7708f, 2.6052f, 2.0743f,
                                      3.2687f, 2.1526f, 2.8652f, 1.5579f, 1.6382f, 1.1253f, 2.8251f, 1.9160f};

static int get_int(const char *path, const cJSON *j, const char *key, int *out, int lo, int hi) {
    int64_t v = *out;
    DG_TRY(dg_json_get_int(path, j, key, &v, 0));
    DG_CHECK(v >= lo && v <= hi, "%s: '%s' = %lld outside %d..%d", path, key, (long long)v, lo, hi);
    *out = (int)v;
    return DG_OK;
}

/* Length of array `key` (-1 when absent or null); anything else is refused. */
static int array_len(const char *path, const cJSON *j, const char *key, int *n) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key);
    *n = -1;
    if (!a || cJSON_IsNull(a)) return DG_OK;
    DG_CHECK(cJSON_IsArray(a), "%s: '%s' must be an array", path, key);
    *n = cJSON_GetArraySize(a);
    return DG_OK;
}

static int get_float_array(const char *path, const cJSON *j, const char *key, float *out, int n) {
    int len;
    DG_TRY(array_len(path, j, key, &len));
    if (len < 0) return DG_OK;
    DG_CHECK(len == n, "%s: '%s' has %d entries, z_dim is %d", path, key, len, n);
    int i = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, cJSON_GetObjectItemCaseSensitive(j, key)) {
        DG_CHECK(cJSON_IsNumber(el), "%s: '%s'[%d] must be a number", path, key, i);
        out[i++] = (float)el->valuedouble;
    }
    return DG_OK;
}

static int parse(dg_wan_vae_config *c, const char *path, const cJSON *j) {
    const char *cls = NULL;
    DG_TRY(dg_json_get_string(path, j, "_class_name", &cls, 0));
    DG_CHECK(!cls || !strcmp(cls, "AutoencoderKLWan"), "%s: _class_name '%s' is not AutoencoderKLWan", path, cls);
    memset(c, 0, sizeof *c);
    c->base_dim = 96, c->z_dim = 16, c->num_res_blocks = 2, c->out_channels = 3, c->n_levels = 4, c->patch = 1;
    DG_TRY(dg_json_get_bool(path, j, "is_residual", &c->residual, 0));
    /* patch_size null and 1 both mean no patching in diffusers */
    const cJSON *patch = cJSON_GetObjectItemCaseSensitive(j, "patch_size");
    if (patch && !cJSON_IsNull(patch)) DG_TRY(get_int(path, j, "patch_size", &c->patch, 1, 8));
    static const int mult[4] = {1, 2, 4, 4};
    memcpy(c->dim_mult, mult, sizeof mult);
    int down[DG_WAN_VAE_MAX_LEVELS] = {0, 1, 1};

    DG_TRY(get_int(path, j, "base_dim", &c->base_dim, 1, 1 << 14));
    DG_TRY(get_int(path, j, "decoder_base_dim", &c->base_dim, 1, 1 << 14));
    DG_TRY(get_int(path, j, "z_dim", &c->z_dim, 1, DG_WAN_VAE_MAX_Z));
    DG_TRY(get_int(path, j, "num_res_blocks", &c->num_res_blocks, 0, 64));
    DG_TRY(get_int(path, j, "out_channels", &c->out_channels, 1, 64));
    /* diffusers (0.35 to 0.42 at least) builds conv_out with out_channels outputs and unpatchifies
     * them: the Wan2.2 folders say 12 for RGB with patch 2 */
    DG_CHECK(c->out_channels % (c->patch * c->patch) == 0,
             "%s: 'out_channels' %d is not a multiple of patch_size^2 = %d (the unpatchified channels)", path,
             c->out_channels, c->patch * c->patch);
    c->out_channels /= c->patch * c->patch;

    int n;
    DG_TRY(array_len(path, j, "dim_mult", &n));
    if (n >= 0) {
        DG_CHECK(n >= 1 && n <= DG_WAN_VAE_MAX_LEVELS, "%s: 'dim_mult' must have 1..%d entries", path,
                 DG_WAN_VAE_MAX_LEVELS);
        int64_t m[DG_WAN_VAE_MAX_LEVELS];
        DG_TRY(dg_json_get_int_array(path, j, "dim_mult", m, n, 1));
        for (int i = 0; i < n; i++) {
            DG_CHECK(m[i] >= 1 && m[i] <= 64, "%s: dim_mult[%d] = %lld outside 1..64", path, i, (long long)m[i]);
            c->dim_mult[i] = (int)m[i];
        }
        c->n_levels = n;
    }
    DG_TRY(array_len(path, j, "temperal_downsample", &n));
    if (n >= 0) {
        DG_CHECK(n == c->n_levels - 1, "%s: 'temperal_downsample' has %d entries, expected len(dim_mult) - 1 = %d",
                 path, n, c->n_levels - 1);
        int i = 0;
        const cJSON *el;
        cJSON_ArrayForEach(el, cJSON_GetObjectItemCaseSensitive(j, "temperal_downsample")) {
            DG_CHECK(cJSON_IsBool(el), "%s: temperal_downsample[%d] must be true or false", path, i);
            down[i++] = cJSON_IsTrue(el);
        }
    } else {
        DG_CHECK(c->n_levels == 4, "%s: 'temperal_downsample' is required when dim_mult has %d entries", path,
                 c->n_levels);
    }

    /* The decoder upsamples in blocks 0..n-2; block i is temporal when the
     * encoder's mirror block downsampled time (diffusers reverses the list). */
    c->scale_t = 1, c->scale_s = c->patch;
    for (int i = 0; i + 1 < c->n_levels; i++) {
        c->temporal_up[i] = down[c->n_levels - 2 - i];
        c->scale_s *= 2;
        if (c->temporal_up[i]) c->scale_t *= 2;
    }
    for (int i = 0; i < c->z_dim; i++) {
        c->latents_mean[i] = c->z_dim == 16 ? default_mean[i] : 0.0f;
        c->latents_std[i] = c->z_dim == 16 ? default_std[i] : 1.0f;
    }
    DG_TRY(get_float_array(path, j, "latents_mean", c->latents_mean, c->z_dim));
    DG_TRY(get_float_array(path, j, "latents_std", c->latents_std, c->z_dim));
    for (int i = 0; i < c->z_dim; i++)
        DG_CHECK(c->latents_std[i] > 0, "%s: latents_std[%d] = %g must be positive", path, i, c->latents_std[i]);

    /* Cross-check the declared factors when present (diffusers writes them). */
    int st = c->scale_t, ss = c->scale_s;
    DG_TRY(get_int(path, j, "scale_factor_temporal", &st, 1, 1 << 10));
    DG_TRY(get_int(path, j, "scale_factor_spatial", &ss, 1, 1 << 10));
    DG_CHECK(st == c->scale_t && ss == c->scale_s,
             "%s: scale factors (temporal %d, spatial %d) disagree with the architecture (%d, %d)", path, st, ss,
             c->scale_t, c->scale_s);
    return DG_OK;
}

int dg_wan_vae_config_load(dg_wan_vae_config *c, const char *path) {
    cJSON *j;
    DG_TRY(dg_json_load(path, &j));
    int rc = parse(c, path, j);
    cJSON_Delete(j);
    return rc;
}
