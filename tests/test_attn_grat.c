/* GRAT (sparse-attention.md §1): the spec's worked examples (§1(c) permutation,
 * §1(g) key counts), the HunyuanVideo density of §1(b), the block-sparse
 * engine vs a dense reference masked by allow() on divisible, partial-group,
 * image and joint-text geometries, and parameter/geometry refusals. */
#include "tests/attn_masked_ref.h"

static dg_attn_geometry geom(int T, int H, int W, int text, int text_first) {
    return (dg_attn_geometry){.T = T, .H = H, .W = W, .text_tokens = text, .text_first = text_first, .heads = 2,
                              .head_dim = 12};
}

/* Number of keys query i may see. */
static int64_t keys_of(const dg_attn_method *m, int64_t i) {
    int64_t c = 0, n = dg_attn_geometry_tokens(&m->geom);
    for (int64_t j = 0; j < n; j++) c += m->ops->allow(m, i, j) != 0;
    return c;
}

static void test_worked_examples(void) {
    /* §1(c): 2x4x4 with groups (1,2,2), permuted position -> original index. */
    static const int32_t want[32] = {0,  1,  4,  5,  2,  3,  6,  7,  8,  9,  12, 13, 10, 11, 14, 15,
                                     16, 17, 20, 21, 18, 19, 22, 23, 24, 25, 28, 29, 26, 27, 30, 31};
    dg_attn_method *m = mref_create("grat", "{\"group\": [1, 2, 2]}");
    CHECK(m != NULL, "create: %s", dg_last_error());
    if (!m) return;
    dg_attn_geometry g = geom(2, 4, 4, 0, 0);
    CHECK_OK(m->ops->prepare(m, &g));
    CHECK(m->layout.perm && !memcmp(m->layout.perm, want, sizeof want), "group-major permutation differs from §1(c)");
    /* §1(g): query (0,1,1) = index 5 sees all keys but group (1,1,1): 28. */
    CHECK(keys_of(m, 5) == 28, "3-D criss-cross: %lld keys, want 28", (long long)keys_of(m, 5));
    const int64_t refused[4] = {16 + 2 * 4 + 2, 16 + 2 * 4 + 3, 16 + 3 * 4 + 2, 16 + 3 * 4 + 3};
    for (int x = 0; x < 4; x++) CHECK(!m->ops->allow(m, 5, refused[x]), "key %lld should be refused", (long long)refused[x]);
    /* With 3 valid text tokens: + 3 keys; text queries see all 35. */
    g = geom(2, 4, 4, 3, 0);
    CHECK_OK(m->ops->prepare(m, &g));
    CHECK(keys_of(m, 5) == 31 && keys_of(m, 33) == 35, "text: %lld / %lld keys, want 31 / 35",
          (long long)keys_of(m, 5), (long long)keys_of(m, 33));
    /* Text first (Flux): the same query is index 3 + 5. */
    g = geom(2, 4, 4, 3, 1);
    CHECK_OK(m->ops->prepare(m, &g));
    CHECK(keys_of(m, 8) == 31 && keys_of(m, 0) == 35 && !m->ops->allow(m, 8, 3 + refused[0]),
          "text first: %lld / %lld keys", (long long)keys_of(m, 8), (long long)keys_of(m, 0));
    dg_attn_method_free(m);

    /* §1(g) image 1x8x8, groups 2x2, query (0,1,1) = index 9: 2-D rule, 28 keys. */
    m = mref_create("grat", "{\"group\": [4, 2, 2]}");
    g = geom(1, 8, 8, 0, 0);
    CHECK(m && m->ops->prepare(m, &g) == DG_OK, "image prepare: %s", dg_last_error());
    if (m) CHECK(keys_of(m, 9) == 28, "2-D criss-cross: %lld keys, want 28", (long long)keys_of(m, 9));
    dg_attn_method_free(m);
    /* GRAT-B, r = 1, same image: h, w in 0..3 -> 16 keys. */
    m = mref_create("grat", "{\"variant\": \"blocks\", \"group\": [1, 2, 2], \"radius\": [1, 1, 1]}");
    CHECK(m && m->ops->prepare(m, &g) == DG_OK, "GRAT-B prepare: %s", dg_last_error());
    if (m) {
        CHECK(keys_of(m, 9) == 16, "GRAT-B: %lld keys, want 16", (long long)keys_of(m, 9));
        for (int64_t j = 0; j < 64; j++)
            CHECK(m->ops->allow(m, 9, j) == (j / 8 < 4 && j % 8 < 4), "GRAT-B key %lld", (long long)j);
    }
    dg_attn_method_free(m);
}

/* §1(b): HunyuanVideo latent (32, 48, 80), groups 4x8x8: 165 of 480 key groups. */
static void test_hunyuan_density(void) {
    dg_attn_method *m = mref_create("grat", NULL);
    dg_attn_geometry g = geom(32, 48, 80, 0, 0);
    CHECK(m && m->ops->prepare(m, &g) == DG_OK, "prepare: %s", dg_last_error());
    if (m) {
        CHECK(m->ops->density(m) == 165.0 / 480.0, "density %.6f, want 165/480", m->ops->density(m));
        CHECK(m->layout.masks == NULL, "whole groups of 256 tokens need no element masks");
        printf("HunyuanVideo 32x48x80 groups 4x8x8: density %.4f\n", m->ops->density(m));
    }
    dg_attn_method_free(m);
}

/* The permutation is a bijection of the tokens (the layout checks it too) and
 * groups are contiguous: consecutive permuted positions within one group. */
