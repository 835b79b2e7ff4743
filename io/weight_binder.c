#include "io/weight_binder.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"

#define NAME_LEN 256

/* The checkpoint tensor for model name `name`, shape-checked and marked used. */
static int find_checked(dg_weight_binder *b, const dg_st_tensor **out, const char *name, int ndim,
                        const int64_t *shape) {
    char buf[NAME_LEN];
    const char *file_name = b->rename ? b->rename(name, buf, sizeof buf) : name;
    DG_CHECK(file_name != NULL, "%s: no original-layout name for '%s'", b->path, name);
    const dg_st_tensor *s = dg_safetensors_find(b->st, file_name);
    DG_CHECK(s != NULL, "%s: missing tensor '%s'", b->path, file_name);
    b->used[s - b->st->tensors] = 1;
    dg_tensor src;
    DG_TRY(dg_tensor_view(&src, NULL, s->dtype, s->ndim, s->shape, (void *)s->data));
    char what[NAME_LEN + 64];
    snprintf(what, sizeof what, "%s: tensor '%s'", b->path, file_name);
    DG_TRY(dg_tensor_expect_shape(&src, what, ndim, shape));
    *out = s;
    return DG_OK;
}

static int bind_named(dg_weight_binder *b, dg_tensor *t, int ndim, const int64_t *shape, dg_weight_kind kind,
                      const char *name) {
    const dg_st_tensor *s;
    DG_TRY(find_checked(b, &s, name, ndim, shape));
    const int f16_on_cpu = kind == DG_WEIGHT_STORED && s->dtype == DG_F16 && b->be->kind == DG_BACKEND_CPU;
    int keep = (kind == DG_WEIGHT_STORED && !(f16_on_cpu && b->widen_f16)) ||
               (kind == DG_WEIGHT_F32_MAPPED && s->dtype == DG_F32);
    if (b->measuring) {
        if (f16_on_cpu) b->f16_widened_bytes += dg_weight_store_bytes(b->be, s, 0);
        else b->store_bytes += dg_weight_store_bytes(b->be, s, keep);
        /* a view without storage, so shape-only steps (reshape) work in this pass too */
        return dg_tensor_view(t, b->be, keep ? s->dtype : DG_F32, ndim, shape, NULL);
    }
    if (dg_weight_store_bind(b->store, t, s, ndim, shape, keep) != DG_OK) return dg_error_wrap("%s: ", b->path);
    return DG_OK;
}

/* Format fmt... into buf, refusing names that do not fit. */
static int format_name(char *buf, size_t len, const char *fmt, va_list ap) {
    int n = vsnprintf(buf, len, fmt, ap);
    DG_CHECK(n >= 0 && (size_t)n < len, "tensor name '%s...' longer than %zu bytes", buf, len - 1);
    return DG_OK;
}

/* buf = the caller's printf-style name (fmt, ...), or return the error. */
#define FORMAT_NAME(buf, fmt)                                                                      \
    do {                                                                                           \
        va_list ap_;                                                                               \
        va_start(ap_, fmt);                                                                        \
        int rc_ = format_name(buf, sizeof buf, fmt, ap_);                                          \
        va_end(ap_);                                                                               \
        DG_TRY(rc_);                                                                               \
    } while (0)

int dg_weight_find(dg_weight_binder *b, const dg_st_tensor **out, int ndim, const int64_t *shape, const char *fmt,
                   ...) {
    char name[NAME_LEN];
    FORMAT_NAME(name, fmt);
    return find_checked(b, out, name, ndim, shape);
}

int dg_weight_bind(dg_weight_binder *b, dg_tensor *t, int ndim, const int64_t *shape, dg_weight_kind kind,
                   const char *fmt, ...) {
    char name[NAME_LEN];
    FORMAT_NAME(name, fmt);
    return bind_named(b, t, ndim, shape, kind, name);
}

int dg_weight_bind_vec(dg_weight_binder *b, dg_tensor *t, int64_t n, const char *fmt, ...) {
    char name[NAME_LEN];
    FORMAT_NAME(name, fmt);
    return bind_named(b, t, 1, &n, DG_WEIGHT_F32, name);
}

int dg_weight_bind_linear(dg_weight_binder *b, dg_tensor *w, dg_tensor *bias, int64_t out, int64_t in,
                          const char *fmt, ...) {
    char prefix[NAME_LEN - 8], name[NAME_LEN];
    FORMAT_NAME(prefix, fmt);
    int64_t ws[2] = {out, in};
    snprintf(name, sizeof name, "%s.weight", prefix);
    DG_TRY(bind_named(b, w, 2, ws, DG_WEIGHT_STORED, name));
    if (!bias) return DG_OK;
    snprintf(name, sizeof name, "%s.bias", prefix);
    return bind_named(b, bias, 1, &out, DG_WEIGHT_F32, name);
}

/* A checkpoint tensor the config does not account for means config and weights disagree. */
static int refuse_unused(const dg_weight_binder *b, const dg_weight_binding *spec) {
    for (int i = 0; i < b->st->n_tensors; i++) {
        const char *name = b->st->tensors[i].name;
        DG_CHECK(b->used[i] || (spec->ignorable && spec->ignorable(name)),
                 "%s: tensor '%s' is not used by the config (%s) - config and weights disagree", spec->path, name,
                 spec->config);
    }
    return DG_OK;
}

static int bind_passes(dg_weight_binder *b, const dg_weight_binding *spec) {
    DG_TRY(spec->bind_all(b, spec->model));
    DG_TRY(refuse_unused(b, spec));
    /* The CPU has no f16 arithmetic. Widened once here, a small model's f16 matrices no longer cost a
     * conversion at every linear (14 % of the shipped model's generation time, where token counts
     * are small); a large model's stay mapped, widened per call (a few % of a linear at video sizes),
     * rather than doubling its resident memory. */
    b->widen_f16 = b->f16_widened_bytes <= (spec->f16_widen_bytes ? spec->f16_widen_bytes : DG_F16_WIDEN_BYTES);
    if (b->widen_f16) b->store_bytes += b->f16_widened_bytes;
    if (dg_weight_store_init(b->store, b->be, b->store_bytes) != DG_OK)
        return dg_error_wrap("loading %s from '%s': ", spec->what, spec->path);
    b->measuring = 0;
    return spec->bind_all(b, spec->model);
}

int dg_weight_bind_model(dg_weight_store *store, dg_backend *be, const dg_safetensors *st,
                         const dg_weight_binding *spec) {
    dg_weight_binder b = {.st = st, .store = store, .be = be, .path = spec->path, .rename = spec->rename,
                          .used = calloc((size_t)st->n_tensors + 1, 1), .measuring = 1};
    DG_CHECK_ALLOC(b.used);
    int rc = bind_passes(&b, spec);
    free(b.used);
    return rc;
}
