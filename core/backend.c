/* Backend selection by name and the stream barrier, shared by the pipeline and
 * the benchmarks. */
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/error.h"

int dg_backend_init_device(dg_backend *be, const char *device, int threads) {
    if (!device || !strcmp(device, "cpu")) return dg_backend_cpu_init(be, threads);
    char *end = NULL;
    DG_CHECK(!strncmp(device, "cuda", 4), "unknown device '%s' (cpu, cuda or cuda:N)", device);
    long index = device[4] == ':' ? strtol(device + 5, &end, 10) : 0;
    DG_CHECK(device[4] == 0 || (device[4] == ':' && end != device + 5 && !*end && index >= 0 && index < 1024),
             "unknown device '%s' (cpu, cuda or cuda:N)", device);
#ifdef DG_HAVE_CUDA
    return dg_backend_cuda_init(be, (int)index);
#else
    return dg_error("device '%s': this ditgen was built without CUDA", device);
#endif
}

#ifndef DG_HAVE_CUDA
int dg_backend_cuda_memory(dg_backend *be, size_t *used, size_t *total) {
    (void)be, (void)used, (void)total;
    return dg_error("device memory: this ditgen was built without CUDA");
}
#endif

int dg_backend_sync(dg_backend *be) { return be->ops->sync ? be->ops->sync(be) : DG_OK; }
