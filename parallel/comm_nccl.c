/* The NCCL communicator: device buffers on a CUDA backend's stream, one GPU
 * per rank, the NCCL unique id broadcast over MPI. NCCL has no all-gather of
 * unequal parts, so one broadcast per rank runs inside a group. */
#include <stdlib.h>

#include "core/error.h"
#include "parallel/comm.h"
#include "parallel/comm_host.h"

#ifdef DG_HAVE_NCCL
#include <mpi.h>
#include <nccl.h>

#include "core/cuda/cuda_internal.h"

typedef struct {
    ncclComm_t nccl;
    cudaStream_t stream;
} nccl_ctx;

#define DG_NCCL_CHECK(call)                                                                            \
    do {                                                                                               \
        ncclResult_t r_ = (call);                                                                      \
        if (r_ != ncclSuccess) return dg_error("NCCL: %s failed: %s", #call, ncclGetErrorString(r_)); \
    } while (0)

/* NCCL calls are enqueued on the stream: a request has nothing to wait for on the host. */
static void no_request(dg_comm_req *req) {
    if (req) req->n = 0, req->counts = req->displs = NULL;
}

static int nccl_allgather(dg_comm *c, float *buf, const int64_t *counts, dg_comm_req *req) {
    nccl_ctx *n = c->ctx;
    no_request(req);
    int64_t at = 0;
    DG_NCCL_CHECK(ncclGroupStart());
    for (int r = 0; r < c->size; r++) {
        ncclResult_t rc = ncclBroadcast(buf + at, buf + at, (size_t)counts[r], ncclFloat, r, n->nccl, n->stream);
        if (rc != ncclSuccess) {
            ncclGroupEnd();
            return dg_error("NCCL: ncclBroadcast of rank %d's part failed: %s", r, ncclGetErrorString(rc));
        }
        at += counts[r];
    }
    DG_NCCL_CHECK(ncclGroupEnd());
    return DG_OK;
}

static int nccl_exchange(dg_comm *c, const float *to_prev, const float *to_next, float *from_prev, float *from_next,
                         int64_t n, dg_comm_req *req) {
    nccl_ctx *x = c->ctx;
    no_request(req);
    /* one group: the bidirectional swaps cannot deadlock */
    DG_NCCL_CHECK(ncclGroupStart());
    ncclResult_t rc = ncclSuccess;
    if (c->rank > 0) {
        if (rc == ncclSuccess) rc = ncclSend(to_prev, (size_t)n, ncclFloat, c->rank - 1, x->nccl, x->stream);
        if (rc == ncclSuccess) rc = ncclRecv(from_prev, (size_t)n, ncclFloat, c->rank - 1, x->nccl, x->stream);
    }
    if (c->rank + 1 < c->size) {
        if (rc == ncclSuccess) rc = ncclSend(to_next, (size_t)n, ncclFloat, c->rank + 1, x->nccl, x->stream);
        if (rc == ncclSuccess) rc = ncclRecv(from_next, (size_t)n, ncclFloat, c->rank + 1, x->nccl, x->stream);
    }
    const ncclResult_t end = ncclGroupEnd();
    if (rc != ncclSuccess || end != ncclSuccess)
        return dg_error("NCCL: halo exchange failed: %s", ncclGetErrorString(rc != ncclSuccess ? rc : end));
    return DG_OK;
}

static int nccl_alltoall(dg_comm *c, const float *send, const int64_t *send_counts, float *recv,
                         const int64_t *recv_counts) {
    nccl_ctx *x = c->ctx;
    /* one group of point-to-point calls: NCCL's all-to-all idiom, and it takes unequal parts */
    DG_NCCL_CHECK(ncclGroupStart());
    ncclResult_t rc = ncclSuccess;
    int64_t s_at = 0, r_at = 0;
    for (int r = 0; r < c->size && rc == ncclSuccess; r++) {
        rc = ncclSend(send + s_at, (size_t)send_counts[r], ncclFloat, r, x->nccl, x->stream);
        if (rc == ncclSuccess) rc = ncclRecv(recv + r_at, (size_t)recv_counts[r], ncclFloat, r, x->nccl, x->stream);
        s_at += send_counts[r], r_at += recv_counts[r];
    }
    const ncclResult_t end = ncclGroupEnd();
    if (rc != ncclSuccess || end != ncclSuccess)
        return dg_error("NCCL: all-to-all failed: %s", ncclGetErrorString(rc != ncclSuccess ? rc : end));
    return DG_OK;
}

/* wait and progress: the stream orders the calls, the host has nothing to do */
static int nccl_wait(dg_comm *c, dg_comm_req *req) {
    (void)c, (void)req;
    return DG_OK;
}

static int nccl_barrier(dg_comm *c) {
    nccl_ctx *n = c->ctx;
    DG_CUDA_CHECK(cudaStreamSynchronize(n->stream));
    return MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS ? DG_OK : dg_error("MPI: MPI_Barrier failed");
}

static void nccl_destroy(dg_comm *c) {
    nccl_ctx *n = c->ctx;
    if (n->nccl) ncclCommDestroy(n->nccl);
    free(n);
}

static const dg_comm_ops nccl_ops = {"nccl",    nccl_allgather, nccl_exchange, nccl_alltoall, nccl_wait,
                                    nccl_wait, nccl_barrier,   dg_comm_mpi_sum_host_f64, nccl_destroy};

int dg_comm_nccl_init(dg_comm *c, dg_comm *mpi, dg_backend *be) {
    DG_CHECK(be->kind == DG_BACKEND_CUDA, "NCCL: needs a CUDA backend (got %s)", be->ops->name);
    DG_CHECK(mpi && mpi->ops, "NCCL: needs an MPI communicator to bootstrap");
    ncclUniqueId id;
    if (mpi->rank == 0) DG_NCCL_CHECK(ncclGetUniqueId(&id));
    DG_CHECK(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD) == MPI_SUCCESS,
             "MPI: broadcasting the NCCL unique id failed");
    nccl_ctx *n = calloc(1, sizeof *n);
    DG_CHECK_ALLOC(n);
    n->stream = ((dg_cuda_ctx *)be->ctx)->stream;
    const ncclResult_t rc = ncclCommInitRank(&n->nccl, mpi->size, id, mpi->rank);
    if (rc != ncclSuccess) {
        free(n);
        return dg_error("NCCL: ncclCommInitRank (rank %d of %d) failed: %s", mpi->rank, mpi->size,
                        ncclGetErrorString(rc));
    }
    c->rank = mpi->rank, c->size = mpi->size, c->ops = &nccl_ops, c->ctx = n;
    return DG_OK;
}
#else
int dg_comm_nccl_init(dg_comm *c, dg_comm *mpi, dg_backend *be) {
    (void)c, (void)mpi, (void)be;
    return dg_error("NCCL: this ditgen was built without NCCL (needs CUDA and the NCCL library)");
}
#endif
