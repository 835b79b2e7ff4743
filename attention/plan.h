/* Attention plans: which method runs at which denoising step, layer and head
 * (docs/attention.md), loaded from JSON, e.g.
 * configs/attention/radial_wan.json:
 *   {
 *     "description": "Radial attention on Wan2.1",
 *     "method": "radial", "params": {"decay_factor": 0.2},
 *     "dense_steps": 12,            first 12 steps dense (integer), or
 *     "dense_fraction": 0.24,       steps i < round(0.24 * steps) dense
 *     "dense_layers": [0],
 *     "overrides": [                per step range / layers / heads; last match wins
 *       {"steps": [15, 50], "layers": [3], "heads": [0, 5], "method": "sta", "params": {...}}
 *     ]
 *   }
 * Only "method" is required; "steps" is a half-open range, and absent
 * "steps", "layers" or "heads" match everything. Dense steps and dense layers
 * take precedence over overrides. */
#ifndef DG_ATTENTION_PLAN_H
#define DG_ATTENTION_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "attention/method.h"

typedef struct dg_attn_plan_rule {
    int64_t step_lo, step_hi;      /* [lo, hi); hi = -1: unbounded */
    int64_t *layers, *heads;       /* NULL: all */
    int n_layers, n_heads;
    dg_attn_method *method;
} dg_attn_plan_rule;

typedef struct dg_attn_plan {
    char *source;                  /* the file, for messages */
    dg_attn_method *base, *dense;
    int64_t dense_steps;           /* -1: not given */
    double dense_fraction;         /* < 0: not given */
    int64_t *dense_layers;
    int n_dense_layers;
    dg_attn_plan_rule *rules;
    int n_rules;
    dg_attn_geometry prepared;     /* the geometry and backend of the last prepare (NULL: none) */
    dg_backend *prepared_on;
} dg_attn_plan;

/* A plan from a preset name (<configs_dir>/attention/NAME.json, NAME.json too) or a path (io/presets.h). Unknown keys and methods, out-of-range values and malformed
 * JSON are refused with the file and field named. */
int dg_attn_plan_load(dg_attn_plan *p, const char *preset_or_path, const char *configs_dir);
/* Parse a plan from JSON text; src names it in messages. */
int dg_attn_plan_parse(dg_attn_plan *p, const char *json_text, const char *src);
/* Refuse plans naming layers or heads the model lacks. */
int dg_attn_plan_check(const dg_attn_plan *p, int num_layers, int num_heads);
/* Prepare every method of the plan for a token geometry, its layouts uploaded to be: done once per
 * size, not per call (preparing again for the same geometry and backend does nothing). */
int dg_attn_plan_prepare(dg_attn_plan *p, const dg_attn_geometry *g, dg_backend *be);
/* The method for (step of steps, layer, head). Heads that share a method get
 * the same object, so the caller can batch them. */
dg_attn_method *dg_attn_plan_method(const dg_attn_plan *p, int step, int steps, int layer, int head);
/* 1 when (step of steps) runs a method other than dense in some layer < layers and head < heads: a
 * step inside dense_steps / dense_fraction, or of a plan that is dense everywhere, gives 0. */
int dg_attn_plan_sparse_at(const dg_attn_plan *p, int step, int steps, int layers, int heads);
/* Self-attention of one layer at (step of steps) through the plan: each run of consecutive heads that
 * share a method is one call (dg_attn_method_run); opts (NULL: none) carries the perturbation. */
int dg_attn_plan_run(dg_attn_plan *p, int step, int steps, int layer, dg_tensor *o, const dg_tensor *q,
                     const dg_tensor *k, const dg_tensor *v, int heads, const dg_attn_opts *opts);
void dg_attn_plan_free(dg_attn_plan *p);

#endif
