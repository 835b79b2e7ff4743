/* A communicator over the processes of one generation (rank 0 writes the
 * outputs): the collectives the parallel modes need, on MPI (host buffers;
 * runs anywhere OpenMPI does, CI included) or NCCL (device buffers of a CUDA
 * backend, its unique id bootstrapped over MPI). No home-made transport. */
#ifndef DG_PARALLEL_COMM_H
#define DG_PARALLEL_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

typedef struct dg_comm dg_comm;

/* An exchange in flight (req argument of the collectives; NULL there: the call completes before it
 * returns). Its buffers must stay untouched until dg_comm_ops.wait. MPI starts the non-blocking call
 * (MPI_Iallgatherv, MPI_Isend/Irecv), so the caller computes while it runs; NCCL calls are
 * asynchronous on the backend's stream anyway and wait has nothing to do. */
#define DG_COMM_MAX_REQ 4
typedef struct dg_comm_req {
    int n;                        /* handles in use */
    void *h[DG_COMM_MAX_REQ];     /* the transport's request handles */
    int *counts, *displs;         /* MPI: the counts an MPI_Iallgatherv reads until it completes */
} dg_comm_req;

typedef struct dg_comm_ops {
    const char *name;
    /* In place: rank r's part, counts[r] floats, already sits at offset sum(counts[0..r)) of buf; on
     * return every rank's buf holds every part. buf is memory of the communicator's kind (host for MPI,
     * device for NCCL). */
    int (*allgather_f32)(dg_comm *c, float *buf, const int64_t *counts, dg_comm_req *req);
    /* Swap n floats with each neighbour: to_prev goes to rank-1 and arrives in its from_next, to_next to
     * rank+1 (its from_prev). The first rank has no previous and the last no next: those buffers are not
     * touched (may be NULL). */
    int (*exchange_f32)(dg_comm *c, const float *to_prev, const float *to_next, float *from_prev, float *from_next,
                        int64_t n, dg_comm_req *req);
    /* All-to-all: send holds size parts back to back, part r (send_counts[r] floats) for rank r; recv
     * receives rank r's part for this rank at offset sum(recv_counts[0..r)). Blocking. */
    int (*alltoall_f32)(dg_comm *c, const float *send, const int64_t *send_counts, float *recv,
                        const int64_t *recv_counts);
    /* Let a started exchange advance without blocking (MPI moves large messages only inside MPI
     * calls: the compute that overlaps an exchange calls this now and then). */
    int (*progress)(dg_comm *c, dg_comm_req *req);
    /* Complete a started exchange (a request with n 0 returns at once). */
    int (*wait)(dg_comm *c, dg_comm_req *req);
    int (*barrier)(dg_comm *c);
    /* n host doubles summed over the ranks, in place; every rank gets the same bits (the parts are
     * gathered and added in rank order), so decisions taken on the sums agree. Blocking. */
    int (*sum_host_f64)(dg_comm *c, double *v, int n);
    void (*destroy)(dg_comm *c);
} dg_comm_ops;

struct dg_comm {
    int rank, size;
    const dg_comm_ops *ops;
    void *ctx;
};

/* Whether this build has MPI (and NCCL); the reason when not. */
int dg_comm_available(const char **why_not);
/* All processes of the MPI job (MPI is initialised here when the caller has not; finalised by the
 * last dg_comm_free of a communicator that initialised it). */
int dg_comm_mpi_init(dg_comm *c);
/* NCCL over the same processes as mpi, for device buffers on be's stream (one GPU per rank). */
int dg_comm_nccl_init(dg_comm *c, dg_comm *mpi, dg_backend *be);
void dg_comm_free(dg_comm *c);

/* An even split of n items over the ranks: rank r owns [*begin, *begin + *count); counts (may be
 * NULL) receives every rank's count times `per` (the floats per item). */
void dg_comm_split(const dg_comm *c, int64_t n, int64_t per, int64_t *begin, int64_t *count, int64_t *counts);

#endif
