/* Shape validation shared by every attention kernel, so they refuse the same
 * inputs with the same messages. */
#include <math.h>
#include <stddef.h>

#include "core/attention.h"
#include "core/error.h"

int dg_attn_shape_check(const dg_attn_shape *s) {
    DG_CHECK(s != NULL, "attention: missing shape");
    DG_CHECK(s->nq >= 1 && s->nk >= 1, "attention: token counts must be >= 1 (nq=%lld, nk=%lld)",
             (long long)s->nq, (long long)s->nk);
    DG_CHECK(s->heads >= 1, "attention: heads must be >= 1 (got %d)", s->heads);
    DG_CHECK(s->head_dim >= 1, "attention: head_dim must be >= 1 (got %d)", s->head_dim);
    int64_t width = (int64_t)s->heads * s->head_dim;
    DG_CHECK(s->q_stride >= width, "attention: q_stride %lld < heads*head_dim %lld", (long long)s->q_stride,
             (long long)width);
    DG_CHECK(s->kv_stride >= width, "attention: kv_stride %lld < heads*head_dim %lld", (long long)s->kv_stride,
             (long long)width);
    DG_CHECK(isfinite(s->scale), "attention: scale must be finite");
    return DG_OK;
}
