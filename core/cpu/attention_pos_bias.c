/* Attention with an additive relative-position bias and key bias on the CPU
 * (T5 family; semantics in core/backend.h). One thread per head: the head's
 * k^T, v and bias-by-offset row are copied zero-padded into thread-local
 * buffers, then blocks of QB queries go through scores, softmax and outputs
 * with QB x VW accumulators held in registers. */
#include <math.h>
#include <stdlib.h>

#include "core/cpu/ops_cpu.h"
#include "core/error.h"

#define QB 4  /* queries per step (the kernels below spell out 4 rows): each loaded vector feeds 4 FMAs */
#define VW 16 /* floats per vector chunk; widths are padded to it so one path serves every head_dim */

static int64_t round16(int64_t x) { return (x + VW - 1) / VW * VW; }

int dg_cpu_attention_pos_bias(dg_backend *be, dg_tensor *o, const dg_tensor *q, const dg_tensor *k,
                              const dg_tensor *v, const dg_tensor *pos_bias, const dg_tensor *key_bias, int heads,
                              float scale) {
    (void)be;
    const int64_t nq = q->shape[0], nk = k->shape[0], ld = q->shape[1], nr = nq + nk - 1;
    const int dk = (int)(ld / heads);
    const int64_t Kp = round16(nk), Dp = round16(dk);
    const float *qd = q->data, *kd = k->data, *vd = v->data, *pos = pos_bias ? pos_bias->data : NULL;
    float *od = o->data;
    int fail = 0;
    /* one body, no per-head helper: the buffers then provably alias nothing (they come from calloc),
     * which keeps the vectorised loops free of alias checks */
    #pragma omp parallel reduction(| : fail)
    {
        /* per thread, zero-padded to whole chunks: k^T [Dp][Kp], v [nk][Dp], a query block [QB][Dp],
         * its scores [QB][Kp], the head's bias by offset j - i + nq - 1 [nr] (zeros without a position
         * bias), and zeros standing in for a missing key bias [nk] */
        size_t n = (size_t)(Dp * Kp + nk * Dp + QB * Dp + QB * Kp + nr + nk);
        float *kt = calloc(n, sizeof(float));
        if (!kt) fail = 1;
        float *vp = kt ? kt + Dp * Kp : NULL, *qb = vp ? vp + nk * Dp : NULL, *s = qb ? qb + QB * Dp : NULL;
        float *pb = s ? s + QB * Kp : NULL, *kb = pb ? pb + nr : NULL;
        const float *keys = key_bias ? key_bias->data : kb;
        #pragma omp for schedule(dynamic)
        for (int h = 0; h < heads; h++) {
            if (!kt) continue;
            const int64_t off = (int64_t)h * dk;
            for (int64_t j = 0; j < nk; j++)
                for (int c = 0; c < dk; c++) {
                    kt[c * Kp + j] = kd[j * ld + off + c];
                    vp[j * Dp + c] = vd[j * ld + off + c];
                }
            for (int64_t r = 0; pos && r < nr; r++) pb[r] = pos[r * heads + h];
            for (int64_t i0 = 0; i0 < nq; i0 += QB) {
                int nb = nq - i0 < QB ? (int)(nq - i0) : QB;
                for (int r = 0; r < QB; r++)
                    for (int c = 0; c < dk; c++) qb[r * Dp + c] = r < nb ? qd[(i0 + r) * ld + off + c] : 0.0f;
                /* scores: QB rows x VW keys accumulate in registers over the head dim */
                for (int64_t j0 = 0; j0 < Kp; j0 += VW) {
                    float a0[VW] = {0}, a1[VW] = {0}, a2[VW] = {0}, a3[VW] = {0};
                    for (int c = 0; c < dk; c++) {
                        const float *kc = kt + c * Kp + j0;
                        const float q0 = qb[c], q1 = qb[Dp + c], q2 = qb[2 * Dp + c], q3 = qb[3 * Dp + c];
                        for (int x = 0; x < VW; x++) {
                            a0[x] += q0 * kc[x];
                            a1[x] += q1 * kc[x];
                            a2[x] += q2 * kc[x];
                            a3[x] += q3 * kc[x];
                        }
                    }
                    for (int x = 0; x < VW; x++) {
                        s[j0 + x] = a0[x];
                        s[Kp + j0 + x] = a1[x];
                        s[2 * Kp + j0 + x] = a2[x];
                        s[3 * Kp + j0 + x] = a3[x];
                    }
                }
                for (int r = 0; r < nb; r++) {
                    float *sr = s + r * Kp, mx = -INFINITY, sum = 0.0f;
                    const float *pbr = pb + nq - 1 - (i0 + r);
                    for (int64_t j = 0; j < nk; j++) {
                        sr[j] = (scale * sr[j] + pbr[j]) + keys[j]; /* transformers' order of the two adds */
                        mx = sr[j] > mx ? sr[j] : mx;
                    }
                    for (int64_t j = 0; j < nk; j++) {
                        sr[j] = expf(sr[j] - mx);
                        sum += sr[j];
                    }
                    for (int64_t j = 0; j < nk; j++) sr[j] /= sum;
                }
                /* outputs: QB rows x VW columns accumulate in registers over the keys */
                for (int c0 = 0; c0 < Dp; c0 += VW) {
                    float a0[VW] = {0}, a1[VW] = {0}, a2[VW] = {0}, a3[VW] = {0};
                    for (int64_t j = 0; j < nk; j++) {
                        const float *vj = vp + j * Dp + c0;
                        const float p0 = s[j], p1 = s[Kp + j], p2 = s[2 * Kp + j], p3 = s[3 * Kp + j];
                        for (int x = 0; x < VW; x++) {
                            a0[x] += p0 * vj[x];
                            a1[x] += p1 * vj[x];
                            a2[x] += p2 * vj[x];
                            a3[x] += p3 * vj[x];
                        }
                    }
                    const float *acc[QB] = {a0, a1, a2, a3};
                    for (int r = 0; r < nb; r++)
                        for (int x = 0; x < VW && c0 + x < dk; x++) od[(i0 + r) * ld + off + c0 + x] = acc[r][x];
                }
            }
        }
        free(kt);
    }
    DG_CHECK(!fail, "%s:%d: out of memory", __FILE__, __LINE__);
    return DG_OK;
}
