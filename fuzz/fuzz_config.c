/* config.json of the transformer, the VAE and the T5 encoder, and a step-cache preset: the input
 * goes to all four loaders. */
#include "core/error.h"
#include "dit/wan.h"
#include "fuzz/fuzz_file.h"
#include "sampler/step_cache.h"
#include "text/t5_encoder.h"
#include "vae/wan_vae.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("config.json", data, size);
    dg_wan_config wan;
    dg_wan_vae_config vae;
    dg_t5_config t5;
    (void)dg_wan_config_load(&wan, path);
    (void)dg_wan_vae_config_load(&vae, path);
    (void)dg_t5_config_load(&t5, path);
    dg_step_cache_opts cache;
    (void)dg_step_cache_load(&cache, path, NULL);
    return 0;
}
