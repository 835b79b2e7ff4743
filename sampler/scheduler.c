/* Scheduler object: validation, storage and dispatch to the solvers. */
#include "sampler/scheduler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int dg_scheduler_init(dg_scheduler *s, dg_sample_method method, int steps, double shift, size_t n) {
    memset(s, 0, sizeof(*s));
    DG_CHECK(method == DG_SAMPLE_EULER || method == DG_SAMPLE_UNIPC, "scheduler: unknown sample method %d",
             (int)method);
    DG_CHECK(steps > 0 && steps <= DG_SCHEDULER_MAX_STEPS, "steps %d must be in 1..%d", steps, DG_SCHEDULER_MAX_STEPS);
    DG_CHECK(isfinite(shift) && shift > 0, "flow_shift %g must be a positive number", shift);
    DG_CHECK(n > 0, "scheduler: latent has no elements");
    s->method = method;
    s->steps = steps;
    s->shift = shift;
    s->n = n;
    s->sigmas = malloc(sizeof(float) * (size_t)(steps + 1));
    s->timesteps = malloc(sizeof(float) * (size_t)steps);
    if (!s->sigmas || !s->timesteps) goto oom;
    if (method == DG_SAMPLE_EULER) {
        dg_flow_euler_schedule(steps, shift, s->sigmas, s->timesteps);
    } else {
        dg_unipc_schedule(steps, shift, s->sigmas, s->timesteps);
        s->m_older = malloc(sizeof(float) * n);
        s->m_last = malloc(sizeof(float) * n);
        s->m_new = malloc(sizeof(float) * n);
        s->last_sample = malloc(sizeof(float) * n);
        if (!s->m_older || !s->m_last || !s->m_new || !s->last_sample) goto oom;
    }
    return DG_OK;
oom:
    dg_scheduler_free(s);
    return dg_error("scheduler: out of memory (%d steps, %zu elements)", steps, n);
}

void dg_scheduler_free(dg_scheduler *s) {
    free(s->sigmas);
    free(s->timesteps);
    free(s->m_older);
    free(s->m_last);
    free(s->m_new);
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
