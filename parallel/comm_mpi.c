/* The MPI communicator: MPI_COMM_WORLD, host buffers. */
#include <limits.h>
#include <stdlib.h>

#include <mpi.h>

#include "core/error.h"
#include "parallel/comm.h"
#include "parallel/comm_host.h"

typedef struct {
    int owns_mpi; /* MPI_Init was called here: finalise on free */
    int *counts, *displs, *rcounts, *rdispls; /* [size] each: the blocking calls' int counts */
} mpi_ctx;

static int mpi_error(int rc, const char *call) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return dg_error("MPI: %s failed: %.*s", call, len, msg);
}

/* int counts and displacements of parts of int64 counts (MPI's counts are int). */
static int int_counts(const dg_comm *c, const int64_t *counts, int *ic, int *displs, const char *what) {
    int64_t at = 0;
    for (int r = 0; r < c->size; r++) {
        DG_CHECK(counts[r] >= 0 && at + counts[r] <= INT_MAX, "MPI: %s of %lld floats exceeds MPI's int counts", what,
                 (long long)(at + counts[r]));
        ic[r] = (int)counts[r], displs[r] = (int)at;
        at += counts[r];
    }
    return DG_OK;
}

static int mpi_allgather(dg_comm *c, float *buf, const int64_t *counts, dg_comm_req *req) {
    mpi_ctx *m = c->ctx;
    if (!req) {
        DG_TRY(int_counts(c, counts, m->counts, m->displs, "an all-gather"));
        const int rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, m->counts, m->displs, MPI_FLOAT,
                                      MPI_COMM_WORLD);
        return rc == MPI_SUCCESS ? DG_OK : mpi_error(rc, "MPI_Allgatherv");
    }
    /* the counts must outlive the call: they go with the request */
    req->n = 0;
    req->counts = malloc(2 * (size_t)c->size * sizeof(int));
    DG_CHECK_ALLOC(req->counts);
    req->displs = req->counts + c->size;
    MPI_Request *h = malloc(sizeof *h);
    int rc = h ? int_counts(c, counts, req->counts, req->displs, "an all-gather") : DG_ERR;
    if (rc == DG_OK) {
        rc = MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, req->counts, req->displs, MPI_FLOAT,
                             MPI_COMM_WORLD, h);
        if (rc != MPI_SUCCESS) rc = mpi_error(rc, "MPI_Iallgatherv");
    } else if (!h) {
        rc = dg_error("%s:%d: out of memory", __FILE__, __LINE__);
    }
    if (rc != DG_OK) {
        free(h), free(req->counts);
        req->counts = req->displs = NULL;
        return DG_ERR;
    }
    req->h[req->n++] = h;
    return DG_OK;
}

