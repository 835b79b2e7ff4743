// Per-frame single-head attention on channel-major qkv [3C, T, H, W], the CPU
// twin's scheme: per frame and block of query rows, S = scale q^T k (cuBLAS),
// a row softmax kernel, then o = v S^T (cuBLAS) written straight into the
// channel rows of out (leading dimension T*H*W). With ld = T*N, channel c of
// q at frame t is q + c*ld + t*N. Column-major views of the row-major data:
//   S[nq, N] row-major = S^T col-major: gemm(N, T, m=N, n=nq, k=C, A=k (lda ld), B=q (ldb ld), C=S (ldc N));
//   o[c, i] = sum_j v[c, j] S[i, j]:    gemm(T, N, m=nq, n=C, k=N, A=S (lda N), B=v (ldb ld), C=o (ldc ld)).
#include "core/cuda/cuda_internal.h"

#define SOFTMAX_THREADS 256
// Score block target: 256 MiB of scratch (a whole 60x104 latent frame fits).
#define ATTN_TARGET_FLOATS ((size_t)64 << 20)

// Reduce v over the block (max when is_max, else sum); every thread gets the result.
static __device__ float block_reduce(float v, float *shared, int is_max) {
    for (int o = 16; o > 0; o >>= 1) {
        const float u = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, u) : v + u;
    }
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads(); // shared may still be read from a previous call
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < SOFTMAX_THREADS / 32 ? shared[lane] : (is_max ? -INFINITY : 0.0f);
    for (int o = 16; o > 0; o >>= 1) {
        const float u = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, u) : v + u;
    }
    return v;
}

// One block per row of s[rows, N]: s = softmax(s).
static __global__ void softmax_rows_kernel(float *s, int64_t N) {
    __shared__ float shared[SOFTMAX_THREADS / 32];
    float *row = s + (int64_t)blockIdx.x * N;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < N; j += SOFTMAX_THREADS) m = fmaxf(m, row[j]);
    m = block_reduce(m, shared, 1);
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < N; j += SOFTMAX_THREADS) {
        const float e = expf(row[j] - m);
        row[j] = e;
        sum += e;
    }
    const float r = 1.0f / block_reduce(sum, shared, 0);
    for (int64_t j = threadIdx.x; j < N; j += SOFTMAX_THREADS) row[j] *= r;
}

extern "C" int dg_cuda_spatial_attention(dg_backend *be, dg_tensor *out, const dg_tensor *qkv) {
    dg_cuda_ctx *ctx = (dg_cuda_ctx *)be->ctx;
    const int64_t C = qkv->shape[0] / 3, T = qkv->shape[1], N = qkv->shape[2] * qkv->shape[3], ld = T * N;
    DG_CHECK(ld <= INT32_MAX && C <= INT32_MAX, "spatial_attention: %lld positions exceed cuBLAS int sizes",
             (long long)ld);
    if (N == 0 || C == 0) return DG_OK;
    int64_t qb = (int64_t)(ATTN_TARGET_FLOATS / (size_t)N);
    qb = qb < 1 ? 1 : qb > N ? N : qb;
    void *scratch;
    DG_TRY(dg_cuda_scratch(be, (size_t)(qb * N) * sizeof(float), &scratch));
    float *S = (float *)scratch;
    const float scale = 1.0f / sqrtf((float)C), one = 1.0f, zero = 0.0f;
    for (int64_t t = 0; t < T; t++) {
        const float *q = (const float *)qkv->data + t * N, *k = q + C * ld, *v = k + C * ld;
        float *o = (float *)out->data + t * N;
        for (int64_t q0 = 0; q0 < N; q0 += qb) {
            const int64_t nq = q0 + qb <= N ? qb : N - q0;
            DG_CUBLAS_CHECK(cublasSgemm(ctx->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)N, (int)nq, (int)C, &scale, k,
                                        (int)ld, q + q0, (int)ld, &zero, S, (int)N));
            softmax_rows_kernel<<<(unsigned)nq, SOFTMAX_THREADS, 0, ctx->stream>>>(S, N);
            DG_CUDA_CHECK_LAUNCH("softmax_rows_kernel");
            DG_CUBLAS_CHECK(cublasSgemm(ctx->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)nq, (int)C, (int)N, &one, S, (int)N,
                                        v, (int)ld, &zero, o + q0, (int)ld));
        }
    }
    return DG_OK;
}
