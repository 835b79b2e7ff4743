/* Host-side collectives over MPI_COMM_WORLD, shared by the MPI and NCCL transports (the NCCL
 * communicator's ranks are MPI_COMM_WORLD's). */
#ifndef DG_PARALLEL_COMM_HOST_H
#define DG_PARALLEL_COMM_HOST_H

#include "parallel/comm.h"

/* dg_comm_ops.sum_host_f64 */
int dg_comm_mpi_sum_host_f64(dg_comm *c, double *v, int n);

#endif
