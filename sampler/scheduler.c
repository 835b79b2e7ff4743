/* Scheduler object: validation, storage and dispatch to the solvers. */
#include "sampler/scheduler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "sampler/fp_exact.h"

void dg_scheduler_opts_default(dg_scheduler_opts *o) {
    memset(o, 0, sizeof(*o));
    o->num_train_timesteps = 1000;
    o->solver_order = 2;
    o->lower_order_final = 1;
}

void dg_flow_stretch_to_terminal(double *sigmas, int n, double shift_terminal) {
    double scale = (1.0 - sigmas[n - 1]) / (1.0 - shift_terminal);
    for (int k = 0; k < n; k++) sigmas[k] = 1.0 - (1.0 - sigmas[k]) / scale;
}

int dg_scheduler_init(dg_scheduler *s, dg_sample_method method, int steps, double shift,
                      const dg_scheduler_opts *opts, size_t n) {
    memset(s, 0, sizeof(*s));
    DG_CHECK(method == DG_SAMPLE_EULER || method == DG_SAMPLE_UNIPC, "scheduler: unknown sample method %d",
             (int)method);
    DG_CHECK(steps > 0 && steps <= DG_SCHEDULER_MAX_STEPS, "steps %d must be in 1..%d", steps, DG_SCHEDULER_MAX_STEPS);
    DG_CHECK(isfinite(shift) && shift > 0, "flow_shift %g must be a positive number", shift);
    DG_CHECK(n > 0, "scheduler: latent has no elements");
    if (opts) s->opts = *opts;
    else dg_scheduler_opts_default(&s->opts);
    const dg_scheduler_opts *o = &s->opts;
    DG_CHECK(o->num_train_timesteps >= 1, "scheduler: num_train_timesteps %d must be positive", o->num_train_timesteps);
    DG_CHECK(o->solver_order >= 1 && o->solver_order <= DG_UNIPC_MAX_ORDER, "scheduler: solver_order %d outside 1..%d",
             o->solver_order, DG_UNIPC_MAX_ORDER);
    DG_CHECK(o->shift_terminal >= 0 && o->shift_terminal < 1, "scheduler: shift_terminal %g outside [0, 1)",
             o->shift_terminal);
    s->method = method;
    s->steps = steps;
    s->shift = shift;
    s->n = n;
    s->sigmas = malloc(sizeof(float) * (size_t)(steps + 1));
    s->timesteps = malloc(sizeof(float) * (size_t)steps);
    if (!s->sigmas || !s->timesteps) goto oom;
    if (method == DG_SAMPLE_EULER) {
        dg_flow_euler_schedule(steps, shift, o, s->sigmas, s->timesteps);
    } else {
        dg_unipc_schedule(steps, shift, o, s->sigmas, s->timesteps);
        for (int k = 0; k <= o->solver_order; k++)
            if (!(s->m[k] = malloc(sizeof(float) * n))) goto oom;
        if (!(s->last_sample = malloc(sizeof(float) * n))) goto oom;
    }
    return DG_OK;
oom:
    dg_scheduler_free(s);
    return dg_error("scheduler: out of memory (%d steps, %zu elements)", steps, n);
}

void dg_scheduler_free(dg_scheduler *s) {
    free(s->sigmas);
    free(s->timesteps);
    for (int k = 0; k <= DG_UNIPC_MAX_ORDER; k++) free(s->m[k]);
    free(s->last_sample);
    memset(s, 0, sizeof(*s));
}

float dg_scheduler_timestep(const dg_scheduler *s, int i) {
    return s->timesteps[i];
}

int dg_scheduler_step(dg_scheduler *s, int i, const float *v, float *x) {
    DG_CHECK(i >= 0 && i < s->steps, "scheduler: step %d outside 0..%d", i, s->steps - 1);
    if (s->method == DG_SAMPLE_EULER) {
        dg_flow_euler_step(s, i, v, x);
        return DG_OK;
    }
    DG_CHECK(i == 0 || i == s->next_step, "unipc: step %d out of order (expected %d or 0 to restart)", i,
             s->next_step);
    dg_unipc_step(s, i, v, x);
    return DG_OK;
}
