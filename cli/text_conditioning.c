#include "cli/text_conditioning.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/safetensors.h"

/* Embeddings [1, L, D] or [L, D] as malloc'ed f32. */
static int load_embeddings(const dg_safetensors *st, const char *path, const char *name, int text_dim, float **out,
                           int *len) {
    const dg_st_tensor *t = dg_safetensors_find(st, name);
    DG_CHECK(t, "%s has no tensor '%s'%s", path, name,
             strcmp(name, "prompt_embeds") ? " (needed for --cfg-scale > 1)" : "");
    DG_CHECK((t->ndim == 3 && t->shape[0] == 1) || t->ndim == 2, "%s: '%s' must be [1, L, %d] (the model's text_dim)",
             path, name, text_dim);
    int64_t L = t->shape[t->ndim - 2], D = t->shape[t->ndim - 1];
    DG_CHECK(D == text_dim && L >= 1, "%s: '%s' must be [1, L, %d] (the model's text_dim)", path, name, text_dim);
    *out = malloc((size_t)(L * D) * sizeof(float));
    DG_CHECK(*out, "out of memory reading %s", path);
    dg_convert_to_f32(*out, t->data, t->dtype, (size_t)(L * D));
    for (int64_t i = 0; i < L * D; i++)
        if (!isfinite((*out)[i])) { /* refused here, naming the file, rather than at the first step */
            int rc = dg_error("%s: '%s' holds %s at token %lld, channel %lld", path, name,
                              isnan((*out)[i]) ? "NaN" : "infinity", (long long)(i / D), (long long)(i % D));
            free(*out);
            *out = NULL;
            return rc;
        }
    *len = (int)L;
    return DG_OK;
}

int cli_text_conditioning(dg_pipeline *p, const char *prompt, const char *negative, const char *context_path,
                          int want_negative, float **ctx, int *ctx_len, float **neg, int *neg_len) {
    *ctx = *neg = NULL;
    int rc;
    if (prompt) {
        rc = dg_pipeline_encode_prompt(p, prompt, ctx, ctx_len);
        if (rc == DG_OK && want_negative) rc = dg_pipeline_encode_prompt(p, negative ? negative : "", neg, neg_len);
    } else {
        dg_safetensors st;
        DG_TRY(dg_safetensors_open(&st, context_path));
        int text_dim = dg_pipeline_info(p)->text_dim;
        rc = load_embeddings(&st, context_path, "prompt_embeds", text_dim, ctx, ctx_len);
        if (rc == DG_OK && want_negative)
            rc = load_embeddings(&st, context_path, "negative_prompt_embeds", text_dim, neg, neg_len);
        dg_safetensors_close(&st);
    }
    if (rc != DG_OK) { /* the caller owns nothing on failure */
        free(*ctx);
        *ctx = NULL;
    }
    return rc;
}
