/* A *.safetensors.index.json beside two good shards, a.safetensors and
 * b.safetensors (written once). */
#include "core/error.h"
#include "fuzz/fuzz_file.h"
#include "io/safetensors.h"

static void write_shards(void) {
    static int done;
    if (done) return;
    done = 1;
    static const float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    static const int64_t sh22[2] = {2, 2}, sh2[1] = {2};
    const dg_st_entry s1[] = {{"blocks.0.w", DG_F32, 2, sh22, a}, {"blocks.0.b", DG_F32, 1, sh2, b}};
    const dg_st_entry s2[] = {{"blocks.1.w", DG_F32, 1, sh2, b}};
    if (dg_safetensors_save(fuzz_write_file("a.safetensors", NULL, 0), s1, 2, NULL, 0) != DG_OK ||
        dg_safetensors_save(fuzz_write_file("b.safetensors", NULL, 0), s2, 1, NULL, 0) != DG_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    write_shards();
    dg_safetensors st;
    if (dg_safetensors_open(&st, fuzz_write_file("x.safetensors.index.json", data, size)) == DG_OK)
        dg_safetensors_close(&st);
    return 0;
}
