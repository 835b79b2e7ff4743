/* io/model_folder: a diffusers folder, a bare transformer folder, a transformer file and a
 * missing path resolve to the parts the pipeline, the text encoder and dg_wan_load open. */
#include <string.h>

#include "core/error.h"
#include "io/model_folder.h"
#include "tests/test.h"

#define FIX DG_TEST_DIR "/fixtures/"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

int main(void) {
    static dg_model_folder f;
    CHECK_OK(dg_model_folder_resolve(&f, FIX "wan_tiny"));
    CHECK(f.layout == DG_MODEL_DIFFUSERS && !strcmp(f.root, FIX "wan_tiny"), "diffusers root: '%s'", f.root);
    CHECK(ends_with(f.transformer, "wan_tiny/transformer"), "transformer '%s'", f.transformer);
    CHECK(ends_with(f.transformer_config, "wan_tiny/transformer/config.json"), "config '%s'", f.transformer_config);
    CHECK(ends_with(f.transformer_weights, "transformer/diffusion_pytorch_model.safetensors"), "weights '%s'",
          f.transformer_weights);
    CHECK(ends_with(f.vae, "wan_tiny/vae") && ends_with(f.text_encoder, "wan_tiny/text_encoder") &&
              ends_with(f.tokenizer, "wan_tiny/tokenizer"), "parts '%s' '%s' '%s'", f.vae, f.text_encoder, f.tokenizer);
    CHECK(ends_with(f.model_index, "wan_tiny/model_index.json"), "model_index '%s'", f.model_index);
    CHECK(!f.scheduler_config[0], "no scheduler/ in the fixture, got '%s'", f.scheduler_config);

    CHECK_OK(dg_model_folder_resolve(&f, FIX "wan_tiny/transformer"));
    CHECK(f.layout == DG_MODEL_TRANSFORMER_DIR && !f.root[0] && !f.vae[0] && !f.tokenizer[0] && !f.model_index[0],
          "bare transformer folder");
    CHECK(ends_with(f.transformer_config, "transformer/config.json"), "config '%s'", f.transformer_config);

    CHECK_OK(dg_model_folder_resolve(&f, FIX "wan_tiny_original/diffusion_pytorch_model.safetensors"));
    CHECK(f.layout == DG_MODEL_TRANSFORMER_FILE && ends_with(f.transformer_config, "wan_tiny_original/config.json") &&
              !strcmp(f.transformer, f.transformer_weights), "file with a config beside it");

    CHECK(dg_model_folder_resolve(&f, FIX "no_such_model") == DG_ERR && strstr(dg_last_error(), "no_such_model"),
          "missing path: '%s'", dg_last_error());
    return TEST_END();
}
