/* Agent attention (sparse-attention.md §5): the fast path (BLAS) against a
 * slow implementation written straight from the formulas in double
 * (adaptive average pooling of Q, V_A = softmax(A K^T s) V,
 * O = softmax(Q A^T d^-(k_scale2/2)) V_A + k_shortcut V), the worked example
 * of §5(g) with one agent, the dense fallback when 2n >= N, the reported
 * cost ratio, and refusals. Tolerance 1e-5 * max|ref|. */
#include "tests/attn_masked_ref.h"

typedef struct {
    int T, H, W, heads, D, side, frames;
    double k_scale2, k_shortcut;
} agent_case;

/* PyTorch adaptive pooling bin i of n over L: [floor(iL/n), ceil((i+1)L/n)). */
static void bin(int i, int n, int L, int *lo, int *hi) {
    *lo = (int)floor((double)i * L / n);
    *hi = (int)ceil((double)(i + 1) * L / n);
}

static void agent_reference(float *o, const float *q, const float *k, const float *v, const dg_attn_shape *s,
                            const agent_case *c) {
    const int N = c->T * c->H * c->W, D = c->D, na = c->frames * c->side * c->side;
    double *A = malloc(sizeof(double) * na * D), *VA = malloc(sizeof(double) * na * D);
    double *row = malloc(sizeof(double) * (N > na ? N : na));
    const double s1 = 1.0 / sqrt((double)D), s2 = pow((double)D, -0.5 * c->k_scale2);
    for (int h = 0; h < c->heads; h++) {
        for (int a = 0; a < na; a++) {
            int t0, t1, y0, y1, x0, x1;
            bin(a / (c->side * c->side), c->frames, c->T, &t0, &t1);
            bin(a / c->side % c->side, c->side, c->H, &y0, &y1);
            bin(a % c->side, c->side, c->W, &x0, &x1);
            for (int d = 0; d < D; d++) {
                double sum = 0;
                for (int t = t0; t < t1; t++)
                    for (int y = y0; y < y1; y++)
                        for (int x = x0; x < x1; x++) sum += q[((t * c->H + y) * c->W + x) * s->q_stride + h * D + d];
                A[a * D + d] = sum / ((t1 - t0) * (y1 - y0) * (x1 - x0));
            }
        }
        for (int a = 0; a < na; a++) { /* agents attend all keys */
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < N; j++) {
                double dot = 0;
                for (int d = 0; d < D; d++) dot += A[a * D + d] * k[j * s->kv_stride + h * D + d];
                row[j] = s1 * dot;
                mx = row[j] > mx ? row[j] : mx;
            }
            for (int j = 0; j < N; j++) sum += row[j] = exp(row[j] - mx);
            for (int d = 0; d < D; d++) {
                double acc = 0;
                for (int j = 0; j < N; j++) acc += row[j] * v[j * s->kv_stride + h * D + d];
                VA[a * D + d] = acc / sum;
            }
        }
        for (int i = 0; i < N; i++) { /* queries attend the agents */
            double mx = -INFINITY, sum = 0;
            for (int a = 0; a < na; a++) {
                double dot = 0;
                for (int d = 0; d < D; d++) dot += q[i * s->q_stride + h * D + d] * A[a * D + d];
                row[a] = s2 * dot;
                mx = row[a] > mx ? row[a] : mx;
            }
            for (int a = 0; a < na; a++) sum += row[a] = exp(row[a] - mx);
            for (int d = 0; d < D; d++) {
                double acc = 0;
                for (int a = 0; a < na; a++) acc += row[a] * VA[a * D + d];
                o[i * s->q_stride + h * D + d] = (float)(acc / sum + c->k_shortcut * v[i * s->kv_stride + h * D + d]);
            }
        }
    }
    free(A), free(VA), free(row);
}

/* Runs the method on random inputs (padded strides); compares with ref_fn's
 * output. Returns the method's density. */
static double run_case(const agent_case *c, const char *json, int dense_ref, float *o_out) {
    const int64_t N = (int64_t)c->T * c->H * c->W, width = (int64_t)c->heads * c->D;
    dg_attn_geometry g = {.T = c->T, .H = c->H, .W = c->W, .heads = c->heads, .head_dim = c->D};
    dg_attn_shape s = {.nq = N, .nk = N, .heads = c->heads, .head_dim = c->D, .q_stride = width + 5,
                       .kv_stride = width + 2, .scale = 1.0f / sqrtf((float)c->D)};
    dg_attn_method *m = mref_create("agent", json);
    CHECK(m != NULL, "%s: %s", json, dg_last_error());
    if (!m) return -1;
    float *q = mref_random(N * s.q_stride, 2.0f), *k = mref_random(N * s.kv_stride, 2.0f);
    float *v = mref_random(N * s.kv_stride, 1.0f);
    float *o = calloc((size_t)(N * s.q_stride), sizeof(float)), *ref = calloc((size_t)(N * s.q_stride), sizeof(float));
    CHECK_OK(m->ops->prepare(m, &g));
    CHECK_OK(m->ops->run(m, o, q, k, v, &s));
    if (dense_ref) CHECK_OK(dg_attention_reference(ref, q, k, v, &s));
    else agent_reference(ref, q, k, v, &s, c);
    double e, r, d = m->ops->density(m);
    test_max_err(o, ref, (size_t)(N * s.q_stride), &e, &r);
    CHECK(e <= 1e-5 * r, "%s on %dx%dx%d: max err %.3g vs max|ref| %.3g", json, c->T, c->H, c->W, e, r);
    printf("%-62s %dx%dx%d density %.4f err/max %.2e\n", json, c->T, c->H, c->W, d, e / r);
    if (o_out) /* o - k_shortcut v, for the worked example */
        for (int64_t i = 0; i < N; i++)
            for (int64_t x = 0; x < width; x++)
                o_out[i * width + x] = o[i * s.q_stride + x] - (float)c->k_shortcut * v[i * s.kv_stride + x];
    free(q), free(k), free(v), free(o), free(ref);
    dg_attn_method_free(m);
    return d;
}

