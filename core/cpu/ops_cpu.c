#include "core/cpu/ops_cpu.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu/exp2_poly.h"
#include "core/error.h"

/* Return an f32 pointer to t's data, converting bf16/f16 into the backend's
 * reusable scratch (weights stay in their checkpoint dtype in memory). */
static int weight_as_f32(dg_backend *be, const dg_tensor *t, const float **out) {
    if (t->dtype == DG_F32) {
        *out = t->data;
        return DG_OK;
    }
    dg_cpu_ctx *c = be->ctx;
    size_t n = (size_t)dg_tensor_numel(t);
    if (c->scratch_len < n) {
        float *p = realloc(c->scratch, n * sizeof(float));
        DG_CHECK(p != NULL, "out of memory converting weight %s to F32", t->name ? t->name : "");
        c->scratch = p;
        c->scratch_len = n;
    }
    dg_convert_to_f32(c->scratch, t->data, t->dtype, n);
    *out = c->scratch;
    return DG_OK;
}

/* Small vectors (bias, gamma) converted into a caller buffer when not f32. */
static const float *vec_as_f32(const dg_tensor *t, float *buf) {
    if (!t) return NULL;
    if (t->dtype == DG_F32) return t->data;
    dg_convert_to_f32(buf, t->data, t->dtype, (size_t)dg_tensor_numel(t));
    return buf;
}

static int vec_buffers(const dg_tensor *a, const dg_tensor *b, float **buf, int64_t n) {
    *buf = NULL;
    if ((a && a->dtype != DG_F32) || (b && b->dtype != DG_F32)) {
        *buf = malloc(2 * (size_t)n * sizeof(float));
        DG_CHECK_ALLOC(*buf);
    }
    return DG_OK;
}

int dg_cpu_linear(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *w, const dg_tensor *b) {
    int64_t M = dg_tensor_rows(x), K = w->shape[1], N = w->shape[0];
    dg_cpu_ctx *c = be->ctx;
    float *bbuf;
    DG_TRY(vec_buffers(b, NULL, &bbuf, N));
    const float *bf = vec_as_f32(b, bbuf);
    float *yd = y->data;
    if (w->dtype == DG_BF16 && c->compute == DG_BF16) {
        int rc = c->gemm ? DG_OK : dg_gemm_bf16_init(&c->gemm);
        if (rc == DG_OK) rc = dg_gemm_bf16(c->gemm, yd, x->data, w->data, bf, M, N, K, w->name ? w->name : "linear");
        free(bbuf);
        return rc;
    }
    const float *wf;
    if (weight_as_f32(be, w, &wf) != DG_OK) {
        free(bbuf);
        return DG_ERR;
    }
    if (bf) {
        #pragma omp parallel for
        for (int64_t i = 0; i < M; i++) memcpy(yd + i * N, bf, (size_t)N * sizeof(float));
    }
    if (M > 0 && N > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, x->data, (int)K, wf,
                    (int)K, bf ? 1.0f : 0.0f, yd, (int)N);
    free(bbuf);
    return DG_OK;
}

int dg_cpu_layernorm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma,
                     const dg_tensor *beta, float eps) {
    (void)be;
    int64_t rows = dg_tensor_rows(x), C = x->shape[x->ndim - 1];
    float *buf;
    DG_TRY(vec_buffers(gamma, beta, &buf, C));
    const float *g = vec_as_f32(gamma, buf), *bt = vec_as_f32(beta, buf ? buf + C : NULL);
    const float *xd = x->data;
    float *yd = y->data;
    #pragma omp parallel for
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xd + r * C;
        float *yr = yd + r * C;
        double s = 0.0, s2 = 0.0;
        for (int64_t c = 0; c < C; c++) s += xr[c];
        double mean = s / (double)C;
        for (int64_t c = 0; c < C; c++) {
            double d = xr[c] - mean;
            s2 += d * d;
        }
        float inv = (float)(1.0 / sqrt(s2 / (double)C + (double)eps));
        float m = (float)mean;
        for (int64_t c = 0; c < C; c++) {
            float v = (xr[c] - m) * inv;
            if (g) v *= g[c];
            if (bt) v += bt[c];
            yr[c] = v;
        }
    }
    free(buf);
    return DG_OK;
}

int dg_cpu_rmsnorm(dg_backend *be, dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, float eps) {
    (void)be;
    int64_t rows = dg_tensor_rows(x), C = x->shape[x->ndim - 1];
    float *buf;
    DG_TRY(vec_buffers(gamma, NULL, &buf, C));
    const float *g = vec_as_f32(gamma, buf);
    const float *xd = x->data;
    float *yd = y->data;
    #pragma omp parallel for
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xd + r * C;
        float *yr = yd + r * C;
        double s2 = 0.0;
        for (int64_t c = 0; c < C; c++) s2 += (double)xr[c] * xr[c];
        float inv = (float)(1.0 / sqrt(s2 / (double)C + (double)eps));
        for (int64_t c = 0; c < C; c++) yr[c] = g ? xr[c] * inv * g[c] : xr[c] * inv;
    }
    free(buf);
    return DG_OK;
}

