/* The MPI communicator: MPI_COMM_WORLD, host buffers. */
#include <limits.h>
#include <stdlib.h>

#include <mpi.h>

#include "core/error.h"
#include "parallel/comm.h"

typedef struct {
    int owns_mpi; /* MPI_Init was called here: finalise on free */
    int *counts, *displs;
} mpi_ctx;

static int mpi_error(int rc, const char *call) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return dg_error("MPI: %s failed: %.*s", call, len, msg);
}

static int mpi_allgather(dg_comm *c, float *buf, const int64_t *counts) {
    mpi_ctx *m = c->ctx;
    int64_t at = 0;
    for (int r = 0; r < c->size; r++) {
        DG_CHECK(counts[r] >= 0 && at + counts[r] <= INT_MAX,
                 "MPI: an all-gather of %lld floats exceeds MPI's int counts", (long long)(at + counts[r]));
        m->counts[r] = (int)counts[r], m->displs[r] = (int)at;
        at += counts[r];
    }
    const int rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, m->counts, m->displs, MPI_FLOAT,
                                  MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? DG_OK : mpi_error(rc, "MPI_Allgatherv");
}

static int mpi_exchange(dg_comm *c, const float *to_prev, const float *to_next, float *from_prev, float *from_next,
                        int64_t n) {
    DG_CHECK(n >= 0 && n <= INT_MAX, "MPI: a halo of %lld floats exceeds MPI's int counts", (long long)n);
    const int prev = c->rank > 0 ? c->rank - 1 : MPI_PROC_NULL, next = c->rank + 1 < c->size ? c->rank + 1 : MPI_PROC_NULL;
    /* both directions pair every send with the neighbour's receive, so neither can deadlock */
    int rc = MPI_Sendrecv(to_prev, (int)n, MPI_FLOAT, prev, 1, from_next, (int)n, MPI_FLOAT, next, 1, MPI_COMM_WORLD,
                          MPI_STATUS_IGNORE);
    if (rc == MPI_SUCCESS)
        rc = MPI_Sendrecv(to_next, (int)n, MPI_FLOAT, next, 2, from_prev, (int)n, MPI_FLOAT, prev, 2, MPI_COMM_WORLD,
                          MPI_STATUS_IGNORE);
    return rc == MPI_SUCCESS ? DG_OK : mpi_error(rc, "MPI_Sendrecv");
}

static int mpi_barrier(dg_comm *c) {
    (void)c;
    const int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? DG_OK : mpi_error(rc, "MPI_Barrier");
}

static void mpi_destroy(dg_comm *c) {
    mpi_ctx *m = c->ctx;
    int finalized = 0;
    if (m->owns_mpi && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) MPI_Finalize();
    free(m->counts), free(m->displs), free(m);
}

static const dg_comm_ops mpi_ops = {"mpi", mpi_allgather, mpi_exchange, mpi_barrier, mpi_destroy};

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
    m->counts = malloc((size_t)c->size * sizeof(int));
    m->displs = malloc((size_t)c->size * sizeof(int));
    c->ops = &mpi_ops;
    c->ctx = m;
    if (!m->counts || !m->displs) {
        dg_comm_free(c);
        return dg_error("%s:%d: out of memory", __FILE__, __LINE__);
    }
    return DG_OK;
}
