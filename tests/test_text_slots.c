/* How many text slots a prompt encodes to, against diffusers' WanPipeline (fixture:
 * tests/reference/make_text_slots.py): max_sequence_length 512 whatever the tokenizer's
 * model_max_length, unless model_index.json's _ditgen_defaults sets max_sequence_length. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ditgen.h"
#include "tests/fixture.h"
#include "tests/scratch_dir.h"

#define FOLDER_LENGTH 24 /* keep in step with make_text_slots.py */

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "writing %s", path);
}

/* Encode the fixture's prompt in the scratch folder and compare with "<name>.prompt_embeds". */
static void check_slots(const dg_safetensors *io, const char *name, int want_len) {
    dg_pipeline *p = NULL;
    CHECK_OK(dg_pipeline_open(&p, dir, NULL, 0));
    if (!p) return;
    CHECK(dg_pipeline_info(p)->defaults.max_sequence_length == want_len, "%s: max_sequence_length %d, want %d", name,
          dg_pipeline_info(p)->defaults.max_sequence_length, want_len);
    float *emb = NULL;
    int len = 0;
    CHECK_OK(dg_pipeline_encode_prompt(p, "a red circle on a blue background", &emb, &len));
    char key[64];
    snprintf(key, sizeof key, "%s.prompt_embeds", name);
    int64_t n = 0;
    const float *ref = fixture_f32(io, key, &n);
    CHECK(len == want_len && n == (int64_t)len * 32, "%s: %d slots, diffusers %lld", name, len, (long long)n / 32);
    if (emb && ref && n == (int64_t)len * 32) check_close(key, emb, ref, (size_t)n, 1e-4);
    free(emb);
    dg_pipeline_close(p);
}

int main(void) {
    dg_safetensors io;
    fixture_open(&io, "wan_tiny_text_slots.safetensors");
    if (scratch_dir_make("text_slots")) return 1;
    /* wan_tiny's transformer and encoder, its tokenizer with a tokenizer_config.json saying 32 */
    const char *parts[] = {"transformer", "text_encoder", "tokenizer/tokenizer.json"};
    char target[600];
    mkdir(path_in("tokenizer"), 0755);
    for (int i = 0; i < 3; i++) {
        snprintf(target, sizeof target, "%s/fixtures/wan_tiny/%s", DG_TEST_DIR, parts[i]);
        CHECK(symlink(target, path_in(parts[i])) == 0, "symlink %s", path_in(parts[i]));
    }
    write_file(path_in("tokenizer/tokenizer_config.json"), "{\"model_max_length\": 32}");
    write_file(path_in("model_index.json"), "{\"_class_name\": \"WanPipeline\"}");
    check_slots(&io, "default", 512);
    write_file(path_in("model_index.json"),
               "{\"_class_name\": \"WanPipeline\", \"_ditgen_defaults\": {\"max_sequence_length\": 24}}");
    check_slots(&io, "folder", FOLDER_LENGTH);
    write_file(path_in("model_index.json"), "{\"_ditgen_defaults\": {\"max_sequence_length\": 0}}");
    dg_pipeline *p = NULL;
    CHECK(dg_pipeline_open(&p, dir, NULL, 0) != 0 &&
              strstr(dg_last_error(), "model_index.json: _ditgen_defaults.max_sequence_length = 0 outside 1..512"),
          "max_sequence_length 0 refused: %s", dg_last_error());
    if (p) dg_pipeline_close(p);

    const char *files[] = {"model_index.json", "tokenizer/tokenizer_config.json", "tokenizer/tokenizer.json",
                           "transformer", "text_encoder", "tokenizer"};
    for (int i = 0; i < 5; i++) unlink(path_in(files[i]));
    rmdir(path_in(files[5]));
    CHECK(n_entries() == 0, "scratch folder left with %d entries", n_entries());
    rmdir(dir);
    dg_safetensors_close(&io);
    return TEST_END();
}
