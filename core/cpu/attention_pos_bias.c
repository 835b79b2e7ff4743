/* Attention with an additive relative-position bias and key bias on the CPU
 * (T5 family; semantics in core/backend.h): the dense flash kernel with a score
 * bias. Each head's bias-by-offset row is laid out reversed, in the kernel's log2
 * units, so that along a key row of the kernel's transposed scores it reads
 * forwards (dg_attn_bias). */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "core/cpu/exp2_poly.h"
#include "core/cpu/ops_cpu.h"
#include "core/error.h"

#define QPAD 64 /* the dense kernel's query block (BQ): its padded columns read up to this far past the table */

/* b * log2(e), kept finite: a masked key's -FLT_MAX would become -inf, and a row whose keys are all
 * masked then has no finite score; finite, it weighs its keys equally, as transformers does. */
static float to_log2(double b) {
    const double x = b * LOG2E;
    return x < -FLT_MAX ? -FLT_MAX : x > FLT_MAX ? FLT_MAX : (float)x;
}

int dg_cpu_attention_pos_bias(dg_backend *be, dg_tensor *o, const dg_tensor *q, const dg_tensor *k,
                              const dg_tensor *v, const dg_tensor *pos_bias, const dg_tensor *key_bias, int heads,
                              float scale) {
    (void)be;
    const int64_t nq = q->shape[0], nk = k->shape[0], ld = q->shape[1], nr = nq + nk - 1;
    const int64_t stride = nr + QPAD;
    const float *pos = pos_bias ? pos_bias->data : NULL, *kb = key_bias ? key_bias->data : NULL;
    float *rel = calloc((size_t)(heads * stride + nk), sizeof(float));
    DG_CHECK(rel, "%s:%d: out of memory", __FILE__, __LINE__);
    float *key = rel + heads * stride;
    /* table index t = (nk - 1 - j) + i holds the bias of offset j - i + nq - 1 = nr - 1 - t */
    for (int h = 0; pos && h < heads; h++)
        for (int64_t t = 0; t < nr; t++) rel[h * stride + t] = to_log2(pos[(nr - 1 - t) * heads + h]);
    for (int64_t j = 0; kb && j < nk; j++) key[j] = to_log2(kb[j]);
    const dg_attn_shape s = {.nq = nq, .nk = nk, .heads = heads, .head_dim = (int)(ld / heads), .q_stride = ld,
                             .kv_stride = ld, .scale = scale};
    const dg_attn_bias bias = {.rel = rel, .rel_stride = stride, .key = kb ? key : NULL};
    const int rc = dg_attention_dense_cpu(o->data, q->data, k->data, v->data, &s, &bias, NULL, 0);
    free(rel);
    return rc;
}
