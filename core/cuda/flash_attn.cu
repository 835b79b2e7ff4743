// Flash-attention forward on tensor cores (FlashAttention-2 schedule), dense
// and block-sparse from one kernel.
//
// CTA: 4 warps, 64 query rows of one head (warp w owns rows 16w..16w+15).
// Q is staged through shared memory into mma A-fragments once. Keys are
// visited in tiles of 64: the tile's K rows (bf16, [key][dim]) and V rows
// (bf16, transposed to [dim][key]) are converted from f32 straight into
// shared memory, then each warp computes
//   S[16 x 64] = Q K^T            (mma m16n8k16: A = Q rows, B = K rows)
//   online softmax on S in registers (exp2; q carries scale*log2 e)
//   O[16 x D] = O * alpha + P V   (A = P from S's accumulators, B = V^T rows)
// The S accumulator layout of m16n8 tiles 2kk and 2kk+1 is exactly the A
// fragment of k-step kk, so P never leaves registers.
//
// Fragment layouts (PTX ISA, mma.m16n8k16 .bf16), g = lane/4, t = lane%4:
//   A (16x16, row): a0 = (g, 2t..2t+1)  a1 = (g+8, 2t..)  a2 = (g, 2t+8..)  a3 = (g+8, 2t+8..)
//   B (16x8, col):  b0 = (k 2t..2t+1, n g)  b1 = (k 2t+8..2t+9, n g)
//   C (16x8 f32):   c0,c1 = (g, 2t..2t+1)  c2,c3 = (g+8, 2t..2t+1)
// (the lower 16 bits of each 32-bit register hold the lower column/k index).
//
// The key loop walks "ranges": dense = one range [0, nk); sparse = the key
// blocks listed for this CTA's query block, each with an optional bit mask.
// Keys past a range's end, and masked pairs, score -inf; a row that never sees
// a key keeps l = 0 and is written as zeros (log-sum-exp -inf).
//
// Everything runs on the backend's stream. A sparse call reads the layout's
// device copy, made once when a plan is prepared for a size
// (dg_block_layout_upload), never per call.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "core/cuda/cuda_internal.h"

#define BQ 64       // query rows per CTA
#define BKT 64      // keys per tile
#define THREADS 128 // 4 warps x 16 rows

// Device copy of the block layout (all NULL for dense attention): the layout
// of a dg_block_layout's device_copy, whose first bytes are this struct.
struct sparse_args {
    const int32_t *perm;        // permuted position -> original token; NULL = identity
    const int64_t *row_start;   // [n_qblocks + 1]; NULL = dense
    const int32_t *kblock;      // key block per entry
    const int64_t *mask_offset; // per entry, -1 = full block
    const uint64_t *masks;
    int block_q, block_k;
};

static __device__ __forceinline__ uint32_t ld32(const __nv_bfloat16 *p) { return *(const uint32_t *)p; }

static __device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi); // .x (low 16 bits) = lo
    return *(uint32_t *)&v;
}

static __device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Rows [r0, r0 + 64) of positions (< valid; perm-mapped), columns [0, hd),
// as bf16 * mul into dst[row][dim] (row pitch D + 8); missing rows and the
// columns hd..D-1 are zero. With dstT, the transpose goes to dstT[dim][row]
// (pitch BKT + 8) instead.
template <int D>
static __device__ void load_tile(__nv_bfloat16 (*dst)[D + 8], __nv_bfloat16 (*dstT)[BKT + 8], const float *src,
                                 int64_t r0, int64_t valid, int64_t stride, int64_t off, int hd,
                                 const int32_t *perm, float mul) {
    for (int idx = threadIdx.x; idx < 64 * (D / 4); idx += THREADS) {
        const int row = idx / (D / 4), c = (idx % (D / 4)) * 4;
        float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        const int64_t pos = r0 + row;
        if (pos < valid && c < hd) { // hd % 4 == 0: a float4 is all in or all out
            const int64_t tok = perm ? perm[pos] : pos;
            x = *(const float4 *)(src + tok * stride + off + c);
        }
        if (dstT) {
            dstT[c + 0][row] = __float2bfloat16_rn(x.x);
            dstT[c + 1][row] = __float2bfloat16_rn(x.y);
            dstT[c + 2][row] = __float2bfloat16_rn(x.z);
            dstT[c + 3][row] = __float2bfloat16_rn(x.w);
        } else {
            *(__nv_bfloat162 *)&dst[row][c] = __floats2bfloat162_rn(x.x * mul, x.y * mul);
            *(__nv_bfloat162 *)&dst[row][c + 2] = __floats2bfloat162_rn(x.z * mul, x.w * mul);
        }
    }
}