static void test_against_formulas(void) {
    agent_case c1 = {1, 7, 9, 2, 16, 3, 1, 0.3, 0.075}; /* uneven, overlapping bins */
    double d = run_case(&c1, "{\"agents\": 9}", 0, NULL);
    CHECK(d == 2.0 * 9 / 63, "density %.6f, want 2n/N = 18/63", d);
    agent_case c2 = {5, 6, 10, 3, 24, 2, 2, 0.3, 0.075}; /* two agent frames over T = 5 */
    run_case(&c2, "{\"agents\": 4, \"agent_frames\": 2}", 0, NULL);
    agent_case c3 = {3, 8, 8, 2, 32, 4, 1, 1.0, 0.0}; /* general module: d^-0.5 twice, no shortcut */
    run_case(&c3, "{\"agents\": 16, \"k_scale2\": 1, \"k_shortcut\": 0}", 0, NULL);
    agent_case c4 = {2, 16, 16, 2, 16, 7, 1, 0.3, 0.075}; /* defaults: 49 agents */
    d = run_case(&c4, "{}", 0, NULL);
    CHECK(d == 2.0 * 49 / 512, "default density %.6f, want 98/512", d);
}

/* §5(g): one agent -> the second softmax is 1, every query gets the same V_A
 * plus k_shortcut * V_i. */
static void test_worked_example(void) {
    agent_case c = {1, 4, 4, 1, 8, 1, 1, 0.3, 0.075};
    float o[16 * 8];
    run_case(&c, "{\"agents\": 1}", 0, o);
    double spread = 0;
    for (int i = 1; i < 16; i++)
        for (int x = 0; x < 8; x++) spread = fmax(spread, fabs(o[i * 8 + x] - o[x]));
    CHECK(spread < 1e-6, "one agent: o_i - 0.075 v_i varies by %.3g across queries", spread);
}

/* AgentSD runs plain attention when 2 * agents >= N. */
static void test_dense_fallback(void) {
    agent_case c = {1, 8, 8, 2, 16, 7, 1, 0.3, 0.075};
    double d = run_case(&c, "{\"agents\": 49}", 1, NULL);
    CHECK(d == 1.0, "fallback density %.4f, want 1", d);
}

static void test_refusals(void) {
    dg_attn_geometry g = {.T = 2, .H = 8, .W = 8, .heads = 1, .head_dim = 8};
    mref_expect_refusal("agent", "{\"agent\": 9}", NULL, "unknown parameter 'agent'");
    mref_expect_refusal("agent", "{\"agents\": 50}", NULL, "agents=50 must be a perfect square");
    mref_expect_refusal("agent", "{\"agents\": 0}", NULL, "agents=0 must be a perfect square");
    mref_expect_refusal("agent", "{\"agent_frames\": 0}", NULL, "agent_frames=0 out of range");
    mref_expect_refusal("agent", "{\"k_scale2\": -1}", NULL, "k_scale2=-1 out of range");
    mref_expect_refusal("agent", "{\"k_shortcut\": \"x\"}", NULL, "'k_shortcut' must be a finite number");
    mref_expect_refusal("agent", "{\"agents\": 81}", &g, "sqrt(agents)=9 larger than the frame");
    mref_expect_refusal("agent", "{\"agent_frames\": 3}", &g, "agent_frames=3 larger than T=2");
    g.text_tokens = 4;
    mref_expect_refusal("agent", NULL, &g, "text tokens in self-attention are not supported");
    /* Run with a shape that does not match the prepared geometry. */
    g.text_tokens = 0;
    dg_attn_method *m = mref_create("agent", "{\"agents\": 4}");
    if (m && m->ops->prepare(m, &g) == DG_OK) {
        float buf[8 * 200] = {0};
        dg_attn_shape s = {.nq = 100, .nk = 100, .heads = 1, .head_dim = 8, .q_stride = 8, .kv_stride = 8,
                           .scale = 0.35f};
        CHECK(m->ops->run(m, buf, buf, buf, buf, &s) != DG_OK && strstr(dg_last_error(), "prepared for 128 tokens"),
              "mismatched shape accepted or wrong message: %s", dg_last_error());
    }
    dg_attn_method_free(m);
}

int main(void) {
    test_against_formulas();
    test_worked_example();
    test_dense_fallback();
    test_refusals();
    return TEST_END();
}
