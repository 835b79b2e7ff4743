/* Shape validation shared by every attention kernel, so they refuse the same
 * inputs with the same messages, and the raw view of one call. */
#include <math.h>
#include <stddef.h>

#include "core/attention.h"
#include "core/tensor.h"
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

dg_attn_raw dg_attn_raw_of(dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v, int heads,
                           const dg_attn_opts *opts) {
    const int hd = (int)(q->shape[1] / heads), h0 = opts->head_begin;
    const int hn = opts->head_count ? opts->head_count : heads - h0;
    const int64_t off = (int64_t)h0 * hd;
    dg_attn_raw r = {.s = {q->shape[0], k->shape[0], hn, hd, q->shape[1], k->shape[1],
                           opts->scale != 0.0f ? opts->scale : 1.0f / sqrtf((float)hd)},
                     .head_begin = h0,
                     .o = (float *)o->data + off,
                     .lse = opts->lse ? (float *)opts->lse->data + h0 : NULL,
                     .q = (const float *)q->data + off,
                     .k = (const float *)k->data + off,
                     .v = (const float *)v->data + off};
    return r;
}
