/* Shared pieces for implementing attention methods (not for callers: they use
 * attention/method.h). Each method file defines one constructor that fills
 * m->ops and m->params; method.c's registry maps names to them. */
#ifndef DG_ATTENTION_METHODS_INTERNAL_H
#define DG_ATTENTION_METHODS_INTERNAL_H

#include <stdint.h>

#include "attention/method.h"

/* Constructors: parse and range-check params (NULL = defaults), refusing
 * unknown keys; errors name ctx and the field. On failure m->params is freed
 * by the constructor (m itself by the caller). */
int dg_attn_dense_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx);
int dg_attn_sta_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx);
int dg_attn_vdit_tile_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx);
int dg_attn_natten_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx);
int dg_attn_grat_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx);
int dg_attn_radial_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx);
int dg_attn_agent_create(dg_attn_method *m, const dg_attn_params *params, const char *ctx);

/* Geometry sanity shared by every method (T, H, W >= 1, text_tokens >= 0,
 * heads and head_dim >= 1); errors name the method and the field. */
int dg_attn_geometry_check(const dg_attn_geometry *g, const char *method);

/* "t >= 4 (13 frames or more)", "h >= 9 (144 pixels high or more)": the length n a method needs along
 * axis 0, 1 or 2 (t, h, w), with the generation size it takes where g knows it; into buf. */
const char *dg_attn_need(const dg_attn_geometry *g, int axis, int64_t n, char *buf, size_t size);

/* Index of token i among the video tokens, or -1 when i is a text token. */
static inline int64_t dg_attn_video_index(const dg_attn_geometry *g, int64_t i) {
    int64_t nv = (int64_t)g->T * g->H * g->W;
    if (g->text_first) return i < g->text_tokens ? -1 : i - g->text_tokens;
    return i < nv ? i : -1;
}

/* ops->density for methods that only build m->layout. */
double dg_attn_layout_density(const dg_attn_method *m);

#endif
