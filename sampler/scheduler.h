/* Flow-matching schedulers for Wan, matching diffusers step for step:
 *  - DG_SAMPLE_EULER: FlowMatchEulerDiscreteScheduler(shift=S)
 *  - DG_SAMPLE_UNIPC: UniPCMultistepScheduler(prediction_type="flow_prediction",
 *    use_flow_sigmas=True, flow_shift=S, solver_order=2, bh2, lower_order_final,
 *    final_sigmas_type="zero") — what the Wan diffusers pipeline ships.
 * Latents are host float arrays of n elements; the model output is the
 * velocity v. The schedule is computed in float64 and cast as diffusers does;
 * the step arithmetic is float32, op for op. */
#ifndef DG_SAMPLER_SCHEDULER_H
#define DG_SAMPLER_SCHEDULER_H

#include <stddef.h>

#include "ditgen.h" /* dg_sample_method, its name parser and printer */

/* The most denoising steps: the schedules sample num_train_timesteps (1000) training
 * timesteps, and more steps would repeat them. The one limit on steps: the pipeline
 * check, the CLI and the model-folder defaults use it. */
#define DG_SCHEDULER_MAX_STEPS 1000

typedef struct dg_scheduler {
    dg_sample_method method;
    int steps;
    double shift;
    size_t n;         /* elements per latent */
    float *sigmas;    /* steps + 1, the last is 0 */
    float *timesteps; /* steps: the t the model receives (integers for UniPC) */
    /* UniPC multistep state (unused by Euler). */
    int next_step;        /* the only step index accepted next (0 restarts) */
    int this_order;       /* predictor order of the previous step = corrector order now */
    int lower_order_nums; /* warm-up counter, saturates at the solver order (2) */
    float *m_older, *m_last, *m_new; /* x0 predictions at steps i-2, i-1, i */
    float *last_sample;              /* sample before the previous predictor */
} dg_scheduler;

/* The method a diffusers scheduler class (scheduler_config.json's _class_name) runs, and the
 * config key of its flow shift. */
int dg_sample_method_from_class(const char *cls, dg_sample_method *m, const char **shift_key);

/* steps in 1..DG_SCHEDULER_MAX_STEPS, shift > 0 (flow shift), n > 0. */
int dg_scheduler_init(dg_scheduler *s, dg_sample_method method, int steps, double shift, size_t n);
void dg_scheduler_free(dg_scheduler *s);

/* The timestep the model receives at step i, 0 <= i < steps (diffusers passes
 * `t` as is). */
float dg_scheduler_timestep(const dg_scheduler *s, int i);

/* x <- one step from sigmas[i] to sigmas[i+1] given the model output v at x.
 * UniPC is multistep: steps must come in order 0, 1, ...; step 0 restarts. */
int dg_scheduler_step(dg_scheduler *s, int i, const float *v, float *x);

/* Per-solver pieces behind the functions above. The schedules fill
 * sigmas[steps + 1] and timesteps[steps]. */
void dg_flow_euler_schedule(int steps, double shift, float *sigmas, float *timesteps);
void dg_flow_euler_step(const dg_scheduler *s, int i, const float *v, float *x);
void dg_unipc_schedule(int steps, double shift, float *sigmas, float *timesteps);
void dg_unipc_step(dg_scheduler *s, int i, const float *v, float *x);

#endif