static int mpi_exchange(dg_comm *c, const float *to_prev, const float *to_next, float *from_prev, float *from_next,
                        int64_t n, dg_comm_req *req) {
    DG_CHECK(n >= 0 && n <= INT_MAX, "MPI: a halo of %lld floats exceeds MPI's int counts", (long long)n);
    const int prev = c->rank > 0 ? c->rank - 1 : MPI_PROC_NULL, next = c->rank + 1 < c->size ? c->rank + 1 : MPI_PROC_NULL;
    int rc;
    if (!req) {
        /* both directions pair every send with the neighbour's receive, so neither can deadlock */
        rc = MPI_Sendrecv(to_prev, (int)n, MPI_FLOAT, prev, 1, from_next, (int)n, MPI_FLOAT, next, 1, MPI_COMM_WORLD,
                          MPI_STATUS_IGNORE);
        if (rc == MPI_SUCCESS)
            rc = MPI_Sendrecv(to_next, (int)n, MPI_FLOAT, next, 2, from_prev, (int)n, MPI_FLOAT, prev, 2,
                              MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        return rc == MPI_SUCCESS ? DG_OK : mpi_error(rc, "MPI_Sendrecv");
    }
    req->n = 0, req->counts = req->displs = NULL;
    MPI_Request *h = malloc(4 * sizeof *h);
    DG_CHECK_ALLOC(h);
    for (int i = 0; i < 4; i++) h[i] = MPI_REQUEST_NULL; /* waitable even when a start below fails */
    /* receives first, so the sends can land at once; MPI_PROC_NULL ends complete immediately */
    rc = MPI_Irecv(from_next, (int)n, MPI_FLOAT, next, 1, MPI_COMM_WORLD, &h[0]);
    if (rc == MPI_SUCCESS) rc = MPI_Irecv(from_prev, (int)n, MPI_FLOAT, prev, 2, MPI_COMM_WORLD, &h[1]);
    if (rc == MPI_SUCCESS) rc = MPI_Isend(to_prev, (int)n, MPI_FLOAT, prev, 1, MPI_COMM_WORLD, &h[2]);
    if (rc == MPI_SUCCESS) rc = MPI_Isend(to_next, (int)n, MPI_FLOAT, next, 2, MPI_COMM_WORLD, &h[3]);
    req->h[req->n++] = h; /* one handle: the array of four */
    return rc == MPI_SUCCESS ? DG_OK : mpi_error(rc, "MPI_Isend/MPI_Irecv");
}

static int mpi_alltoall(dg_comm *c, const float *send, const int64_t *send_counts, float *recv,
                        const int64_t *recv_counts) {
    mpi_ctx *m = c->ctx;
    DG_TRY(int_counts(c, send_counts, m->counts, m->displs, "an all-to-all"));
    DG_TRY(int_counts(c, recv_counts, m->rcounts, m->rdispls, "an all-to-all"));
    const int rc = MPI_Alltoallv(send, m->counts, m->displs, MPI_FLOAT, recv, m->rcounts, m->rdispls, MPI_FLOAT,
                                 MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? DG_OK : mpi_error(rc, "MPI_Alltoallv");
}

/* An all-gather's request holds one MPI_Request, an exchange's an array of four; completed ones
 * become MPI_REQUEST_NULL, which the wait takes as done. */
static int mpi_progress(dg_comm *c, dg_comm_req *req) {
    (void)c;
    for (int i = 0; i < req->n; i++) {
        int done;
        const int rc = MPI_Testall(req->counts ? 1 : 4, req->h[i], &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_error(rc, "MPI_Testall");
    }
    return DG_OK;
}


static int mpi_wait(dg_comm *c, dg_comm_req *req) {
    (void)c;
    int rc = MPI_SUCCESS;
    for (int i = 0; i < req->n; i++) {
        const int n = req->counts ? 1 : 4;
        const int r = MPI_Waitall(n, req->h[i], MPI_STATUSES_IGNORE);
        if (rc == MPI_SUCCESS) rc = r;
        free(req->h[i]);
    }
    free(req->counts);
    req->n = 0, req->counts = req->displs = NULL;
    return rc == MPI_SUCCESS ? DG_OK : mpi_error(rc, "MPI_Waitall");
}

static int mpi_barrier(dg_comm *c) {
    (void)c;
    const int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? DG_OK : mpi_error(rc, "MPI_Barrier");
}

int dg_comm_mpi_sum_host_f64(dg_comm *c, double *v, int n) {
    DG_CHECK(n >= 0 && (int64_t)n * c->size <= INT_MAX, "MPI: a sum of %d values over %d ranks is too large", n,
             c->size);
    if (n == 0) return DG_OK;
    double *all = malloc((size_t)n * (size_t)c->size * sizeof(double));
    DG_CHECK_ALLOC(all);
    const int rc = MPI_Allgather(v, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS)
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int r = 0; r < c->size; r++) sum += all[(size_t)r * n + i];
            v[i] = sum;
        }
    free(all);
    return rc == MPI_SUCCESS ? DG_OK : mpi_error(rc, "MPI_Allgather");
}

static void mpi_destroy(dg_comm *c) {
    mpi_ctx *m = c->ctx;
    int finalized = 0;
    if (m->owns_mpi && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) MPI_Finalize();
    free(m->counts), free(m);
}

static const dg_comm_ops mpi_ops = {"mpi",       mpi_allgather, mpi_exchange, mpi_alltoall, mpi_progress,
                                   mpi_wait,    mpi_barrier,   dg_comm_mpi_sum_host_f64,  mpi_destroy};

int dg_comm_mpi_init(dg_comm *c) {
    int inited = 0, rc;
    mpi_ctx *m = calloc(1, sizeof *m);
    DG_CHECK_ALLOC(m);
    if ((rc = MPI_Initialized(&inited)) != MPI_SUCCESS || (!inited && (rc = MPI_Init(NULL, NULL)) != MPI_SUCCESS)) {
        free(m);
        return mpi_error(rc, "MPI_Init");
    }
    m->owns_mpi = !inited;
    /* errors come back as codes, not aborts, so they can be reported */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    m->counts = malloc(4 * (size_t)c->size * sizeof(int));
    if (m->counts) m->displs = m->counts + c->size, m->rcounts = m->displs + c->size, m->rdispls = m->rcounts + c->size;
    c->ops = &mpi_ops;
    c->ctx = m;
    if (!m->counts) {
        dg_comm_free(c);
        return dg_error("%s:%d: out of memory", __FILE__, __LINE__);
    }
    return DG_OK;
}
