/* Step caching, First-Block-Cache style: at a step where the first transformer block's residual
 * (its output minus its input) changed little since the last step that ran every block, the
 * other blocks are skipped and the residual they made at that step is added again. The policy
 * here (which steps may be skipped) comes from a preset, configs/cache/NAME.json, or a file:
 *   {"method": "first_block_cache", "threshold": 0.05, "warmup_steps": 3, "final_steps": 1,
 *    "max_consecutive_reuse": 3, "description": "..."}
 * threshold (finite, >= 0): reuse when sum|r - r_prev| / sum|r_prev| < threshold (0 never reuses);
 * warmup_steps / final_steps: the first and last steps always run every block;
 * max_consecutive_reuse: a step after that many reused ones runs every block (0: no bound). */
#ifndef DG_SAMPLER_STEP_CACHE_H
#define DG_SAMPLER_STEP_CACHE_H

typedef struct dg_step_cache_opts {
    double threshold;
    int warmup_steps, final_steps, max_consecutive_reuse;
} dg_step_cache_opts;

/* preset_or_path: a preset name (configs_dir/cache/NAME.json; NAME.json is the same preset) or a
 * path to a .json file (io/presets.h). Unknown keys and values out of range are refused. */
int dg_step_cache_load(dg_step_cache_opts *o, const char *preset_or_path, const char *configs_dir);
/* Whether step (0-based) of steps must run every block, after reused_in_row reused steps. */
int dg_step_cache_must_run(const dg_step_cache_opts *o, int step, int steps, int reused_in_row);

#endif
