/* What does not depend on the transport. */
#include <string.h>

#include "core/error.h"
#include "parallel/comm.h"

void dg_comm_free(dg_comm *c) {
    if (!c || !c->ops) return;
    c->ops->destroy(c);
    memset(c, 0, sizeof *c);
}

int dg_comm_available(const char **why_not) {
#ifdef DG_HAVE_MPI
    *why_not = NULL;
    return 1;
#else
    *why_not = "this ditgen was built without MPI (install libopenmpi-dev and rebuild)";
    return 0;
#endif
}