/* gelu_tanh(x) = 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3): one exp2
 * per value (libm's tanhf was 11 % of a Wan step on a Zen 3). Far negative x gives x / 2^127, not NaN. */
#define GELU_K2 (float)(2.0 * 0.7978845608028654 * LOG2E) /* 2 sqrt(2/pi) log2(e) */
#define GELU_C 0.044715f
#define GELU_CHUNK 4096 /* values per work item */

static void gelu_range(float *y, const float *x, int64_t n) {
    int64_t i = 0;
#ifdef __AVX512F__
    const __m512 one = _mm512_set1_ps(1.0f), c = _mm512_set1_ps(GELU_C), nk2 = _mm512_set1_ps(-GELU_K2);
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i), v3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
        const __m512 e = exp2_v(_mm512_mul_ps(nk2, _mm512_fmadd_ps(c, v3, v)));
        _mm512_storeu_ps(y + i, _mm512_div_ps(v, _mm512_add_ps(one, e)));
    }
#elif defined(__AVX2__) && defined(__FMA__)
    const __m256 one = _mm256_set1_ps(1.0f), c = _mm256_set1_ps(GELU_C), nk2 = _mm256_set1_ps(-GELU_K2);
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i), v3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
        const __m256 e = exp2_v(_mm256_mul_ps(nk2, _mm256_fmadd_ps(c, v3, v)));
        _mm256_storeu_ps(y + i, _mm256_div_ps(v, _mm256_add_ps(one, e)));
    }
#endif
    for (; i < n; i++) y[i] = x[i] / (1.0f + exp2_s(-GELU_K2 * (x[i] + GELU_C * x[i] * x[i] * x[i])));
}

int dg_cpu_gelu_tanh(dg_backend *be, dg_tensor *y, const dg_tensor *x) {
    (void)be;
    const int64_t n = dg_tensor_numel(x);
    const float *xd = x->data;
    float *yd = y->data;
    #pragma omp parallel for schedule(static) if (n > GELU_CHUNK)
    for (int64_t i0 = 0; i0 < n; i0 += GELU_CHUNK)
        gelu_range(yd + i0, xd + i0, n - i0 < GELU_CHUNK ? n - i0 : GELU_CHUNK);
    return DG_OK;
}

int dg_cpu_silu(dg_backend *be, dg_tensor *y, const dg_tensor *x) {
    (void)be;
    int64_t n = dg_tensor_numel(x);
    const float *xd = x->data;
    float *yd = y->data;
    #pragma omp parallel for simd
    for (int64_t i = 0; i < n; i++) yd[i] = xd[i] / (1.0f + expf(-xd[i]));
    return DG_OK;
}

int dg_cpu_add(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b) {
    (void)be;
    int64_t n = dg_tensor_numel(y);
    const float *ad = a->data, *bd = b->data;
    float *yd = y->data;
    #pragma omp parallel for simd if (n > 65536)
    for (int64_t i = 0; i < n; i++) yd[i] = ad[i] + bd[i];
    return DG_OK;
}

int dg_cpu_sub(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b) {
    (void)be;
    int64_t n = dg_tensor_numel(y);
    const float *ad = a->data, *bd = b->data;
    float *yd = y->data;
    #pragma omp parallel for simd if (n > 65536)
    for (int64_t i = 0; i < n; i++) yd[i] = ad[i] - bd[i];
    return DG_OK;
}

/* Elements per chunk of dg_cpu_abs_diff_sums (and of the CUDA kernel's blocks' share). */
#define ABS_DIFF_CHUNK 16384

int dg_cpu_abs_diff_sums(dg_backend *be, const dg_tensor *a, const dg_tensor *b, double sums[2]) {
    (void)be;
    const int64_t n = dg_tensor_numel(a), chunks = (n + ABS_DIFF_CHUNK - 1) / ABS_DIFF_CHUNK;
    const float *ad = a->data, *bd = b->data;
    double *part = malloc((size_t)(2 * chunks + 1) * sizeof(double));
    DG_CHECK_ALLOC(part);
    #pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t end = (c + 1) * ABS_DIFF_CHUNK < n ? (c + 1) * ABS_DIFF_CHUNK : n;
        float d = 0.0f, m = 0.0f; /* a chunk's sums are small enough for float */
        for (int64_t i = c * ABS_DIFF_CHUNK; i < end; i++) {
            d += fabsf(ad[i] - bd[i]);
            m += fabsf(bd[i]);
        }
        part[2 * c] = d, part[2 * c + 1] = m;
    }
    sums[0] = sums[1] = 0.0;
    for (int64_t c = 0; c < chunks; c++) sums[0] += part[2 * c], sums[1] += part[2 * c + 1];
    free(part);
    return DG_OK;
}

