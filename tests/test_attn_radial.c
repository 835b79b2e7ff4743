/* Radial attention (sparse-attention.md §2): the worked examples of §2(g)
 * (2x4x4 dense; the scaled-down toy mask, token by token and its block
 * densities), the density test vectors of §2(b), block counts of the
 * official construction on unaligned geometries, the block-sparse engine vs a
 * dense reference masked by allow() (unaligned frames and video length, text
 * first and last, block 64/128/16, image), and refusals. */
#include "tests/attn_masked_ref.h"

static dg_attn_geometry geom(int T, int H, int W, int text, int text_first) {
    return (dg_attn_geometry){.T = T, .H = H, .W = W, .text_tokens = text, .text_first = text_first, .heads = 2,
                              .head_dim = 12};
}

static dg_attn_method *prepared(const char *json, dg_attn_geometry g) {
    dg_attn_method *m = mref_create("radial", json);
    if (m && m->ops->prepare(m, &g) != DG_OK) {
        dg_attn_method_free(m);
        m = NULL;
    }
    CHECK(m != NULL, "radial %s: %s", json ? json : "(defaults)", dg_last_error());
    return m;
}

/* Fraction of (block x block) video blocks that are on, from allow(). */
static double block_density(const dg_attn_method *m, int block) {
    const int64_t nv = (int64_t)m->geom.T * m->geom.H * m->geom.W, nb = nv / block;
    int64_t on = 0;
    for (int64_t a = 0; a < nb; a++)
        for (int64_t b = 0; b < nb; b++) on += m->ops->allow(m, a * block, b * block) != 0;
    return (double)on / ((double)nb * nb);
}

static void test_worked_examples(void) {
    /* 2x4x4: one partial block of 32 tokens, dense; query (0,1,1) sees all 32. */
    dg_attn_method *m = prepared(NULL, geom(2, 4, 4, 0, 0));
    if (m) CHECK(m->ops->density(m) == 1.0, "2x4x4 density %.4f, want 1", m->ops->density(m));
    dg_attn_method_free(m);

    /* Toy (§2(g)): f = 8, S = 16, block 4, threshold 4, decay 1, no sink.
     * Query frame 0, r = 5: frames 0-3 all 16 keys; frames 4-7 c in [0, 11]. */
    const char *toy = "{\"block\": 4, \"threshold\": 4, \"sink\": false}";
    m = prepared(toy, geom(8, 4, 4, 0, 0));
    if (m) {
        int bad = 0;
        for (int j = 0; j < 8; j++)
            for (int c = 0; c < 16; c++) bad += m->ops->allow(m, 5, j * 16 + c) != (j < 4 || c <= 11);
        CHECK(bad == 0, "toy query (0, r=5): %d keys differ from §2(g)", bad);
        double d = block_density(m, 4);
        CHECK(fabs(d - 0.840) < 5e-4, "toy f=8 block density %.4f, want 0.840", d);
        CHECK(d == m->ops->density(m), "aligned toy: pair density %.6f = block density %.6f", m->ops->density(m), d);
    }
    dg_attn_method_free(m);
    m = prepared(toy, geom(16, 4, 4, 0, 0));
    if (m) {
        double d = block_density(m, 4);
        CHECK(fabs(d - 0.667) < 5e-4, "toy f=16 block density %.4f, want 0.667", d);
        /* Distances >= 9 (bitlen 4: D = 2 < 4, split 2) keep even distances only. */
        CHECK(m->ops->allow(m, 0, 10 * 16) && !m->ops->allow(m, 0, 9 * 16) && !m->ops->allow(m, 0, 11 * 16),
              "toy f=16: frame drops at odd distances >= 9");
    }
    dg_attn_method_free(m);
}

/* §2(b) density test vectors (video x video blocks of 128, S = 3840). */
static void test_density_vectors(void) {
    struct {
        const char *json;
        int f;
        double want;
    } cases[] = {
        {"{\"decay_factor\": 0.95, \"sink\": false}", 30, 0.2746}, /* HunyuanVideo */
        {"{\"decay_factor\": 0.2}", 18, 0.2871},                   /* Wan2.1, sink */
        {"{\"sink\": false}", 30, 0.2932},
        {"{\"sink\": false}", 120, 0.1202},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        dg_attn_method *m = prepared(cases[c].json, geom(cases[c].f, 48, 80, 0, 0));
        if (!m) continue;
        double d = m->ops->density(m); /* frames are block aligned: pairs = blocks */
        CHECK(fabs(d - cases[c].want) < 5e-5, "f=%d %s: density %.4f, want %.4f", cases[c].f, cases[c].json, d,
              cases[c].want);
        printf("f=%3d S=3840 %-40s density %.4f (spec %.4f)\n", cases[c].f, cases[c].json, d, cases[c].want);
        dg_attn_method_free(m);
    }
}

/* Unaligned frames and video length, where shrinkMaskStrict's strict
 * inequalities and the dense border block matter: on-block counts over the
 * ceil(Nv/block)^2 grid from a line-by-line torch transcription of the
 * official gen_log_mask_shrinked (HEAD window rule; threshold and block as
 * given), run once by hand. */
