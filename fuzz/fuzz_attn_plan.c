/* Attention plan JSON: parse, check against a small model and prepare every
 * method for a small video geometry with text tokens. */
#include "attention/plan.h"
#include "core/backend.h"
#include "core/error.h"
#include "fuzz/fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static dg_backend be;
    static int ready;
    if (!ready) {
        if (dg_backend_cpu_init(&be, 1) != DG_OK) abort();
        ready = 1;
    }
    char *text = fuzz_string(data, size);
    dg_attn_plan p;
    if (dg_attn_plan_parse(&p, text, "fuzz") == DG_OK) {
        const dg_attn_geometry g = {.T = 3, .H = 4, .W = 6, .text_tokens = 5, .heads = 2, .head_dim = 8};
        if (dg_attn_plan_check(&p, 4, 2) == DG_OK) (void)dg_attn_plan_prepare(&p, &g, &be);
        dg_attn_plan_free(&p);
    }
    free(text);
    return 0;
}
