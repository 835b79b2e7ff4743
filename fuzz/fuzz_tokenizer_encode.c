/* Text through the test fixture's tokenizer (a real T5 Unigram model with its
 * precompiled charsmap), loaded once; DG_FUZZ_TOKENIZER names it. */
#include <stdlib.h>

#include "core/error.h"
#include "fuzz/fuzz_file.h"
#include "text/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static dg_tokenizer t;
    static int loaded;
    if (!loaded) {
        const char *path = getenv("DG_FUZZ_TOKENIZER");
        if (dg_tokenizer_load(&t, path ? path : DG_FUZZ_DEFAULT_TOKENIZER) != DG_OK) {
            fprintf(stderr, "fuzz_tokenizer_encode: %s\n", dg_last_error());
            abort();
        }
        loaded = 1;
    }
    char *text = fuzz_string(data, size);
    int32_t ids[128], mask[128];
    int n;
    (void)dg_tokenizer_encode(&t, text, 128, 1, ids, mask, &n);
    free(text);
    return 0;
}
