/* Wan2.1 VAE decoder parity against diffusers' AutoencoderKLWan on a tiny
 * random model (tests/reference/make_wan_vae.py): a 3-latent-frame video (the
 * feature-cache and temporal-upsampler first-chunk rules), a 1-frame image, a
 * tiled decode (diffusers' tiled_decode), the pipeline's denormalisation,
 * bf16 weights, and configs/checkpoints that must be refused. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/backend.h"
#include "core/dtype.h"
#include "tests/fixture.h"
#include "vae/wan_vae.h"

#define VAE_DIR DG_TEST_DIR "/fixtures/wan_vae_tiny"
#define IO_PATH DG_TEST_DIR "/fixtures/wan_vae_tiny_io.safetensors"
#define TOL 1e-4

static size_t out_numel(const dg_wan_vae_config *c, int F, int h, int w) {
    return (size_t)c->out_channels * (1 + c->scale_t * (F - 1)) * (h * c->scale_s) * (w * c->scale_s);
}

/* Decode fixture case `name` (z [16, F, h, w]) and compare with name.out. */
static float *run_case(dg_wan_vae *v, const dg_safetensors *io, const char *name, int tile) {
    char key[64];
    snprintf(key, sizeof key, "%s.z", name);
    const dg_st_tensor *zt = dg_safetensors_find(io, key);
    CHECK(zt != NULL && zt->ndim == 4, "fixture '%s' missing", key);
    if (!zt) return NULL;
    const int F = (int)zt->shape[1], h = (int)zt->shape[2], w = (int)zt->shape[3];
    snprintf(key, sizeof key, "%s.out", name);
    int64_t n_ref;
    const float *ref = fixture_f32(io, key, &n_ref);
    size_t n = out_numel(&v->cfg, F, h, w);
    CHECK(ref && (size_t)n_ref == n, "%s: reference has %lld values, expected %zu", key, (long long)n_ref, n);
    float *out = malloc(n * sizeof(float));
    if (!ref || !out || (size_t)n_ref != n) return out;
    CHECK_OK(dg_wan_vae_decode(v, zt->data, F, h, w, out, tile));
    char what[64];
    snprintf(what, sizeof what, "%s (tile %d)", name, tile);
    check_close(what, out, ref, n, TOL);
    return out;
}

static void test_parity(dg_wan_vae *v, const dg_safetensors *io) {
    const dg_wan_vae_config *c = &v->cfg;
    CHECK(c->scale_t == 4 && c->scale_s == 8 && c->out_channels == 3 && c->z_dim == 16,
          "config: scale_t %d scale_s %d out %d z %d", c->scale_t, c->scale_s, c->out_channels, c->z_dim);
    free(run_case(v, io, "video", 0));
    free(run_case(v, io, "image", 0));
    /* A tile no smaller than the latent means no tiling (diffusers' rule). */
    free(run_case(v, io, "video", 6));

    const dg_st_tensor *tt = dg_safetensors_find(io, "tiled.tile");
    CHECK(tt != NULL, "fixture 'tiled.tile' missing");
    if (!tt) return;
    const int tile = (int)((const float *)tt->data)[0];
    float *tiled = run_case(v, io, "tiled", tile);
    /* The untiled decode of the same latent must differ at the seams,
     * otherwise the tiled path was not taken. */
    const dg_st_tensor *zt = dg_safetensors_find(io, "tiled.z");
    size_t n = out_numel(c, (int)zt->shape[1], (int)zt->shape[2], (int)zt->shape[3]);
    float *plain = malloc(n * sizeof(float));
    if (tiled && plain) {
        CHECK_OK(dg_wan_vae_decode(v, zt->data, (int)zt->shape[1], (int)zt->shape[2], (int)zt->shape[3], plain, 0));
        double err, scale;
        test_max_err(tiled, plain, n, &err, &scale);
        printf("tiled vs untiled seam error: max_abs %.3g (scale %.3g)\n", err, scale);
        CHECK(err > 1e-3, "tiled decode equals the untiled one: tiling did not happen");
    }
    free(plain);
    free(tiled);
}

