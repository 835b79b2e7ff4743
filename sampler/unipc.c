/* UniPCMultistepScheduler (diffusers 0.42) with flow sigmas, flow_prediction and predict_x0:
 * solver_order 1..3, bh1 or bh2, lower_order_final, disable_corrector, final sigma zero or
 * sigma_min, num_train_timesteps, shift_terminal.
 *
 * Per step i (sample x, velocity v):
 *   m_i = x - sigma_i * v                               x0 prediction
 *   if i > 0 and the corrector is on after step i-1:
 *       x = UniC(m_i; last_sample, m_{i-1}, ...) of order this_order
 *   this_order = min(solver_order, steps - i if lower_order_final, lower_order_nums + 1)
 *   last_sample = x;  x = UniP(x; m_i, m_{i-1}, ...) of order this_order
 * Every scalar is a float32 0-dim tensor in diffusers, so the coefficients are
 * float32 here too; log/expm1 are rounded from float64 (torch's MKL kernels
 * are within an ulp of that). */
#include <math.h>
#include <string.h>

#include "sampler/scheduler.h"
#include "sampler/fp_exact.h"

void dg_unipc_schedule(int steps, double shift, const dg_scheduler_opts *o, float *sigmas, float *timesteps) {
    /* np.linspace(1, 1/N, steps + 1)[:-1] (y = k*step + 1), flow shift in float64, the
     * optional stretch to shift_terminal, sigma_0 -= 1e-6 so log(1 - sigma_0) stays finite;
     * timesteps are int64(sigma*N) (truncation) from the float64 sigmas. */
    const double n_train = o->num_train_timesteps;
    double sg[DG_SCHEDULER_MAX_STEPS] = {0};
    double step = (1.0 / n_train - 1.0) / steps;
    for (int k = 0; k < steps; k++) {
        double t = (double)k * step + 1.0;
        sg[k] = shift * t / (1.0 + (shift - 1.0) * t);
    }
    if (o->shift_terminal > 0) dg_flow_stretch_to_terminal(sg, steps, o->shift_terminal);
    if (fabs(sg[0] - 1.0) < 1e-6) sg[0] -= 1e-6;
    for (int k = 0; k < steps; k++) {
        timesteps[k] = (float)(long long)(sg[k] * n_train);
        sigmas[k] = (float)sg[k];
    }
    sigmas[steps] = o->final_sigma_min ? (float)sg[steps - 1] : 0.0f;
}

static float f32_log(float a) { return (float)log((double)a); }
static float f32_expm1(float a) { return (float)expm1((double)a); }

/* lambda = log(alpha) - log(sigma) with alpha = 1 - sigma; +inf at sigma 0. */
static float lambda_of(float sigma) { return f32_log(1.0f - sigma) - f32_log(sigma); }

/* What both updates share, going from sigma_s0 to sigma_t. */
typedef struct {
    float lambda_s0, h;
    float ratio;                   /* sigma_t / sigma_s0 */
    float a_phi;                   /* alpha_t * h_phi_1 */
    float a_b;                     /* alpha_t * B_h */
    float b[DG_UNIPC_MAX_ORDER];   /* b vector of the order conditions */
} coeffs;

static coeffs make_coeffs(float sigma_t, float sigma_s0, int bh1) {
    coeffs c;
    float alpha_t = 1.0f - sigma_t;
    c.lambda_s0 = lambda_of(sigma_s0);
    c.h = lambda_of(sigma_t) - c.lambda_s0;
    float hh = -c.h; /* predict_x0 */
    float h_phi_1 = f32_expm1(hh);
    float b_h = bh1 ? hh : f32_expm1(hh);
    /* h_phi_k recursion of multistep_uni_{p,c}_bh_update: b_k = h_phi_k * k! / B_h */
    float h_phi_k = h_phi_1 / hh - 1.0f;
    int factorial = 1;
    for (int k = 1; k <= DG_UNIPC_MAX_ORDER; k++) {
        c.b[k - 1] = h_phi_k * (float)factorial / b_h;
        factorial *= k + 1;
        h_phi_k = h_phi_k / hh - (float)(1.0 / factorial);
    }
    c.ratio = sigma_t / sigma_s0;
    c.a_phi = alpha_t * h_phi_1;
    c.a_b = alpha_t * b_h;
    return c;
}

/* torch.linalg.solve(a, y) for n <= 3 in float32 the way LAPACK getrf/getrs do it (partial
 * pivoting, column scaled by the pivot's reciprocal, fused forward substitution, back
 * substitution by reciprocal); bit-identical to torch's MKL on CPU for n = 2. */
