/* Reference attention: one full score row per query in double, no tiling, no
 * tricks. Slow on purpose; tests compare every fast kernel against it. */
#include <math.h>
#include <stdlib.h>

#include "attention/reference.h"
#include "core/error.h"

int dg_attention_reference(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s) {
    DG_TRY(dg_attn_shape_check(s));
    DG_CHECK(o && q && k && v, "attention: null input or output");
    const int64_t nq = s->nq, nk = s->nk, D = s->head_dim;
    double *row = malloc((size_t)nk * sizeof(double));
    double *acc = malloc((size_t)D * sizeof(double));
    if (!row || !acc) {
        free(row);
        free(acc);
        return dg_error("%s:%d: out of memory", __FILE__, __LINE__);
    }
    for (int h = 0; h < s->heads; h++) {
        for (int64_t i = 0; i < nq; i++) {
            const float *qi = q + i * s->q_stride + h * D;
            double mx = -INFINITY;
            for (int64_t j = 0; j < nk; j++) {
                const float *kj = k + j * s->kv_stride + h * D;
                double dot = 0.0;
                for (int64_t c = 0; c < D; c++) dot += (double)qi[c] * (double)kj[c];
                row[j] = dot * (double)s->scale;
                if (row[j] > mx) mx = row[j];
            }
            double sum = 0.0;
            for (int64_t c = 0; c < D; c++) acc[c] = 0.0;
            for (int64_t j = 0; j < nk; j++) {
                double p = exp(row[j] - mx);
                const float *vj = v + j * s->kv_stride + h * D;
                sum += p;
                for (int64_t c = 0; c < D; c++) acc[c] += p * (double)vj[c];
            }
            float *oi = o + i * s->q_stride + h * D;
            for (int64_t c = 0; c < D; c++) oi[c] = (float)(acc[c] / sum);
        }
    }
    free(row);
    free(acc);
    return DG_OK;
}
