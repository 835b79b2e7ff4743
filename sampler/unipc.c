/* UniPCMultistepScheduler (diffusers 0.42) with flow sigmas, flow_prediction,
 * predict_x0, solver_order 2, bh2, lower_order_final, final sigma zero.
 *
 * Per step i (sample x, velocity v):
 *   m_i = x - sigma_i * v                               x0 prediction
 *   if i > 0: x = UniC(m_i; last_sample, m_{i-1}, m_{i-2}) of order this_order
 *   this_order = min(2, steps - i, lower_order_nums + 1)
 *   last_sample = x;  x = UniP(x; m_i, m_{i-1}) of order this_order
 * Every scalar is a float32 0-dim tensor in diffusers, so the coefficients are
 * float32 here too; log/expm1 are rounded from float64 (torch's MKL kernels
 * are within an ulp of that). */
#include <math.h>
#include <string.h>

#include "sampler/scheduler.h"
#include "sampler/fp_exact.h"

void dg_unipc_schedule(int steps, double shift, float *sigmas, float *timesteps) {
    /* np.linspace(1, 1/1000, steps + 1)[:-1] (y = k*step + 1), flow shift in
     * float64, sigma_0 -= 1e-6 so log(1 - sigma_0) stays finite; timesteps
     * are int64(sigma*1000) (truncation) from the float64 sigmas. */
    double step = (1.0 / 1000.0 - 1.0) / steps;
    for (int k = 0; k < steps; k++) {
        double sg = (double)k * step + 1.0;
        sg = shift * sg / (1.0 + (shift - 1.0) * sg);
        if (k == 0 && fabs(sg - 1.0) < 1e-6) sg -= 1e-6;
        timesteps[k] = (float)(long long)(sg * 1000.0);
        sigmas[k] = (float)sg;
    }
    sigmas[steps] = 0.0f;
}

static float f32_log(float a) { return (float)log((double)a); }
static float f32_expm1(float a) { return (float)expm1((double)a); }

/* lambda = log(alpha) - log(sigma) with alpha = 1 - sigma; +inf at sigma 0. */
static float lambda_of(float sigma) { return f32_log(1.0f - sigma) - f32_log(sigma); }

/* What both updates share, going from sigma_s0 to sigma_t. */
typedef struct {
    float lambda_s0, h;
    float ratio;    /* sigma_t / sigma_s0 */
    float a_phi;    /* alpha_t * h_phi_1 */
    float a_b;      /* alpha_t * B_h */
    float b1, b2;   /* b vector for orders 1 and 2 */
} coeffs;

static coeffs make_coeffs(float sigma_t, float sigma_s0) {
    coeffs c;
    float alpha_t = 1.0f - sigma_t;
    c.lambda_s0 = lambda_of(sigma_s0);
    c.h = lambda_of(sigma_t) - c.lambda_s0;
    float hh = -c.h; /* predict_x0 */
    float h_phi_1 = f32_expm1(hh);
    float b_h = f32_expm1(hh); /* bh2 */
    /* h_phi_k recursion of multistep_uni_{p,c}_bh_update, factorials 1, 2. */
    float h_phi_k = h_phi_1 / hh - 1.0f;
    c.b1 = h_phi_k * 1.0f / b_h;
    h_phi_k = h_phi_k / hh - (float)(1.0 / 2.0);
    c.b2 = h_phi_k * 2.0f / b_h;
    c.ratio = sigma_t / sigma_s0;
    c.a_phi = alpha_t * h_phi_1;
    c.a_b = alpha_t * b_h;
    return c;
}

/* torch.linalg.solve([[1, 1], [rk, 1]], [b1, b2]) in float32 the way LAPACK
 * getrf/getrs do it (partial pivoting, fused update of the right-hand side,
 * triangular solve by reciprocal); bit-identical to torch's MKL on CPU. */
static void solve2(float rk, float b1, float b2, float rho[2]) {
    float a00 = 1.0f, a01 = 1.0f, a10 = rk, a11 = 1.0f, y0 = b1, y1 = b2;
    if (fabsf(a10) > fabsf(a00)) {
        a00 = rk, a01 = 1.0f, a10 = 1.0f, a11 = 1.0f;
        y0 = b2, y1 = b1;
    }
    float l = a10 * (1.0f / a00);
    float u11 = a11 - l * a01;
    y1 = fmaf(-l, y0, y1);
    rho[1] = y1 * (1.0f / u11);
    rho[0] = (y0 - a01 * rho[1]) * (1.0f / a00);
}

/* Corrector at step i, order p (1 or 2): rewrites x from last_sample. */
static void corrector(dg_scheduler *s, int i, int p, float *x) {
    coeffs c = make_coeffs(s->sigmas[i], s->sigmas[i - 1]);
    const float *m0 = s->m_last, *m1 = s->m_older, *mt = s->m_new, *xl = s->last_sample;
    if (p == 1) {
        const float rho = 0.5f;
        for (size_t j = 0; j < s->n; j++) {
            float x_ = c.ratio * xl[j] - c.a_phi * m0[j];
            x[j] = x_ - c.a_b * (rho * (mt[j] - m0[j]));
        }
        return;
    }
    float rk = (lambda_of(s->sigmas[i - 2]) - c.lambda_s0) / c.h;
    float rho[2];
    solve2(rk, c.b1, c.b2, rho);
    for (size_t j = 0; j < s->n; j++) {
        float x_ = c.ratio * xl[j] - c.a_phi * m0[j];
        float d1 = (m1[j] - m0[j]) / rk;
        float res = rho[0] * d1 + rho[1] * (mt[j] - m0[j]);
        x[j] = x_ - c.a_b * res;
    }
}

/* Predictor from sigma_i to sigma_{i+1}, order p (1 or 2); x in place. */
static void predictor(const dg_scheduler *s, int i, int p, float *x) {
    coeffs c = make_coeffs(s->sigmas[i + 1], s->sigmas[i]);
    const float *m0 = s->m_new, *m1 = s->m_last;
    if (p == 1) {
        for (size_t j = 0; j < s->n; j++) x[j] = c.ratio * x[j] - c.a_phi * m0[j];
        return;
    }
    float rk = (lambda_of(s->sigmas[i - 1]) - c.lambda_s0) / c.h;
    const float rho = 0.5f; /* diffusers' fixed value for order 2 */
    for (size_t j = 0; j < s->n; j++) {
        float x_ = c.ratio * x[j] - c.a_phi * m0[j];
        float d1 = (m1[j] - m0[j]) / rk;
        x[j] = x_ - c.a_b * (rho * d1);
    }
}

void dg_unipc_step(dg_scheduler *s, int i, const float *v, float *x) {
    if (i == 0) s->this_order = 0, s->lower_order_nums = 0;
    float sigma = s->sigmas[i];
    for (size_t j = 0; j < s->n; j++) s->m_new[j] = x[j] - sigma * v[j];
    if (i > 0) corrector(s, i, s->this_order, x);

    int order = s->steps - i < 2 ? s->steps - i : 2; /* lower_order_final */
    if (order > s->lower_order_nums + 1) order = s->lower_order_nums + 1;
    s->this_order = order;
    memcpy(s->last_sample, x, sizeof(float) * s->n);
    predictor(s, i, order, x);
    if (s->lower_order_nums < 2) s->lower_order_nums++;

    /* Shift the history: m_{i-1} becomes m_{i-2}, m_i becomes m_{i-1}. */
    float *t = s->m_older;
    s->m_older = s->m_last;
    s->m_last = s->m_new;
    s->m_new = t;
    s->next_step = i + 1;
}
