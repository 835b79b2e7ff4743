/* Attention methods on the GPU: the mask-based methods hand their host block
 * layout to the CUDA block-sparse engine, "dense" runs the CUDA dense kernel. */
#include <string.h>

#include "attention/method.h"
#include "attention/methods_internal.h"
#include "core/error.h"
#ifdef DG_HAVE_CUDA
#include "attention/cuda/attention_cuda.h"
#endif

int dg_attn_method_run_cuda(dg_attn_method *m, float *o, const float *q, const float *k, const float *v,
                            const dg_attn_shape *s) {
#ifdef DG_HAVE_CUDA
    if (m->ops->run == dg_attn_layout_run) {
        DG_CHECK(m->layout.row_start != NULL, "%s: run before prepare", m->ops->name);
        return dg_attention_sparse_cuda(o, q, k, v, s, &m->layout);
    }
    if (!strcmp(m->ops->name, "dense")) return dg_attention_dense_cuda(o, q, k, v, s);
    return dg_error("attention method '%s' runs on the CPU only", m->ops->name);
#else
    (void)o, (void)q, (void)k, (void)v, (void)s;
    return dg_error("attention method '%s' on CUDA: this ditgen was built without CUDA", m->ops->name);
#endif
}