static void test_official_block_counts(void) {
    struct {
        int T, H, W;
        const char *json;
        int block;
        int64_t on;
    } cases[] = {
        {21, 30, 52, "{}", 128, 29442},                                             /* Wan 480p */
        {21, 30, 52, "{\"decay_factor\": 0.2}", 128, 22534},                        /* Wan 480p, script decay */
        {13, 5, 7, "{\"block\": 8, \"threshold\": 8}", 8, 2460},                    /* ties at 1/3 and 0.6 */
        {30, 9, 14, "{\"block\": 32, \"threshold\": 32, \"decay_factor\": 0.8, \"sink\": false}", 32, 4128},
        {17, 13, 11, "{\"block\": 50, \"threshold\": 50, \"decay_factor\": 0.6}", 50, 1469},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        dg_attn_method *m = prepared(cases[c].json, geom(cases[c].T, cases[c].H, cases[c].W, 0, 0));
        if (!m) continue;
        const int64_t B = cases[c].block, nb = ((int64_t)cases[c].T * cases[c].H * cases[c].W + B - 1) / B;
        int64_t on = 0;
        for (int64_t a = 0; a < nb; a++)
            for (int64_t b = 0; b < nb; b++) on += m->ops->allow(m, a * B, b * B) != 0;
        CHECK(on == cases[c].on, "%dx%dx%d %s: %lld blocks on, official %lld", cases[c].T, cases[c].H, cases[c].W,
              cases[c].json, (long long)on, (long long)cases[c].on);
        dg_attn_method_free(m);
    }
}

static void test_fast_vs_reference(void) {
    struct {
        const char *json;
        dg_attn_geometry g;
        const char *label;
    } cases[] = {
        {"{\"block\": 64, \"decay_factor\": 0.5}", geom(6, 10, 13, 0, 0), "6x10x13 block 64 sink"},
        {"{\"block\": 64, \"decay_factor\": 0.5, \"sink\": false}", geom(6, 10, 13, 5, 1), "6x10x13 + 5 text first"},
        {"{\"block\": 16, \"threshold\": 16, \"decay_factor\": 0.7}", geom(9, 7, 9, 11, 0), "9x7x9 block 16 + 11 text"},
        {NULL, geom(4, 12, 20, 0, 0), "4x12x20 default (block 128)"},
        {"{\"sink\": false}", geom(5, 12, 20, 9, 1), "5x12x20 + 9 text first"},
        {"{\"block\": 8, \"threshold\": 8}", geom(13, 5, 7, 3, 0), "13x5x7 block 8 + 3 text"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        dg_attn_method *m = mref_create("radial", cases[c].json);
        CHECK(m != NULL, "%s: create: %s", cases[c].label, dg_last_error());
        if (!m) continue;
        double d = mref_check(m, &cases[c].g, cases[c].label);
        CHECK(d > 0 && d < 1, "%s: density %.4f should be sparse", cases[c].label, d);
        dg_attn_method_free(m);
    }
    /* An image has one frame: dense. */
    dg_attn_method *m = mref_create("radial", "{\"block\": 64}");
    dg_attn_geometry img = geom(1, 20, 30, 0, 0);
    if (m) CHECK(mref_check(m, &img, "image 20x30") == 1.0, "image should be dense");
    dg_attn_method_free(m);
}

static void test_refusals(void) {
    dg_attn_geometry g = geom(3, 10, 10, 0, 0);
    mref_expect_refusal("radial", "{\"decay\": 0.5}", NULL, "unknown parameter 'decay'");
    mref_expect_refusal("radial", "{\"decay_factor\": 0}", NULL, "decay_factor=0 out of range");
    mref_expect_refusal("radial", "{\"decay_factor\": \"high\"}", NULL, "'decay_factor' must be a finite number");
    mref_expect_refusal("radial", "{\"block\": 0}", NULL, "block=0 out of range");
    mref_expect_refusal("radial", "{\"block\": 64.5}", NULL, "'block' must be an integer");
    mref_expect_refusal("radial", "{\"threshold\": -1}", NULL, "threshold=-1 out of range");
    mref_expect_refusal("radial", "{\"sink\": 1}", NULL, "'sink' must be true or false");
    g.T = 400;
    g.H = 64;
    g.W = 64;
    mref_expect_refusal("radial", "{\"block\": 1}", &g, "block=1 is too small");
    g.T = 0;
    mref_expect_refusal("radial", NULL, &g, "T, H, W must be >= 1");
}

/* Densities for Wan2.1 480p (21x30x52: S = 1560, frames not block aligned). */
static void report_wan_480p(void) {
    const char *params[] = {NULL, "{\"decay_factor\": 0.2}"};
    for (int i = 0; i < 2; i++) {
        dg_attn_method *m = prepared(params[i], geom(21, 30, 52, 0, 0));
        if (m) printf("Wan 480p 21x30x52 %-24s density %.4f\n", params[i] ? params[i] : "defaults", m->ops->density(m));
        dg_attn_method_free(m);
    }
}

int main(void) {
    test_worked_examples();
    test_density_vectors();
    test_official_block_counts();
    test_fast_vs_reference();
    test_refusals();
    report_wan_480p();
    return TEST_END();
}