int dg_cpu_modulate(dg_backend *be, dg_tensor *y, const dg_tensor *x, const float *shift, const float *scale) {
    (void)be;
    int64_t rows = dg_tensor_rows(x), C = x->shape[x->ndim - 1];
    const float *xd = x->data;
    float *yd = y->data;
    #pragma omp parallel for
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < C; c++) yd[r * C + c] = xd[r * C + c] * (1.0f + scale[c]) + shift[c];
    return DG_OK;
}

int dg_cpu_gated_add(dg_backend *be, dg_tensor *h, const dg_tensor *x, const float *gate) {
    (void)be;
    int64_t rows = dg_tensor_rows(x), C = x->shape[x->ndim - 1];
    const float *xd = x->data;
    float *hd = h->data;
    #pragma omp parallel for
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < C; c++) hd[r * C + c] += gate ? xd[r * C + c] * gate[c] : xd[r * C + c];
    return DG_OK;
}

int dg_cpu_rope(dg_backend *be, dg_tensor *x, const dg_tensor *cos, const dg_tensor *sin) {
    (void)be;
    int64_t N = x->shape[0], H = x->shape[1], d = x->shape[2];
    float *xd = x->data;
    const float *cd = cos->data, *sd = sin->data;
    #pragma omp parallel for
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < H; h++) {
            float *v = xd + (n * H + h) * d;
            const float *c = cd + n * d, *s = sd + n * d;
            for (int64_t j = 0; j < d; j += 2) {
                float a = v[j], b = v[j + 1];
                /* diffusers Wan: out[2j] = a*cos - b*sin ; out[2j+1] = a*sin + b*cos */
                v[j] = a * c[j] - b * s[j];
                v[j + 1] = a * s[j + 1] + b * c[j + 1];
            }
        }
    return DG_OK;
}

/* Shared index walk for patchify/unpatchify: to_tokens selects the direction. */
static void patch_copy(float *tok, float *vol, const dg_tensor *v, const int p[3], int to_tokens, int c_fastest) {
    int64_t C = v->shape[0], F = v->shape[1], H = v->shape[2], W = v->shape[3];
    int64_t Fp = F / p[0], Hp = H / p[1], Wp = W / p[2];
    int64_t K = C * p[0] * p[1] * p[2];
    #pragma omp parallel for collapse(2)
    for (int64_t f = 0; f < Fp; f++)
        for (int64_t i = 0; i < Hp; i++)
            for (int64_t j = 0; j < Wp; j++) {
                float *row = tok + ((f * Hp + i) * Wp + j) * K;
                for (int64_t c = 0; c < C; c++)
                    for (int pt = 0; pt < p[0]; pt++)
                        for (int ph = 0; ph < p[1]; ph++)
                            for (int pw = 0; pw < p[2]; pw++) {
                                int64_t sub = (pt * p[1] + ph) * p[2] + pw;
                                int64_t k = c_fastest ? sub * C + c : c * (K / C) + sub;
                                float *e = vol + ((c * F + f * p[0] + pt) * H + i * p[1] + ph) * W + j * p[2] + pw;
                                if (to_tokens) row[k] = *e;
                                else *e = row[k];
                            }
            }
}

int dg_cpu_patchify(dg_backend *be, dg_tensor *y, const dg_tensor *x, const int patch[3]) {
    (void)be;
    patch_copy(y->data, x->data, x, patch, 1, 0);
    return DG_OK;
}

int dg_cpu_unpatchify(dg_backend *be, dg_tensor *x, const dg_tensor *y, const int patch[3]) {
    (void)be;
    patch_copy(y->data, x->data, x, patch, 0, 1);
    return DG_OK;
}

/* ---- text-encoder ops ---- */

int dg_cpu_mul(dg_backend *be, dg_tensor *y, const dg_tensor *a, const dg_tensor *b) {
    (void)be;
    int64_t n = dg_tensor_numel(y);
    const float *ad = a->data, *bd = b->data;
    float *yd = y->data;
    #pragma omp parallel for simd if (n > 65536)
    for (int64_t i = 0; i < n; i++) yd[i] = ad[i] * bd[i];
    return DG_OK;
}

int dg_cpu_relu(dg_backend *be, dg_tensor *y, const dg_tensor *x) {
    (void)be;
    int64_t n = dg_tensor_numel(y);
    const float *xd = x->data;
    float *yd = y->data;
    #pragma omp parallel for simd if (n > 65536)
    for (int64_t i = 0; i < n; i++) yd[i] = xd[i] > 0.0f ? xd[i] : 0.0f;
    return DG_OK;
}

int dg_cpu_gather_rows(dg_backend *be, dg_tensor *y, const dg_tensor *table, const int32_t *rows) {
    (void)be;
    const size_t C = (size_t)y->shape[1], row_bytes = C * dg_dtype_size(table->dtype);
    for (int64_t r = 0; r < y->shape[0]; r++)
        dg_convert_to_f32((float *)y->data + r * C, (const char *)table->data + (size_t)rows[r] * row_bytes,
                          table->dtype, C);
    return DG_OK;
}
