/* Prompt cleaning (HTML entities, whitespace) on any bytes. */
#include <stdlib.h>

#include "core/error.h"
#include "fuzz/fuzz_file.h"
#include "text/prompt_clean.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_string(data, size), *out = NULL;
    if (dg_prompt_clean(text, &out) == DG_OK) free(out);
    free(text);
    return 0;
}
