/* The CPU backend's attention ops: the dense (f32 or bf16) or block-sparse flash kernel on
 * the requested heads (pointers offset to the first head, strides kept), then
 * the SoftPAG blend; and the merge of partial attentions by log-sum-exp. */
#include <math.h>

#include "core/cpu/ops_cpu.h"
#include "core/error.h"

int dg_cpu_attention(dg_backend *be, dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v,
                     int heads, const dg_attn_opts *opts) {
    (void)be;
    const dg_attn_raw r = dg_attn_raw_of(o, q, k, v, heads, opts);
    const int bf16 = opts->dtype == DG_BF16 && dg_attention_bf16_cpu_supported();
    if (opts->layout)
        DG_TRY(bf16 ? dg_attention_sparse_bf16_cpu(r.o, r.q, r.k, r.v, &r.s, opts->layout, r.lse, heads)
                    : dg_attention_sparse_cpu(r.o, r.q, r.k, r.v, &r.s, opts->layout, r.lse, heads));
    else
        DG_TRY(bf16 ? dg_attention_dense_bf16_cpu(r.o, r.q, r.k, r.v, &r.s, r.lse, heads)
                    : dg_attention_dense_cpu(r.o, r.q, r.k, r.v, &r.s, NULL, r.lse, heads));
    if (opts->perturb)
        dg_attn_perturb_heads(r.o, r.v + opts->query_offset * r.s.kv_stride, &r.s, opts->perturb + r.head_begin);
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
