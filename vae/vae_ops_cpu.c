/* Channel-wise L2 ("RMS") norm with optional SiLU, and the per-frame
 * single-head attention of the Wan VAE mid block, on [C, T, H, W] data. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/cpu/exp2_poly.h"
#include "core/error.h"
#include "vae/vae_cpu.h"

/* y = y * sigmoid(y) over n floats, sigmoid through exp2 (libm's expf was
 * most of a norm's time). */
static void silu_inplace(float *y, int64_t n) {
    int64_t i = 0;
#ifdef __AVX512F__
    const __m512 one = _mm512_set1_ps(1.0f), nl2e = _mm512_set1_ps((float)-LOG2E);
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(y + i);
        _mm512_storeu_ps(y + i, _mm512_div_ps(v, _mm512_add_ps(one, exp2_v(_mm512_mul_ps(v, nl2e)))));
    }
#endif
    for (; i < n; i++) y[i] = y[i] / (1.0f + exp2_s(y[i] * (float)-LOG2E));
}

/* Positions per work item: the sums of squares stay in a small local array
 * while each channel row is streamed. */
#define NORM_BLOCK 256

int dg_vae_rmsnorm_cpu(dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, int silu) {
    DG_CHECK(x->dtype == DG_F32 && y->dtype == DG_F32 && gamma->dtype == DG_F32, "VAE norm: tensors must be F32");
    DG_CHECK(x->ndim >= 1 && dg_tensor_same_shape(x, y), "VAE norm '%s': output shape differs from input",
             gamma->name ? gamma->name : "");
    const int64_t C = x->shape[0], P = C ? dg_tensor_numel(x) / C : 0;
    DG_CHECK(dg_tensor_numel(gamma) == C, "VAE norm '%s': gamma has %lld elements, input has %lld channels",
             gamma->name ? gamma->name : "", (long long)dg_tensor_numel(gamma), (long long)C);
    const float *xd = x->data, *g = gamma->data;
    float *yd = y->data;
    const float scale = sqrtf((float)C);
    #pragma omp parallel for schedule(static) if (C * P > DG_VAE_PAR_MIN)
    for (int64_t p0 = 0; p0 < P; p0 += NORM_BLOCK) {
        const int64_t n = P - p0 < NORM_BLOCK ? P - p0 : NORM_BLOCK;
        double ss[NORM_BLOCK] = {0};
        float inv[NORM_BLOCK];
        for (int64_t c = 0; c < C; c++) {
            const float *xr = xd + c * P + p0;
            for (int64_t i = 0; i < n; i++) ss[i] += (double)xr[i] * xr[i];
        }
        /* F.normalize: x / max(||x||, 1e-12) */
        for (int64_t i = 0; i < n; i++) {
            float norm = (float)sqrt(ss[i]);
            inv[i] = 1.0f / (norm > 1e-12f ? norm : 1e-12f);
        }
        for (int64_t c = 0; c < C; c++) {
            const float *xr = xd + c * P + p0;
            float *yr = yd + c * P + p0, gc = g[c];
            for (int64_t i = 0; i < n; i++) yr[i] = xr[i] * inv[i] * scale * gc;
            if (silu) silu_inplace(yr, n);
        }
    }
    return DG_OK;
}

/* Query rows per block: bounds the score matrix to ~16 MiB. */
#define ATTN_TARGET_FLOATS ((size_t)4 << 20)

int dg_vae_attention_cpu(dg_tensor *out, const dg_tensor *qkv, dg_vae_scratch *ws) {
    DG_CHECK(qkv->dtype == DG_F32 && out->dtype == DG_F32, "VAE attention: tensors must be F32");
    DG_CHECK(qkv->ndim == 4 && qkv->shape[0] % 3 == 0, "VAE attention: qkv must be [3C, T, H, W]");
    const int64_t C = qkv->shape[0] / 3, T = qkv->shape[1], N = qkv->shape[2] * qkv->shape[3], ld = T * N;
    int64_t os[4] = {C, T, qkv->shape[2], qkv->shape[3]};
    DG_TRY(dg_tensor_expect_shape(out, "VAE attention output", 4, os));
    if (N == 0 || C == 0) return DG_OK;
    int64_t qb = (int64_t)(ATTN_TARGET_FLOATS / (size_t)N);
    if (qb < 1) qb = 1;
    if (qb > N) qb = N;
    DG_TRY(dg_vae_scratch_reserve(ws, (size_t)(qb * N)));
    float *S = ws->p;
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
            #pragma omp parallel for schedule(static) if (nq * N > DG_VAE_PAR_MIN)
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
