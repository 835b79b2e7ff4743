/* Pluggable attention methods (docs/attention.md): the policy side of attention.
 *
 * Every method is created from its name and JSON parameters, prepared once per
 * token geometry and backend, then run on the Q, K, V of one layer. Mask-based
 * methods (GRAT, radial, tile, neighborhood) only build a dg_block_layout
 * (core/attention.h) that the backend's attention op walks; "dense" builds
 * nothing; agent attention is its own algorithm (host memory only). Each
 * method also exposes its exact predicate allow(i, j) so tests can compare the
 * fast path with a dense reference masked straight from the spec. */
#ifndef DG_ATTENTION_METHOD_H
#define DG_ATTENTION_METHOD_H

#include <stdint.h>

#include "attention/params.h"
#include "core/backend.h"

/* Token geometry of one self-attention call. Video tokens are raster ordered,
 * n = (t*H + h)*W + w; text tokens (joint attention, FLUX/Hunyuan) sit before
 * (text_first) or after the video tokens. Wan self-attention has none. */
typedef struct dg_attn_geometry {
    int T, H, W;
    int text_tokens;
    int text_first;
    int heads, head_dim;
    /* For messages only, 0 where unknown: the generation size a grid comes from, so a refusal can say
     * the size it needs. T tokens are T * frames_per_t - frames_less frames; H x W tokens are
     * H * pixels_per_h x W * pixels_per_w pixels. */
    int frames_per_t, frames_less, pixels_per_h, pixels_per_w;
} dg_attn_geometry;

static inline int64_t dg_attn_geometry_tokens(const dg_attn_geometry *g) {
    return (int64_t)g->T * g->H * g->W + g->text_tokens;
}

typedef struct dg_attn_method dg_attn_method;

typedef struct dg_attn_method_ops {
    const char *name;
    /* (Re)build for a geometry; refuses geometries the method cannot take, naming the field. */
    int (*prepare)(dg_attn_method *m, const dg_attn_geometry *g);
    /* A method's own algorithm on host memory; NULL for methods run by the backend's attention op
     * (dense, and every method that builds m->layout). */
    int (*run)(dg_attn_method *m, float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s);
    /* Fraction of (query, key) pairs attended, for the prepared geometry. */
    double (*density)(const dg_attn_method *m);
    /* The spec's predicate on original token indices (NULL for agent attention). */
    int (*allow)(const dg_attn_method *m, int64_t i, int64_t j);
    void (*destroy)(dg_attn_method *m);
} dg_attn_method_ops;

struct dg_attn_method {
    const dg_attn_method_ops *ops;
    dg_attn_geometry geom;
    dg_block_layout layout; /* mask-based methods; row_start NULL when none */
    void *params;           /* method-private */
};

/* Create by name ("dense", "grat", "radial", "sta", "vdit_tile", "natten",
 * "agent") from its parameters (NULL = defaults). Unknown names,
 * unknown keys and out-of-range values are refused with the reason; ctx names
 * the file/field for messages. */
int dg_attn_method_create(dg_attn_method **m, const char *name, const dg_attn_params *params, const char *ctx);
void dg_attn_method_free(dg_attn_method *m);

/* Prepare m for a geometry and make its layout usable by be (uploaded once). */
int dg_attn_method_prepare(dg_attn_method *m, const dg_attn_geometry *g, dg_backend *be);
/* Run a prepared method on heads [opts->head_begin, ...) of backend tensors q, o [n, heads*hd], k, v:
 * the backend's attention op with the method's layout (opts->layout is set here), or the method's own
 * algorithm (refused off host memory, and with an lse output). opts NULL: every head. */
int dg_attn_method_run(dg_attn_method *m, dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v,
                       int heads, const dg_attn_opts *opts);

#endif
