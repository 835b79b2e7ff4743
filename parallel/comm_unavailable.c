/* Builds without MPI: the communicators are refused with the reason. */
#include "core/error.h"
#include "parallel/comm.h"

int dg_comm_mpi_init(dg_comm *c) {
    (void)c;
    const char *why;
    dg_comm_available(&why);
    return dg_error("parallel generation: %s", why);
}

int dg_comm_nccl_init(dg_comm *c, dg_comm *mpi, dg_backend *be) {
    (void)mpi, (void)be;
    return dg_comm_mpi_init(c);
}
