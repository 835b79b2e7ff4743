/* Per-frame single-head softmax attention over the H*W positions (the Wan
 * VAE mid block), on channel-major qkv: no transposes, the GEMMs read the
 * channel rows with a leading dimension of T*H*W. Query rows go in blocks
 * so the score matrix stays small. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>

#include "core/cpu/video_cpu.h"
#include "core/error.h"

/* Query rows per block: bounds the score matrix to ~16 MiB. */
#define ATTN_TARGET_FLOATS ((size_t)4 << 20)

int dg_cpu_spatial_attention(dg_backend *be, dg_tensor *out, const dg_tensor *qkv) {
    const int64_t C = qkv->shape[0] / 3, T = qkv->shape[1], N = qkv->shape[2] * qkv->shape[3], ld = T * N;
    if (N == 0 || C == 0) return DG_OK;
    int64_t qb = (int64_t)(ATTN_TARGET_FLOATS / (size_t)N);
    if (qb < 1) qb = 1;
    if (qb > N) qb = N;
    float *S;
    DG_TRY(dg_cpu_work(be, (size_t)(qb * N), &S));
    const float scale = 1.0f / sqrtf((float)C);
    for (int64_t t = 0; t < T; t++) {
        /* channel c of q/k/v at frame t starts at (c*T + t)*N; rows are ld apart */
        const float *q = (const float *)qkv->data + t * N, *k = q + C * ld, *v = k + C * ld;
        float *o = (float *)out->data + t * N;
        for (int64_t q0 = 0; q0 < N; q0 += qb) {
            const int64_t nq = q0 + qb <= N ? qb : N - q0;
            /* S[i, j] = scale * sum_c q[c, q0+i] k[c, j] */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nq, (int)N, (int)C, scale, q + q0, (int)ld, k,
                        (int)ld, 0.0f, S, (int)N);
            #pragma omp parallel for schedule(static) if (nq * N > DG_CPU_PAR_MIN)
            for (int64_t i = 0; i < nq; i++) {
                float *s = S + i * N, m = s[0];
                for (int64_t j = 1; j < N; j++) m = s[j] > m ? s[j] : m;
                double sum = 0.0;
                for (int64_t j = 0; j < N; j++) sum += (s[j] = expf(s[j] - m));
                const float r = (float)(1.0 / sum);
                for (int64_t j = 0; j < N; j++) s[j] *= r;
            }
            /* o[c, q0+i] = sum_j v[c, j] S[i, j] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)C, (int)nq, (int)N, 1.0f, v, (int)ld, S, (int)N,
                        0.0f, o + q0, (int)ld);
        }
    }
    return DG_OK;
}
