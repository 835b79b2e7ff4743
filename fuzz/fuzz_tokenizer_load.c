/* tokenizer.json: load, then encode a few texts (ASCII, accents, combining
 * marks, CJK, emoji, added tokens) with it. */
#include "core/error.h"
#include "fuzz/fuzz_file.h"
#include "text/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const texts[] = {"a red circle on a blue background", "  caf\xc3\xa9  na\xcc\x88ive ",
                                        "\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x98\x80</s><pad>x", ""};
    dg_tokenizer t;
    if (dg_tokenizer_load(&t, fuzz_write_file("tokenizer.json", data, size)) != DG_OK) return 0;
    int32_t ids[64], mask[64];
    int n;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        (void)dg_tokenizer_encode(&t, texts[i], 64, 1, ids, mask, &n);
        (void)dg_tokenizer_encode(&t, texts[i], 3, 0, ids, NULL, &n);
    }
    dg_tokenizer_free(&t);
    return 0;
}
