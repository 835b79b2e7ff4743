/* SoftPAG head perturbation (guidance-and-clip-parallel.md A3):
 * o_h = (1-u) o_h + u v_h per head. Checked against the definition it comes
 * from: attention with the map blended toward identity,
 * (1-u) softmax(QK^T s) V + u I V, computed from the reference attention;
 * u = 0 heads must stay bit-identical, stride padding untouched. */
#include "tests/attn_masked_ref.h"

int main(void) {
    const int64_t n = 37;
    const int heads = 4, D = 12, width = heads * D;
    dg_attn_shape s = {.nq = n, .nk = n, .heads = heads, .head_dim = D, .q_stride = width + 3,
                       .kv_stride = width + 5, .scale = 1.0f / sqrtf((float)D)};
    const float u[4] = {0.0f, 0.25f, 1.0f, 0.5f};
    float *q = mref_random(n * s.q_stride, 1.0f), *k = mref_random(n * s.kv_stride, 1.0f);
    float *v = mref_random(n * s.kv_stride, 1.0f);
    float *o = malloc((size_t)(n * s.q_stride) * sizeof(float)), *before = malloc((size_t)(n * s.q_stride) * sizeof(float));
    if (!q || !k || !v || !o || !before) {
        CHECK(0, "out of memory");
        return TEST_END();
    }
    for (int64_t i = 0; i < n * s.q_stride; i++) o[i] = -7.0f; /* padding sentinel */
    CHECK_OK(dg_attention_reference(o, q, k, v, &s));
    memcpy(before, o, (size_t)(n * s.q_stride) * sizeof(float));
    dg_attn_perturb_heads(o, v, &s, u);

    int same0 = 1, pad = 1;
    double e = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t x = 0; x < s.q_stride; x++) {
            const float got = o[i * s.q_stride + x], was = before[i * s.q_stride + x];
            if (x >= width) {
                pad &= got == -7.0f;
                continue;
            }
            const int h = (int)(x / D);
            if (h == 0) same0 &= got == was;
            /* Identity map: query i takes v_i. */
            double want = (1.0 - u[h]) * was + u[h] * v[i * s.kv_stride + x];
            e = fmax(e, fabs(got - want));
        }
    CHECK(same0, "head with u = 0 changed");
    CHECK(pad, "stride padding written");
    CHECK(e < 1e-6, "max error %.3g vs (1-u) A V + u V", e);
    /* u = 1 on head 2 is plain PAG: exactly V. */
    int pag = 1;
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < D; c++) pag &= o[i * s.q_stride + 2 * D + c] == v[i * s.kv_stride + 2 * D + c];
    CHECK(pag, "u = 1 must give V exactly");
    free(q), free(k), free(v), free(o), free(before);
    return TEST_END();
}
