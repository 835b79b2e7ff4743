/* FlowMatchEulerDiscreteScheduler (diffusers 0.42) with a static shift: float timesteps
 * sigma*N, x <- x + (sigma[i+1] - sigma[i]) * v; num_train_timesteps N, shift_terminal,
 * Karras or exponential spacing between the shifted ends, invert_sigmas. */
#include <math.h>
#include <stddef.h>

#include "sampler/scheduler.h"
#include "sampler/fp_exact.h"

/* __init__ shifts the float32 training grid N..1 / N in float32 torch ops; set_timesteps only
 * needs its two ends. */
static float shifted_train_sigma(float t, float n_train, double shift) {
    float s = t / n_train;
    return ((float)shift * s) / (1.0f + (float)(shift - 1.0) * s);
}

/* np.linspace(start, stop, steps) in float64: y = k*step + start, the last exactly stop. */
static double linspace_at(double start, double stop, int steps, int k) {
    double step = steps > 1 ? (stop - start) / (steps - 1) : 0.0;
    return k == steps - 1 && steps > 1 ? stop : (double)k * step + start;
}

/* _convert_to_karras / _convert_to_exponential between the shifted ends, in float64. */
static void respace(dg_sigma_spacing spacing, double *sg, int steps) {
    const double hi = sg[0], lo = sg[steps - 1];
    if (spacing == DG_SIGMAS_KARRAS) {
        const double rho = 7.0, max_inv = pow(hi, 1.0 / rho), min_inv = pow(lo, 1.0 / rho);
        for (int k = 0; k < steps; k++) sg[k] = pow(max_inv + linspace_at(0.0, 1.0, steps, k) * (min_inv - max_inv), rho);
    } else {
        for (int k = 0; k < steps; k++) sg[k] = exp(linspace_at(log(hi), log(lo), steps, k));
    }
}

void dg_flow_euler_schedule(int steps, double shift, const dg_scheduler_opts *o, float *sigmas, float *timesteps) {
    /* set_timesteps: np.linspace(sigma_max*N, sigma_min*N, steps) in float64, /N, shift again
     * in float64 (then stretch and respacing), cast to float32; timesteps = float32(sigma) * N
     * in float32. */
    const float n_train = (float)o->num_train_timesteps;
    double start = (double)shifted_train_sigma(n_train, n_train, shift) * n_train;
    double stop = (double)shifted_train_sigma(1.0f, n_train, shift) * n_train;
    double sg[DG_SCHEDULER_MAX_STEPS] = {0};
    for (int k = 0; k < steps; k++) {
        double t = linspace_at(start, stop, steps, k) / n_train;
        sg[k] = shift * t / (1.0 + (shift - 1.0) * t);
    }
    if (o->shift_terminal > 0) dg_flow_stretch_to_terminal(sg, steps, o->shift_terminal);
    if (o->spacing != DG_SIGMAS_FLOW) respace(o->spacing, sg, steps);
    for (int k = 0; k < steps; k++) {
        sigmas[k] = (float)sg[k];
        if (o->invert_sigmas) sigmas[k] = 1.0f - sigmas[k];
        timesteps[k] = sigmas[k] * n_train;
    }
    sigmas[steps] = o->invert_sigmas ? 1.0f : 0.0f;
}

void dg_flow_euler_step(const dg_scheduler *s, int i, const float *v, float *x) {
    float dt = s->sigmas[i + 1] - s->sigmas[i];
    for (size_t j = 0; j < s->n; j++) x[j] = x[j] + dt * v[j];
}
