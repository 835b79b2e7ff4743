/* The CPU backend's attention op: the dense or block-sparse flash kernel on the
 * requested heads (pointers offset to the first head, strides kept), then the
 * SoftPAG blend. */
#include <math.h>

#include "core/cpu/ops_cpu.h"
#include "core/error.h"

int dg_cpu_attention(dg_backend *be, dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v,
                     int heads, const dg_attn_opts *opts) {
    (void)be;
    const int hd = (int)(q->shape[1] / heads), h0 = opts->head_begin;
    const int hn = opts->head_count ? opts->head_count : heads - h0;
    const dg_attn_shape s = {q->shape[0], k->shape[0], hn, hd, q->shape[1], k->shape[1],
                             opts->scale != 0.0f ? opts->scale : 1.0f / sqrtf((float)hd)};
    const int64_t off = (int64_t)h0 * hd;
    float *od = (float *)o->data + off, *lse = opts->lse ? (float *)opts->lse->data + h0 : NULL;
    const float *qd = (const float *)q->data + off, *kd = (const float *)k->data + off,
                *vd = (const float *)v->data + off;
    DG_TRY(opts->layout ? dg_attention_sparse_cpu(od, qd, kd, vd, &s, opts->layout, lse, heads)
                        : dg_attention_dense_cpu(od, qd, kd, vd, &s, lse, heads));
    if (opts->perturb) dg_attn_perturb_heads(od, vd + opts->query_offset * s.kv_stride, &s, opts->perturb + h0);
    return DG_OK;
}