template <int D>
static __global__ void __launch_bounds__(THREADS)
    flash_kernel(float *o, const float *q, const float *k, const float *v, int64_t nq, int64_t nk, int64_t q_stride,
                 int64_t kv_stride, int hd, float qscale, sparse_args sp, float *lse, int64_t lse_stride) {
    __shared__ __align__(16) __nv_bfloat16 ks[BKT][D + 8]; // K tile; first stages Q
    __shared__ __align__(16) __nv_bfloat16 vt[D][BKT + 8]; // V tile, transposed
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int64_t q0 = (int64_t)blockIdx.x * BQ, off = (int64_t)blockIdx.y * hd;

    load_tile<D>(ks, NULL, q, q0, nq, q_stride, off, hd, sp.perm, qscale);
    __syncthreads();
    uint32_t qa[D / 16][4];
    for (int kk = 0; kk < D / 16; kk++) {
        const __nv_bfloat16 *r0 = &ks[warp * 16 + g][kk * 16 + 2 * t], *r1 = &ks[warp * 16 + g + 8][kk * 16 + 2 * t];
        qa[kk][0] = ld32(r0);
        qa[kk][1] = ld32(r1);
        qa[kk][2] = ld32(r0 + 8);
        qa[kk][3] = ld32(r1 + 8);
    }

    float oacc[D / 8][4];
    for (int n = 0; n < D / 8; n++) oacc[n][0] = oacc[n][1] = oacc[n][2] = oacc[n][3] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}; // rows g and g + 8 (l: this thread's columns)

    int64_t e0 = 0, e1 = 1;
    int wq = 0, w = 0; // mask words per key, and this CTA's word
    if (sp.row_start) {
        const int64_t qb = q0 / sp.block_q;
        e0 = sp.row_start[qb], e1 = sp.row_start[qb + 1];
        wq = sp.block_q / 64, w = (int)((q0 % sp.block_q) / 64);
    }
    for (int64_t e = e0; e < e1; e++) {
        int64_t lo = 0, hi = nk;
        const uint64_t *mask = NULL;
        if (sp.row_start) {
            lo = (int64_t)sp.kblock[e] * sp.block_k;
            hi = lo + sp.block_k < nk ? lo + sp.block_k : nk;
            if (sp.mask_offset[e] >= 0) mask = sp.masks + sp.mask_offset[e];
        }
        for (int64_t k0 = lo; k0 < hi; k0 += BKT) {
            const int nv = hi - k0 < BKT ? (int)(hi - k0) : BKT;
            __syncthreads(); // everyone is done with the previous tile (or the staged Q)
            load_tile<D>(ks, NULL, k, k0, k0 + nv, kv_stride, off, hd, sp.perm, 1.0f);
            load_tile<D>(NULL, vt, v, k0, k0 + nv, kv_stride, off, hd, sp.perm, 1.0f);
            __syncthreads();

            float s[BKT / 8][4];
            for (int j = 0; j < BKT / 8; j++) {
                s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
                for (int kk = 0; kk < D / 16; kk++) {
                    const __nv_bfloat16 *kr = &ks[8 * j + g][kk * 16 + 2 * t];
                    mma_bf16(s[j], qa[kk], ld32(kr), ld32(kr + 8));
                }
            }
            for (int j = 0; j < BKT / 8; j++)
                for (int i = 0; i < 4; i++) {
                    const int key = 8 * j + 2 * t + (i & 1), row = warp * 16 + g + 8 * (i >> 1);
                    bool ok = key < nv;
                    if (ok && mask) ok = (mask[(k0 - lo + key) * wq + w] >> row) & 1u;
                    if (!ok) s[j][i] = -INFINITY;
                }

            for (int r = 0; r < 2; r++) {
                float mx = -INFINITY;
                for (int j = 0; j < BKT / 8; j++) mx = fmaxf(mx, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float mnew = fmaxf(m[r], mx);
                const float mu = mnew == -INFINITY ? 0.0f : mnew; // row fully masked so far: keep exp2 finite
                const float alpha = exp2f(m[r] - mu);
                m[r] = mnew;
                l[r] *= alpha;
                for (int n = 0; n < D / 8; n++) oacc[n][2 * r] *= alpha, oacc[n][2 * r + 1] *= alpha;
                for (int j = 0; j < BKT / 8; j++)
                    for (int c = 0; c < 2; c++) {
                        const float p = exp2f(s[j][2 * r + c] - mu);
                        s[j][2 * r + c] = p;
                        l[r] += p;
                    }
            }

            for (int kk = 0; kk < BKT / 16; kk++) {
                const uint32_t pa[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                                        pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                        pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
                for (int n = 0; n < D / 8; n++) {
                    const __nv_bfloat16 *vr = &vt[8 * n + g][kk * 16 + 2 * t];
                    mma_bf16(oacc[n], pa, ld32(vr), ld32(vr + 8));
                }
            }
        }
    }

    for (int r = 0; r < 2; r++) {
        float sum = l[r];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
        const int64_t pos = q0 + warp * 16 + g + 8 * r;
        if (pos >= nq) continue;
        const int64_t tok = sp.perm ? (int64_t)sp.perm[pos] : pos;
        if (lse && t == 0) // m[r] is the row's maximum on all 4 lanes of the row (log2 units)
            lse[tok * lse_stride + blockIdx.y] = sum > 0.0f ? (m[r] + log2f(sum)) * 0.6931471805599453f : -INFINITY;
        float *orow = o + tok * q_stride + off;
        for (int n = 0; n < D / 8; n++)
            if (8 * n + 2 * t < hd) // hd even: both columns in or both out
                *(float2 *)(orow + 8 * n + 2 * t) = make_float2(oacc[n][2 * r] * inv, oacc[n][2 * r + 1] * inv);
    }
}

// What the kernel needs beyond the shape checks of dg_attention (core/ops.c).
static int check_args(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s) {
    DG_CHECK(s->head_dim % 4 == 0 && s->head_dim <= 128,
             "attention (cuda): head_dim must be a multiple of 4 up to 128 (got %d)", s->head_dim);
    DG_CHECK(s->q_stride % 4 == 0 && s->kv_stride % 4 == 0,
             "attention (cuda): strides %lld, %lld must be multiples of 4 floats", (long long)s->q_stride,
             (long long)s->kv_stride);
    DG_CHECK(((uintptr_t)o | (uintptr_t)q | (uintptr_t)k | (uintptr_t)v) % 16 == 0,
             "attention (cuda): q, k, v and o must be 16-byte aligned");
    DG_CHECK(s->heads <= 65535, "attention (cuda): %d heads exceed the grid", s->heads);
    return DG_OK;
}

static int launch(cudaStream_t st, float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                  const sparse_args &sp, float *lse, int64_t lse_stride) {
    const dim3 grid((unsigned)((s->nq + BQ - 1) / BQ), (unsigned)s->heads);
    const float qscale = (float)((double)s->scale * 1.4426950408889634); // log2(e): softmax via exp2
    const int hd = s->head_dim;
    if (hd <= 64) { // smaller head dims run zero-padded
        flash_kernel<64><<<grid, THREADS, 0, st>>>(o, q, k, v, s->nq, s->nk, s->q_stride, s->kv_stride, hd, qscale, sp,
                                                   lse, lse_stride);
        DG_CUDA_CHECK_LAUNCH("flash_kernel<64>");
    } else {
        flash_kernel<128><<<grid, THREADS, 0, st>>>(o, q, k, v, s->nq, s->nk, s->q_stride, s->kv_stride, hd, qscale,
                                                    sp, lse, lse_stride);
        DG_CUDA_CHECK_LAUNCH("flash_kernel<128>");
    }
    return DG_OK;
}

static size_t pad8(size_t b) { return (b + 7) & ~(size_t)7; }

// A layout's device copy: one device allocation holding row_start, mask_offset, masks (8-byte
// arrays), kblock and perm, and the kernel arguments pointing into it (kept on the host).
struct cuda_layout {
    sparse_args args;
    char *dev;
};

extern "C" int dg_cuda_layout_upload(dg_backend *be, const dg_block_layout *l, void **copy) {
    *copy = NULL;
    DG_CHECK(l->block_q % 64 == 0 && l->block_q >= 64 && l->block_q <= 256 && l->block_k >= 1 && l->block_k <= 128,
             "attention (cuda): block layout with block_q %d, block_k %d", l->block_q, l->block_k);
    const int64_t entries = l->row_start[l->n_qblocks];
    int64_t words = 0; // masks end after the last partial block's words
    for (int64_t e = 0; e < entries; e++)
        if (l->mask_offset[e] >= 0 && l->mask_offset[e] + (int64_t)l->block_k * (l->block_q / 64) > words)
            words = l->mask_offset[e] + (int64_t)l->block_k * (l->block_q / 64);
    const size_t b_rows = (size_t)(l->n_qblocks + 1) * 8, b_moff = (size_t)entries * 8, b_masks = (size_t)words * 8,
                 b_kb = pad8((size_t)entries * 4), b_perm = l->perm ? (size_t)l->n * 4 : 0;
    const size_t total = b_rows + b_moff + b_masks + b_kb + b_perm;
    cuda_layout *cl = (cuda_layout *)calloc(1, sizeof *cl);
    char *host = (char *)malloc(total);
    if (!cl || !host) {
        free(cl), free(host);
        return dg_error("attention (cuda): out of memory staging a block layout (%zu bytes)", total);
    }
    if (cudaMalloc((void **)&cl->dev, total) != cudaSuccess) {
        cudaGetLastError();
        free(cl), free(host);
        return dg_error("attention (cuda): out of device memory for a block layout (%zu bytes)", total);
    }
    char *d = cl->dev;
    size_t at = 0;
    cl->args.row_start = (const int64_t *)(d + at);
    memcpy(host + at, l->row_start, b_rows), at += b_rows;
    cl->args.mask_offset = (const int64_t *)(d + at);
    memcpy(host + at, l->mask_offset, b_moff), at += b_moff;
    cl->args.masks = (const uint64_t *)(d + at);
    memcpy(host + at, l->masks, b_masks), at += b_masks;
    cl->args.kblock = (const int32_t *)(d + at);
    memcpy(host + at, l->kblock, (size_t)entries * 4), at += b_kb;
    cl->args.perm = l->perm ? (const int32_t *)(d + at) : NULL;
    if (l->perm) memcpy(host + at, l->perm, b_perm);
    cl->args.block_q = l->block_q;
    cl->args.block_k = l->block_k;
    // Synchronous: the staging buffer is freed on return; this runs once per prepared size.
    cudaError_t err = cudaMemcpyAsync(d, host, total, cudaMemcpyHostToDevice, dg_cuda_stream(be));
    if (err == cudaSuccess) err = cudaStreamSynchronize(dg_cuda_stream(be));
    free(host);
    if (err != cudaSuccess) {
        cudaFree(cl->dev);
        free(cl);
        return dg_error("%s:%d: copying a block layout to the device failed: %s", __FILE__, __LINE__,
                        cudaGetErrorString(err));
    }
    *copy = cl;
    return DG_OK;
}

extern "C" void dg_cuda_layout_release(dg_backend *be, void *copy) {
    cuda_layout *cl = (cuda_layout *)copy;
    cudaStreamSynchronize(dg_cuda_stream(be)); // kernels still queued may read it
    cudaFree(cl->dev);
    free(cl);
}

extern "C" int dg_cuda_attention(dg_backend *be, dg_tensor *o, const dg_tensor *q, const dg_tensor *k,
                                 const dg_tensor *v, int heads, const dg_attn_opts *opts) {
    const dg_attn_raw r = dg_attn_raw_of(o, q, k, v, heads, opts);
    DG_TRY(check_args(r.o, r.q, r.k, r.v, &r.s));
    sparse_args sp = {};
    if (opts->layout) sp = ((const cuda_layout *)opts->layout->device_copy)->args;
    DG_TRY(launch(dg_cuda_stream(be), r.o, r.q, r.k, r.v, &r.s, sp, r.lse, heads));
    if (!opts->perturb) return DG_OK;
    return dg_cuda_perturb_heads(be, r.o, r.v + opts->query_offset * r.s.kv_stride, &r.s, opts->perturb + r.head_begin);
}
