// y[r, :] = table[rows[r], :] as f32: the host indices go to the backend
// scratch (stream-ordered, so a later user of the scratch runs after this
// kernel), then one grid-stride pass converts the rows.
#include "core/cuda/cuda_internal.h"

static __global__ void gather_rows_kernel(float *y, const void *table, int dtype, const int32_t *rows, int64_t n,
                                          int64_t C) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = dg_cuda_load(table, dtype, (int64_t)rows[i / C] * C + i % C);
}

extern "C" int dg_cuda_gather_rows(dg_backend *be, dg_tensor *y, const dg_tensor *table, const int32_t *rows) {
    const int64_t R = y->shape[0], C = y->shape[1], n = R * C;
    if (n == 0) return DG_OK;
    void *idx;
    DG_TRY(dg_cuda_scratch(be, (size_t)R * sizeof(int32_t), &idx));
    DG_CUDA_CHECK(cudaMemcpyAsync(idx, rows, (size_t)R * sizeof(int32_t), cudaMemcpyHostToDevice, dg_cuda_stream(be)));
    gather_rows_kernel<<<dg_cuda_blocks(n), 256, 0, dg_cuda_stream(be)>>>((float *)y->data, table->data,
                                                                           (int)table->dtype, (const int32_t *)idx, n, C);
    DG_CUDA_CHECK_LAUNCH("gather_rows_kernel");
    return DG_OK;
}