static void test_denormalize(const dg_wan_vae *v, const dg_safetensors *io) {
    int64_t n, n_ref;
    const float *in = fixture_f32(io, "denorm.in", &n), *ref = fixture_f32(io, "denorm.out", &n_ref);
    if (!in || !ref) return;
    const dg_st_tensor *t = dg_safetensors_find(io, "denorm.in");
    float *z = malloc((size_t)n * sizeof(float));
    memcpy(z, in, (size_t)n * sizeof(float));
    dg_wan_vae_denormalize(&v->cfg, z, (int)t->shape[1], (int)t->shape[2], (int)t->shape[3]);
    check_close("denormalize", z, ref, (size_t)n, 1e-6);
    free(z);
}

/* ---- refused configs and checkpoints ----------------------------------- */

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) p[n] = 0;
    *len = (size_t)n;
    return p;
}

static int write_all(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

/* A copy of the fixture folder under the build dir with `from` replaced by
 * `to` in config.json. */
static const char *variant(const char *name, const char *from, const char *to) {
    static char dir[512];
    char path[600];
    snprintf(dir, sizeof dir, "%s/wan_vae_%s", DG_BINARY_DIR, name);
    mkdir(dir, 0755);
    size_t len;
    char *cfg = read_all(VAE_DIR "/config.json", &len);
    char *wts = read_all(VAE_DIR "/diffusion_pytorch_model.safetensors", &len);
    CHECK(cfg && wts, "cannot read the fixture folder");
    if (!cfg || !wts) {
        free(cfg), free(wts);
        return dir;
    }
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    CHECK(write_all(path, wts, len) == 0, "cannot write %s", path);
    char *hit = strstr(cfg, from);
    CHECK(hit != NULL, "'%s' not in the fixture config", from);
    size_t cl = strlen(cfg), fl = strlen(from), tl = strlen(to);
    char *out = malloc(cl + tl + 1);
    size_t pre = hit ? (size_t)(hit - cfg) : cl;
    memcpy(out, cfg, pre);
    memcpy(out + pre, to, tl);
    strcpy(out + pre + tl, hit ? hit + fl : "");
    snprintf(path, sizeof path, "%s/config.json", dir);
    CHECK(write_all(path, out, strlen(out)) == 0, "cannot write %s", path);
    free(out), free(cfg), free(wts);
    return dir;
}

static void expect_refused(dg_backend *be, const char *dir, const char *needle) {
    dg_wan_vae v;
    int rc = dg_wan_vae_load(&v, be, dir);
    CHECK(rc != 0, "%s: load should fail", dir);
    if (rc == 0) {
        dg_wan_vae_free(&v);
        return;
    }
    printf("refused as expected: %s\n", dg_last_error());
    CHECK(strstr(dg_last_error(), needle) != NULL, "error '%s' does not mention '%s'", dg_last_error(), needle);
}

static void test_refusals(dg_backend *be) {
    /* the Wan2.2 layout read from a Wan2.1 checkpoint */
    expect_refused(be, variant("residual", "\"is_residual\": false", "\"is_residual\": true"),
                   "missing tensor 'decoder.up_blocks.0.upsampler.resample.1.weight'");
    expect_refused(be, variant("patch", "\"patch_size\": null", "\"patch_size\": 2"), "patch_size^2");
    expect_refused(be, variant("width", "\"base_dim\": 8", "\"base_dim\": 4"), "decoder.conv_in.weight");
    expect_refused(be, variant("depth", "\"num_res_blocks\": 1", "\"num_res_blocks\": 2"),
                   "missing tensor 'decoder.up_blocks.0.resnets.2.norm1.gamma'");
    expect_refused(be, variant("shallow", "\"num_res_blocks\": 1", "\"num_res_blocks\": 0"),
                   "'decoder.up_blocks.0.resnets.1.conv1.bias' is not used");
    expect_refused(be, variant("levels", "\"temperal_downsample\": [\n    false,", "\"temperal_downsample\": ["),
                   "temperal_downsample");
}

/* The same weights stored as bf16 decode exactly like their f32 rounding. */
static void test_bf16(dg_backend *be, const dg_safetensors *io) {
    dg_safetensors st;
    CHECK_OK(dg_safetensors_open(&st, VAE_DIR));
    if (test_failures) return;
    dg_st_entry *e16 = calloc((size_t)st.n_tensors, sizeof *e16), *e32 = calloc((size_t)st.n_tensors, sizeof *e32);
    void **bufs = calloc(2 * (size_t)st.n_tensors, sizeof *bufs);
    for (int i = 0; i < st.n_tensors; i++) {
        const dg_st_tensor *t = &st.tensors[i];
        size_t n = t->nbytes / 4;
        uint16_t *h = malloc(n * 2);
        float *f = malloc(n * 4);
        dg_convert_from_f32(h, DG_BF16, t->data, n);
        dg_convert_to_f32(f, h, DG_BF16, n);
        bufs[2 * i] = h, bufs[2 * i + 1] = f;
        e16[i] = (dg_st_entry){t->name, DG_BF16, t->ndim, t->shape, h};
        e32[i] = (dg_st_entry){t->name, DG_F32, t->ndim, t->shape, f};
    }
    char d16[512], d32[512], path[600];
    snprintf(d16, sizeof d16, "%s/wan_vae_bf16", DG_BINARY_DIR);
    snprintf(d32, sizeof d32, "%s/wan_vae_bf16_as_f32", DG_BINARY_DIR);
    size_t len;
    char *cfg = read_all(VAE_DIR "/config.json", &len);
    const char *dirs[2] = {d16, d32};
    const dg_st_entry *ents[2] = {e16, e32};
    for (int k = 0; k < 2; k++) {
        mkdir(dirs[k], 0755);
        snprintf(path, sizeof path, "%s/config.json", dirs[k]);
        CHECK(cfg && write_all(path, cfg, len) == 0, "cannot write %s", path);
        snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dirs[k]);
        CHECK_OK(dg_safetensors_save(path, ents[k], st.n_tensors, NULL, 0));
    }
    const dg_st_tensor *zt = dg_safetensors_find(io, "video.z");
    const int F = (int)zt->shape[1], h = (int)zt->shape[2], w = (int)zt->shape[3];
    float *out[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        dg_wan_vae v;
        CHECK_OK(dg_wan_vae_load(&v, be, dirs[k]));
        size_t n = out_numel(&v.cfg, F, h, w);
        out[k] = malloc(n * sizeof(float));
        CHECK_OK(dg_wan_vae_decode(&v, zt->data, F, h, w, out[k], 0));
        if (k == 1) {
            CHECK(memcmp(out[0], out[1], n * sizeof(float)) == 0, "bf16 weights decode differently from f32");
            printf("bf16 weights: identical to their f32 rounding\n");
        }
        dg_wan_vae_free(&v);
    }
    for (int i = 0; i < 2 * st.n_tensors; i++) free(bufs[i]);
    free(out[0]), free(out[1]), free(bufs), free(e16), free(e32), free(cfg);
    dg_safetensors_close(&st);
}

int main(void) {
    dg_backend be;
    CHECK_OK(dg_backend_cpu_init(&be, 0));
    dg_safetensors io;
    CHECK_OK(dg_safetensors_open(&io, IO_PATH));
    dg_wan_vae v;
    CHECK_OK(dg_wan_vae_load(&v, &be, VAE_DIR));
    if (test_failures) return TEST_END();

    test_parity(&v, &io);
    test_denormalize(&v, &io);
    CHECK(dg_wan_vae_decode(&v, NULL, 0, 4, 6, NULL, 0) != 0, "0 latent frames must be refused");
    dg_wan_vae_free(&v);

    test_refusals(&be);
    test_bf16(&be, &io);
    dg_safetensors_close(&io);
    dg_backend_free(&be);
    return TEST_END();
}
