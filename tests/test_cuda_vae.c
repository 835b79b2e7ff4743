/* The Wan VAE decoder on the CUDA backend against the same diffusers fixture
 * as test_wan_vae (a 3-latent-frame video, a 1-frame image, a tiled decode),
 * so the whole decode loop - caches, chunk buffers, tiles - is checked on the
 * GPU, not only each op (test_backend_ops). Without a CUDA build or device:
 * "skipped: no CUDA device", exit 77. */
#include <stdio.h>
#include <stdlib.h>

#include "core/backend.h"
#include "tests/fixture.h"
#include "vae/wan_vae.h"

#ifdef DG_HAVE_CUDA
#include <cuda_runtime_api.h>

#define VAE_DIR DG_TEST_DIR "/fixtures/wan_vae_tiny"
#define IO_PATH DG_TEST_DIR "/fixtures/wan_vae_tiny_io.safetensors"
#define TOL 1e-4

static void run_case(dg_wan_vae *v, const dg_safetensors *io, const char *name, int tile) {
    char key[64];
    snprintf(key, sizeof key, "%s.z", name);
    const dg_st_tensor *zt = dg_safetensors_find(io, key);
    CHECK(zt != NULL && zt->ndim == 4, "fixture '%s' missing", key);
    if (!zt) return;
    const int F = (int)zt->shape[1], h = (int)zt->shape[2], w = (int)zt->shape[3];
    snprintf(key, sizeof key, "%s.out", name);
    int64_t n_ref = 0;
    const float *ref = fixture_f32(io, key, &n_ref);
    const dg_wan_vae_config *c = &v->cfg;
    const size_t n = (size_t)c->out_channels * (1 + c->scale_t * (F - 1)) * (h * c->scale_s) * (w * c->scale_s);
    CHECK(ref && (size_t)n_ref == n, "%s: reference has %lld values, expected %zu", key, (long long)n_ref, n);
    float *out = malloc(n * sizeof(float));
    if (ref && out && (size_t)n_ref == n) {
        CHECK_OK(dg_wan_vae_decode(v, zt->data, F, h, w, out, tile));
        char what[64];
        snprintf(what, sizeof what, "cuda %s (tile %d)", name, tile);
        check_close(what, out, ref, n, TOL);
    }
    free(out);
}

int main(void) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) TEST_SKIP("no CUDA device");
    dg_backend gpu;
    dg_wan_vae v;
    dg_safetensors io;
    CHECK_OK(dg_backend_cuda_init(&gpu, 0));
    if (test_failures) return TEST_END();
    CHECK_OK(dg_safetensors_open(&io, IO_PATH));
    CHECK_OK(dg_wan_vae_load(&v, &gpu, VAE_DIR));
    if (test_failures) return TEST_END();
    run_case(&v, &io, "video", 0);
    run_case(&v, &io, "image", 0);
    const dg_st_tensor *tt = dg_safetensors_find(&io, "tiled.tile");
    CHECK(tt != NULL, "fixture 'tiled.tile' missing");
    if (tt) run_case(&v, &io, "tiled", (int)((const float *)tt->data)[0]);
    run_case(&v, &io, "video", 0); /* again: the decode state is reused */
    dg_wan_vae_free(&v);
    dg_safetensors_close(&io);
    dg_backend_free(&gpu);
    return TEST_END();
}
#else
int main(void) {
    (void)test_failures;
    TEST_SKIP("no CUDA device (built without CUDA)");
}
#endif
