/* The text-encoder ops of the backend table on the CPU against slow obvious
 * loops: mul and relu (exact), gather_rows (exact, f32 and bf16 tables, range
 * check), attention_pos_bias (double-precision reference, max abs error
 * <= 1e-5 x max|reference|) with nq != nk, head_dim not a multiple of 16,
 * with and without position and key bias, and masked keys getting no weight. */
#include <float.h>
#include <string.h>

#include "core/ops.h"
#include "tests/fixture.h"

static dg_backend be;
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

/* Uniform in [-1, 1). */
static float rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1 << 23) - 1.0);
}

static dg_tensor random_tensor(const char *name, int ndim, const int64_t *shape, float mag) {
    dg_tensor t;
    CHECK_OK(dg_tensor_alloc(&t, &be, DG_F32, ndim, shape));
    t.name = name;
    float *d = t.data;
    for (int64_t i = 0; i < dg_tensor_numel(&t); i++) d[i] = mag * rnd();
    return t;
}

static void test_elementwise(void) {
    int64_t s[2] = {3, 77};
    dg_tensor a = random_tensor("a", 2, s, 2.0f), b = random_tensor("b", 2, s, 2.0f), y = random_tensor("y", 2, s, 1);
    const float *ad = a.data, *bd = b.data, *yd = y.data;
    CHECK_OK(dg_mul(&y, &a, &b));
    int bad = 0;
    for (int i = 0; i < 231; i++) bad += yd[i] != ad[i] * bd[i];
    CHECK(bad == 0, "mul: %d elements differ", bad);
    CHECK_OK(dg_relu(&y, &a));
    bad = 0;
    for (int i = 0; i < 231; i++) bad += yd[i] != (ad[i] > 0 ? ad[i] : 0.0f);
    CHECK(bad == 0, "relu: %d elements differ", bad);
    CHECK_OK(dg_relu(&a, &a)); /* in place */
    CHECK(memcmp(a.data, y.data, 231 * sizeof(float)) == 0, "relu in place differs");
    int64_t s2[2] = {77, 3};
    dg_tensor c = random_tensor("c", 2, s2, 1);
    CHECK(dg_mul(&y, &b, &c) != DG_OK && strstr(dg_last_error(), "c"), "mul shape error: %s", dg_last_error());
    dg_tensor_free(&a), dg_tensor_free(&b), dg_tensor_free(&c), dg_tensor_free(&y);
}

static void test_gather(void) {
    int64_t ts[2] = {5, 6}, ys[2] = {4, 6};
    dg_tensor table = random_tensor("table", 2, ts, 3.0f), y = random_tensor("gathered", 2, ys, 1);
    const int32_t rows[4] = {4, 0, 4, 2};
    const float *td = table.data, *yd = y.data;
    CHECK_OK(dg_gather_rows(&y, &table, rows));
    int bad = 0;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 6; c++) bad += yd[r * 6 + c] != td[rows[r] * 6 + c];
    CHECK(bad == 0, "gather_rows f32: %d elements differ", bad);
    /* a bf16 table gathers its rows widened to f32 */
    uint16_t t16[30];
    dg_convert_from_f32(t16, DG_BF16, td, 30);
    dg_tensor table16;
    CHECK_OK(dg_tensor_view(&table16, &be, DG_BF16, 2, ts, t16));
    CHECK_OK(dg_gather_rows(&y, &table16, rows));
    bad = 0;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 6; c++) bad += yd[r * 6 + c] != dg_bf16_to_f32(t16[rows[r] * 6 + c]);
    CHECK(bad == 0, "gather_rows bf16: %d elements differ", bad);
    const int32_t out_of_range[4] = {0, 5, 1, 1};
    CHECK(dg_gather_rows(&y, &table, out_of_range) != DG_OK && strstr(dg_last_error(), "index 5"),
          "gather_rows range error: %s", dg_last_error());
    dg_tensor_free(&table), dg_tensor_free(&y);
}

