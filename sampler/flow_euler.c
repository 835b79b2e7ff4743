/* FlowMatchEulerDiscreteScheduler (diffusers 0.42) with a static shift:
 * float timesteps sigma*1000, x <- x + (sigma[i+1] - sigma[i]) * v. */
#include <stddef.h>

#include "sampler/scheduler.h"
#include "sampler/fp_exact.h"

/* __init__ shifts the float32 training grid 1000..1 / 1000 in float32 torch
 * ops; set_timesteps only needs its two ends. */
static float shifted_train_sigma(float t, double shift) {
    float s = t / 1000.0f;
    return ((float)shift * s) / (1.0f + (float)(shift - 1.0) * s);
}

void dg_flow_euler_schedule(int steps, double shift, float *sigmas, float *timesteps) {
    /* set_timesteps: np.linspace(sigma_max*1000, sigma_min*1000, steps) in
     * float64 (y = k*step + start, last = stop), /1000, shift again in float64,
     * cast to float32; timesteps = float32(sigma) * 1000 in float32. */
    double start = (double)shifted_train_sigma(1000.0f, shift) * 1000.0;
    double stop = (double)shifted_train_sigma(1.0f, shift) * 1000.0;
    double step = steps > 1 ? (stop - start) / (steps - 1) : 0.0;
    for (int k = 0; k < steps; k++) {
        double t = k == steps - 1 && steps > 1 ? stop : (double)k * step + start;
        double sg = t / 1000.0;
        sg = shift * sg / (1.0 + (shift - 1.0) * sg);
        sigmas[k] = (float)sg;
        timesteps[k] = sigmas[k] * 1000.0f;
    }
    sigmas[steps] = 0.0f;
}

void dg_flow_euler_step(const dg_scheduler *s, int i, const float *v, float *x) {
    float dt = s->sigmas[i + 1] - s->sigmas[i];
    for (size_t j = 0; j < s->n; j++) x[j] = x[j] + dt * v[j];
}
