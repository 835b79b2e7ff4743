/* The CPU backend's attention ops: the dense or block-sparse flash kernel on
 * the requested heads (pointers offset to the first head, strides kept), then
 * the SoftPAG blend; and the merge of partial attentions by log-sum-exp. */
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

int dg_cpu_attention_merge(dg_backend *be, dg_tensor *o, dg_tensor *lse, const dg_tensor *o2, const dg_tensor *lse2,
                           float bias, float bias2) {
    (void)be;
    const int64_t n = o->shape[0], heads = lse->shape[1], hd = o->shape[1] / heads;
    float *od = o->data, *ld = lse->data;
    const float *o2d = o2->data, *l2d = lse2->data;
    #pragma omp parallel for if (n * heads * hd > 65536)
    for (int64_t i = 0; i < n; i++)
        for (int64_t h = 0; h < heads; h++) {
            const float a = ld[i * heads + h] + bias, b = l2d[i * heads + h] + bias2, m = a > b ? a : b;
            float *oi = od + i * o->shape[1] + h * hd;
            const float *o2i = o2d + i * o->shape[1] + h * hd;
            if (m == -INFINITY) { /* neither group has a key for this row */
                for (int64_t c = 0; c < hd; c++) oi[c] = 0.0f;
                ld[i * heads + h] = -INFINITY;
                continue;
            }
            const float wa = expf(a - m), wb = expf(b - m), inv = 1.0f / (wa + wb);
            for (int64_t c = 0; c < hd; c++) oi[c] = (wa * oi[c] + wb * o2i[c]) * inv;
            ld[i * heads + h] = m + logf(wa + wb);
        }
    return DG_OK;
}