static void solve(int n, float a[DG_UNIPC_MAX_ORDER][DG_UNIPC_MAX_ORDER], float *y) {
    for (int k = 0; k < n; k++) {
        int p = k;
        for (int r = k + 1; r < n; r++)
            if (fabsf(a[r][k]) > fabsf(a[p][k])) p = r;
        if (p != k) {
            for (int c = 0; c < n; c++) {
                float t = a[k][c];
                a[k][c] = a[p][c], a[p][c] = t;
            }
            float t = y[k];
            y[k] = y[p], y[p] = t;
        }
        float inv = 1.0f / a[k][k];
        for (int r = k + 1; r < n; r++) a[r][k] *= inv;
        for (int r = k + 1; r < n; r++)
            for (int c = k + 1; c < n; c++) a[r][c] = a[r][c] - a[r][k] * a[k][c];
    }
    for (int c = 0; c < n; c++)
        for (int r = c + 1; r < n; r++) y[r] = fmaf(-a[r][c], y[c], y[r]);
    for (int c = n - 1; c >= 0; c--) {
        y[c] = y[c] * (1.0f / a[c][c]);
        for (int r = 0; r < c; r++) y[r] = y[r] - a[r][c] * y[c];
    }
}

/* rks[k-1] = (lambda(sigma of the k-th older output) - lambda_s0) / h, k = 1..p-1, and the
 * rho solving the first `rows` order conditions R rho = b with R[r][k] = rks[k]^r (rks[p-1] = 1). */
static void rhos(const coeffs *c, int p, int rows, const float *rks, float *rho) {
    float a[DG_UNIPC_MAX_ORDER][DG_UNIPC_MAX_ORDER];
    for (int r = 0; r < rows; r++) {
        for (int k = 0; k < rows; k++) {
            float rk = k < p - 1 ? rks[k] : 1.0f;
            a[r][k] = r == 0 ? 1.0f : r == 1 ? rk : rk * rk;
        }
        rho[r] = c->b[r];
    }
    solve(rows, a, rho);
}

/* Corrector at step i, order p: rewrites x from last_sample with the new m[0]. */
static void corrector(dg_scheduler *s, int i, int p, float *x) {
    coeffs c = make_coeffs(s->sigmas[i], s->sigmas[i - 1], s->opts.bh1);
    const float *m0 = s->m[1], *mt = s->m[0], *xl = s->last_sample;
    float rks[DG_UNIPC_MAX_ORDER], rho[DG_UNIPC_MAX_ORDER];
    for (int k = 1; k < p; k++) rks[k - 1] = (lambda_of(s->sigmas[i - (k + 1)]) - c.lambda_s0) / c.h;
    if (p == 1) rho[0] = 0.5f;
    else rhos(&c, p, p, rks, rho);
    for (size_t j = 0; j < s->n; j++) {
        float x_ = c.ratio * xl[j] - c.a_phi * m0[j];
        float res = 0.0f;
        for (int k = 1; k < p; k++) res = res + rho[k - 1] * ((s->m[1 + k][j] - m0[j]) / rks[k - 1]);
        x[j] = x_ - c.a_b * (res + rho[p - 1] * (mt[j] - m0[j]));
    }
}

/* Predictor from sigma_i to sigma_{i+1}, order p; x in place. */
static void predictor(const dg_scheduler *s, int i, int p, float *x) {
    coeffs c = make_coeffs(s->sigmas[i + 1], s->sigmas[i], s->opts.bh1);
    const float *m0 = s->m[0];
    if (p == 1) {
        for (size_t j = 0; j < s->n; j++) x[j] = c.ratio * x[j] - c.a_phi * m0[j];
        return;
    }
    float rks[DG_UNIPC_MAX_ORDER], rho[DG_UNIPC_MAX_ORDER];
    for (int k = 1; k < p; k++) rks[k - 1] = (lambda_of(s->sigmas[i - k]) - c.lambda_s0) / c.h;
    if (p == 2) rho[0] = 0.5f; /* diffusers' fixed value for order 2 */
    else rhos(&c, p, p - 1, rks, rho);
    for (size_t j = 0; j < s->n; j++) {
        float x_ = c.ratio * x[j] - c.a_phi * m0[j];
        float res = rho[0] * ((s->m[1][j] - m0[j]) / rks[0]);
        for (int k = 2; k < p; k++) res = res + rho[k - 1] * ((s->m[k][j] - m0[j]) / rks[k - 1]);
        x[j] = x_ - c.a_b * res;
    }
}

void dg_unipc_step(dg_scheduler *s, int i, const float *v, float *x) {
    const dg_scheduler_opts *o = &s->opts;
    if (i == 0) s->this_order = 0, s->lower_order_nums = 0;
    /* The oldest output's buffer takes the new one: m[k] now holds step i-k. */
    float *oldest = s->m[o->solver_order];
    memmove(&s->m[1], &s->m[0], sizeof(s->m[0]) * (size_t)o->solver_order);
    s->m[0] = oldest;
    float sigma = s->sigmas[i];
    for (size_t j = 0; j < s->n; j++) s->m[0][j] = x[j] - sigma * v[j];
    if (i > 0 && !o->corrector_off[i - 1]) corrector(s, i, s->this_order, x);

    int order = o->solver_order;
    if (o->lower_order_final && s->steps - i < order) order = s->steps - i;
    if (order > s->lower_order_nums + 1) order = s->lower_order_nums + 1;
    s->this_order = order;
    memcpy(s->last_sample, x, sizeof(float) * s->n);
    predictor(s, i, order, x);
    if (s->lower_order_nums < o->solver_order) s->lower_order_nums++;
    s->next_step = i + 1;
}
