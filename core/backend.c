/* What every backend shares: selection by name, the stream barrier, and tensors
 * allocated, filled and read back through the backend's ops. */
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

void dg_backend_free(dg_backend *be) {
    if (!be || !be->ctx) return;
    be->ops->destroy(be);
    be->ctx = NULL;
}

int dg_tensor_alloc(dg_tensor *t, dg_backend *be, dg_dtype dtype, int ndim, const int64_t *shape) {
    DG_TRY(dg_tensor_view(t, be, dtype, ndim, shape, NULL));
    size_t n = dg_tensor_nbytes(t);
    t->data = be->ops->alloc(be, n ? n : 1);
    DG_CHECK(t->data != NULL, "out of memory allocating %zu bytes on %s", n, be->ops->name);
    return DG_OK;
}

void dg_tensor_free(dg_tensor *t) {
    if (t && t->data && t->backend) t->backend->ops->free(t->backend, t->data);
    if (t) t->data = NULL;
}

int dg_tensor_upload(dg_tensor *t, const void *host) {
    return t->backend->ops->upload(t->backend, t->data, host, dg_tensor_nbytes(t));
}

int dg_tensor_download(const dg_tensor *t, void *host) {
    return t->backend->ops->download(t->backend, host, t->data, dg_tensor_nbytes(t));
}