static void test_permutation_round_trip(void) {
    dg_attn_method *m = mref_create("grat", "{\"group\": [2, 3, 4], \"partial_groups\": true}");
    dg_attn_geometry g = geom(5, 7, 9, 4, 1);
    CHECK(m && m->ops->prepare(m, &g) == DG_OK, "prepare: %s", dg_last_error());
    if (!m) return;
    const int64_t n = dg_attn_geometry_tokens(&g);
    int32_t *inv = malloc((size_t)n * sizeof(int32_t));
    for (int64_t i = 0; i < n; i++) inv[i] = -1;
    for (int64_t p = 0; p < n; p++) inv[m->layout.perm[p]] = (int32_t)p;
    int ok = 1;
    for (int64_t i = 0; i < n; i++) ok &= inv[i] >= 0 && m->layout.perm[inv[i]] == i;
    CHECK(ok, "perm is not a bijection");
    /* Text (original 0..3) comes last; the first group (0..1, 0..2, 0..3) first. */
    CHECK(m->layout.perm[n - 4] == 0 && m->layout.perm[0] == 4 && m->layout.perm[1] == 5 &&
              m->layout.perm[4] == 4 + 9 && m->layout.perm[12] == 4 + 63,
          "group-major order");
    free(inv);
    dg_attn_method_free(m);
}

static void test_fast_vs_reference(void) {
    struct {
        const char *json;
        dg_attn_geometry g;
        const char *label;
    } cases[] = {
        {NULL, {.T = 8, .H = 16, .W = 16, .heads = 1, .head_dim = 16}, "criss-cross 8x16x16 default groups"},
        {"{\"group\": [2, 4, 4], \"partial_groups\": true}", geom(5, 11, 13, 0, 0), "partial groups 5x11x13"},
        {"{\"group\": [2, 4, 4], \"partial_groups\": true}", geom(5, 11, 13, 7, 1), "partial groups + 7 text first"},
        {"{\"group\": [3, 5, 3], \"partial_groups\": true}", geom(4, 9, 10, 19, 0), "partial groups + 19 text last"},
        {"{\"group\": [1, 8, 8]}", geom(1, 24, 40, 77, 0), "image 24x40 + 77 text"},
        {"{\"group\": [1, 5, 7], \"partial_groups\": true}", geom(1, 23, 29, 0, 0), "image 23x29 partial"},
        {"{\"variant\": \"blocks\", \"group\": [1, 4, 4], \"radius\": [1, 1, 2], \"partial_groups\": true}",
         geom(3, 13, 17, 5, 1), "GRAT-B 3x13x17 + 5 text first"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        dg_attn_method *m = mref_create("grat", cases[c].json);
        CHECK(m != NULL, "%s: create: %s", cases[c].label, dg_last_error());
        if (!m) continue;
        double d = mref_check(m, &cases[c].g, cases[c].label);
        CHECK(d > 0 && d < 1, "%s: density %.4f should be sparse", cases[c].label, d);
        dg_attn_method_free(m);
    }
}

static void test_refusals(void) {
    dg_attn_geometry wan = geom(21, 30, 52, 0, 0), small = geom(2, 4, 4, 0, 0);
    mref_expect_refusal("grat", "{\"groups\": [4, 8, 8]}", NULL, "unknown parameter 'groups'");
    mref_expect_refusal("grat", "{\"variant\": \"cross\"}", NULL, "variant 'cross' unknown");
    mref_expect_refusal("grat", "{\"group\": [4, 0, 8]}", NULL, "group[1]=0 out of range");
    mref_expect_refusal("grat", "{\"group\": [4, 8]}", NULL, "'group' must be an array of 3");
    mref_expect_refusal("grat", "{\"radius\": [1, 1, 1]}", NULL, "radius applies only to variant 'blocks'");
    mref_expect_refusal("grat", "{\"variant\": \"blocks\", \"radius\": [1, -1, 1]}", NULL, "radius[1]=-1");
    mref_expect_refusal("grat", "{\"partial_groups\": 1}", NULL, "'partial_groups' must be true or false");
    mref_expect_refusal("grat", NULL, &wan, "group[0]=4 does not divide T=21");
    mref_expect_refusal("grat", "{\"partial_groups\": true}", &small, "group[0]=4 is larger than the grid (T=2)");
    mref_expect_refusal("grat", "{\"group\": [1, 4, 2]}", &small, "group[1]=4 spans the whole H=4");
    mref_expect_refusal("grat", "{\"group\": [2, 2, 2]}", &small, "group[0]=2 spans the whole T=2");
}

/* Densities for Wan2.1 480p (21x30x52), which default groups do not divide. */
static void report_wan_480p(void) {
    const char *params[] = {"{\"partial_groups\": true}", "{\"group\": [3, 6, 4]}", "{\"group\": [3, 10, 13]}"};
    dg_attn_geometry g = geom(21, 30, 52, 0, 0);
    for (int i = 0; i < 3; i++) {
        dg_attn_method *m = mref_create("grat", params[i]);
        CHECK(m && m->ops->prepare(m, &g) == DG_OK, "wan %s: %s", params[i], dg_last_error());
        if (m) printf("Wan 480p 21x30x52 %-28s density %.4f\n", params[i], m->ops->density(m));
        dg_attn_method_free(m);
    }
}

int main(void) {
    test_worked_examples();
    test_hunyuan_density();
    test_permutation_round_trip();
    test_fast_vs_reference();
    test_refusals();
    report_wan_480p();
    return TEST_END();
}
