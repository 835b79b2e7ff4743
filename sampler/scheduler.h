/* Flow-matching schedulers for Wan, matching diffusers step for step:
 *  - DG_SAMPLE_EULER: FlowMatchEulerDiscreteScheduler(shift=S, ...)
 *  - DG_SAMPLE_UNIPC: UniPCMultistepScheduler(prediction_type="flow_prediction",
 *    use_flow_sigmas=True, flow_shift=S, ...); the Wan diffusers folders ship solver_order 2,
 *    bh2, lower_order_final, final_sigmas_type "zero".
 * The other scheduler_config.json fields that change the result are dg_scheduler_opts
 * (sampler/scheduler_config.c reads them and refuses what it cannot follow).
 * Latents are host float arrays of n elements; the model output is the
 * velocity v. The schedule is computed in float64 and cast as diffusers does;
 * the step arithmetic is float32, op for op. */
#ifndef DG_SAMPLER_SCHEDULER_H
#define DG_SAMPLER_SCHEDULER_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "ditgen.h" /* dg_sample_method, its name parser and printer */

/* The most denoising steps: the schedules sample num_train_timesteps (1000) training
 * timesteps, and more steps would repeat them. The one limit on steps: the pipeline
 * check, the CLI and the model-folder defaults use it. */
#define DG_SCHEDULER_MAX_STEPS 1000
/* The flow shift's range, wherever it comes from (flag, scheduler_config.json, API): beyond it the
 * sigmas collapse to 0 or 1 in float and the schedule is meaningless (an infinite one gives NaN). */
#define DG_FLOW_SHIFT_MIN 1e-3
#define DG_FLOW_SHIFT_MAX 1000.0
#define DG_UNIPC_MAX_ORDER 3

/* Where a schedule's sigmas lie between its ends (FlowMatchEuler's use_*_sigmas). */
typedef enum { DG_SIGMAS_FLOW, DG_SIGMAS_KARRAS, DG_SIGMAS_EXPONENTIAL } dg_sigma_spacing;

/* scheduler_config.json beyond the class and the shift; dg_scheduler_opts_default gives the
 * diffusers class defaults (what a Wan folder ships). */
typedef struct dg_scheduler_opts {
    int num_train_timesteps;
    double shift_terminal; /* 0: none; else the last shifted sigma is stretched to 1 - this */
    /* UniPC */
    int solver_order;      /* 1..3 */
    int lower_order_final; /* lower orders in the last steps */
    int bh1;               /* solver_type "bh1" (B(h) = h) instead of "bh2" (B(h) = e^h - 1) */
    int final_sigma_min;   /* final_sigmas_type "sigma_min": the last step ends at the last sigma, not 0 */
    unsigned char corrector_off[DG_SCHEDULER_MAX_STEPS]; /* disable_corrector: no UniC after step i */
    /* Euler */
    dg_sigma_spacing spacing;
    int invert_sigmas; /* sigmas 1 - sigma, ending at 1 */
} dg_scheduler_opts;

void dg_scheduler_opts_default(dg_scheduler_opts *o);

typedef struct dg_scheduler {
    dg_sample_method method;
    int steps;
    double shift;
    dg_scheduler_opts opts;
    size_t n;         /* elements per latent */
    float *sigmas;    /* steps + 1, the last is 0 */
    float *timesteps; /* steps: the t the model receives (integers for UniPC) */
    /* UniPC multistep state (unused by Euler). */
    int next_step;        /* the only step index accepted next (0 restarts) */
    int this_order;       /* predictor order of the previous step = corrector order now */
    int lower_order_nums; /* warm-up counter, saturates at the solver order */
    float *m[DG_UNIPC_MAX_ORDER + 1]; /* x0 predictions: m[0] at step i, m[k] at step i-k */
    float *last_sample;              /* sample before the previous predictor */
} dg_scheduler;

/* The method a diffusers scheduler class (scheduler_config.json's _class_name) runs, and the
 * config key of its flow shift. */
int dg_sample_method_from_class(const char *cls, dg_sample_method *m, const char **shift_key);

/* A scheduler_config.json (already parsed; path names it in messages): the method, its shift
 * (the class default 1.0 when absent) and the options; a field whose value diffusers would
 * follow and ditgen cannot is refused, naming the file and the field. */
int dg_scheduler_config_read(const char *path, const cJSON *j, dg_sample_method *method, double *shift,
                             dg_scheduler_opts *opts);

/* steps in 1..DG_SCHEDULER_MAX_STEPS, shift > 0 (flow shift), n > 0; opts NULL: the defaults. */
int dg_scheduler_init(dg_scheduler *s, dg_sample_method method, int steps, double shift,
                      const dg_scheduler_opts *opts, size_t n);
void dg_scheduler_free(dg_scheduler *s);

/* The timestep the model receives at step i, 0 <= i < steps (diffusers passes
 * `t` as is). */
float dg_scheduler_timestep(const dg_scheduler *s, int i);

/* x <- one step from sigmas[i] to sigmas[i+1] given the model output v at x.
 * UniPC is multistep: steps must come in order 0, 1, ...; step 0 restarts. */
int dg_scheduler_step(dg_scheduler *s, int i, const float *v, float *x);

/* Per-solver pieces behind the functions above. The schedules fill
 * sigmas[steps + 1] and timesteps[steps]. */
/* shift_terminal's stretch of float64 sigmas[0..n) in place (diffusers' stretch_shift_to_terminal). */
void dg_flow_stretch_to_terminal(double *sigmas, int n, double shift_terminal);
void dg_flow_euler_schedule(int steps, double shift, const dg_scheduler_opts *o, float *sigmas, float *timesteps);
void dg_flow_euler_step(const dg_scheduler *s, int i, const float *v, float *x);
void dg_unipc_schedule(int steps, double shift, const dg_scheduler_opts *o, float *sigmas, float *timesteps);
void dg_unipc_step(dg_scheduler *s, int i, const float *v, float *x);

#endif