/* o = softmax((scale q.k + pos) + key) v per head, in double. */
static void attention_ref(float *o, const float *q, const float *k, const float *v, const float *pos,
                          const float *key, int64_t nq, int64_t nk, int heads, int d, float scale) {
    const int64_t ld = (int64_t)heads * d;
    double *p = malloc((size_t)nk * sizeof(double));
    for (int h = 0; h < heads; h++)
        for (int64_t i = 0; i < nq; i++) {
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < nk; j++) {
                double s = 0;
                for (int c = 0; c < d; c++) s += (double)q[i * ld + h * d + c] * k[j * ld + h * d + c];
                p[j] = scale * s + (pos ? pos[(j - i + nq - 1) * heads + h] : 0) + (key ? key[j] : 0);
                if (p[j] > mx) mx = p[j];
            }
            for (int64_t j = 0; j < nk; j++) sum += (p[j] = exp(p[j] - mx));
            for (int c = 0; c < d; c++) {
                double acc = 0;
                for (int64_t j = 0; j < nk; j++) acc += p[j] / sum * v[j * ld + h * d + c];
                o[i * ld + h * d + c] = (float)acc;
            }
        }
    free(p);
}

static void check_attention(const char *what, int64_t nq, int64_t nk, int heads, int d, int with_pos, int masked,
                            float scale) {
    int64_t qs[2] = {nq, (int64_t)heads * d}, ks[2] = {nk, (int64_t)heads * d}, ps[2] = {nq + nk - 1, heads};
    int64_t bs[1] = {nk};
    dg_tensor q = random_tensor("q", 2, qs, 1), k = random_tensor("k", 2, ks, 1), v = random_tensor("v", 2, ks, 1);
    dg_tensor o = random_tensor("o", 2, qs, 1), pos = random_tensor("pos", 2, ps, 2), key = random_tensor("key", 1, bs, 0);
    float *kb = key.data, *vd = v.data;
    for (int64_t j = 0; j < nk; j++) kb[j] = masked && j % 3 == 1 ? -FLT_MAX : 0.0f;
    /* masked keys get exactly zero weight: huge values there must not leak into o */
    for (int64_t j = 0; masked && j < nk; j++)
        for (int64_t c = 0; j % 3 == 1 && c < ks[1]; c++) vd[j * ks[1] + c] = 1e30f;
    const dg_tensor *pb = with_pos ? &pos : NULL, *kbias = masked ? &key : NULL;
    CHECK_OK(dg_attention_pos_bias(&o, &q, &k, &v, pb, kbias, heads, scale));
    float *ref = malloc((size_t)dg_tensor_numel(&o) * sizeof(float));
    attention_ref(ref, q.data, k.data, v.data, with_pos ? pos.data : NULL, masked ? kb : NULL, nq, nk, heads, d,
                  scale);
    check_close(what, o.data, ref, (size_t)dg_tensor_numel(&o), 1e-5);
    free(ref);
    dg_tensor_free(&q), dg_tensor_free(&k), dg_tensor_free(&v), dg_tensor_free(&o), dg_tensor_free(&pos),
        dg_tensor_free(&key);
}

static void test_attention(void) {
    check_attention("attn_pos_bias T5 square", 37, 37, 2, 64, 1, 0, 1.0f);
    check_attention("attn_pos_bias nq<nk d=5", 7, 19, 3, 5, 1, 1, 0.3f);
    check_attention("attn_pos_bias nq>nk masked", 21, 6, 4, 17, 1, 1, 1.0f);
    check_attention("attn_pos_bias no biases", 9, 33, 1, 16, 0, 0, 0.25f);
    check_attention("attn_pos_bias one token", 1, 1, 2, 3, 1, 0, 1.0f);
    /* refusals name the problem */
    int64_t qs[2] = {4, 12}, ps[2] = {6, 3};
    dg_tensor q = random_tensor("q", 2, qs, 1), o = random_tensor("o", 2, qs, 1), pos = random_tensor("pos", 2, ps, 1);
    CHECK(dg_attention_pos_bias(&o, &q, &q, &q, NULL, NULL, 5, 1.0f) != DG_OK && strstr(dg_last_error(), "5 heads"),
          "heads error: %s", dg_last_error());
    CHECK(dg_attention_pos_bias(&o, &q, &q, &q, &pos, NULL, 3, 1.0f) != DG_OK &&
              strstr(dg_last_error(), "position bias"),
          "position bias shape error: %s", dg_last_error());
    CHECK(dg_attention_pos_bias(&q, &q, &q, &q, NULL, NULL, 3, 1.0f) != DG_OK && strstr(dg_last_error(), "aliases"),
          "alias error: %s", dg_last_error());
    dg_tensor_free(&q), dg_tensor_free(&o), dg_tensor_free(&pos);
}

int main(void) {
    CHECK_OK(dg_backend_cpu_init(&be, 0));
    test_elementwise();
    test_gather();
    test_attention();
    dg_backend_free(&be);
    return TEST_END();
}
