/* The slow, obvious attention every fast path is checked against (layout of
 * core/attention.h). */
#ifndef DG_ATTENTION_REFERENCE_H
#define DG_ATTENTION_REFERENCE_H

#include "core/attention.h"

/* Full score matrix per head, double accumulation. */
int dg_attention_reference(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s);

#endif
