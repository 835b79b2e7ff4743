/* Head-level perturbation (SoftPAG): blending
 * a head's attention map toward identity, A' = (1-u) A + u I, is linear in A and
 * I V = V, so the fused form is a post-step on the output of that head:
 *   o_h = (1-u) o_h + u v_h
 * for every token (text rows too). Self-attention only: o and v have the same
 * tokens (nq rows of o, the first nq rows of v). */
#include "core/cpu/ops_cpu.h"

void dg_attn_perturb_heads(float *o, const float *v, const dg_attn_shape *s, const float *u) {
    const int64_t D = s->head_dim;
    for (int h = 0; h < s->heads; h++) {
        const float uh = u[h];
        if (uh == 0.0f) continue; /* the unperturbed heads stay bit-identical */
        const float keep = 1.0f - uh;
#pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < s->nq; n++) {
            float *oh = o + n * s->q_stride + h * D;
            const float *vh = v + n * s->kv_stride + h * D;
            for (int64_t c = 0; c < D; c++) oh[c] = keep * oh[c] + uh * vh[c];
        }
    }
}
