/* Generation parameters text (what --from and batch --resume read back from files anyone may
 * hand over) on any bytes: parsing never crashes, and whatever parses formats to a text that
 * parses back to the same prompt, negative prompt and pairs. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fuzz/fuzz_file.h"
#include "io/gen_metadata.h"

static int same(const dg_infotext *a, const dg_infotext *b) {
    if (strcmp(a->prompt, b->prompt) || strcmp(a->negative, b->negative) || a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->key[i], b->key[i]) || strcmp(a->value[i], b->value[i])) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_string(data, size), *again = NULL;
    dg_infotext t, back;
    if (dg_infotext_parse("fuzz", text, &t) == DG_OK) {
        /* a prompt line starting "Negative prompt:" or a parameters-like last prompt line cannot
         * come back the same (A1111's format has no escape for them): only pairs are compared then */
        if (dg_infotext_format(&t, &again) == DG_OK && dg_infotext_parse("fuzz", again, &back) == DG_OK) {
            if (t.n >= 3 && !strchr(t.prompt, '\n') && !strchr(t.negative, '\n') && strncmp(t.prompt, "Negative prompt:", 16) &&
                !same(&t, &back))
                abort();
            dg_infotext_free(&back);
        }
        free(again);
        dg_infotext_free(&t);
    }
    free(text);
    return 0;
}
