/* core/rng against torch.randn bit for bit (fixtures: tests/reference/make_randn.py,
 * randn.safetensors), plus the raw mt19937 stream, seeding and random seeds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "tests/fixture.h"
#include "tests/test.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Keep these lists in step with tests/reference/make_randn.py. */
static const uint64_t seeds[] = {0, 42, 4294967303ull /* 2^32 + 7 */, 123456789};
static const size_t sizes[] = {1, 5, 15, 16, 17, 31, 100, 1000};
static const struct { uint64_t seed; size_t n; } singles[] = {{0, 4608}, {52372, 1024}};
static const struct { uint64_t seed; int calls; size_t n[6]; } continuations[] = {
    {42, 5, {5, 37, 3, 16, 1}},
    {7, 6, {1, 1, 1, 16, 1, 3}},
};
static const struct { uint64_t seed; size_t n, from, step; } slices[] = {
    {42, 16 * 21 * 60 * 104, 0, 1021},
    {3, 1000003, 1000003 - 40, 1},
};

/* Bit-exact comparison; reports the first differing element. */
static void check_bits(const char *name, const float *got, const float *ref, size_t n) {
    if (!memcmp(got, ref, n * sizeof(float))) return;
    size_t i = 0;
    while (!memcmp(&got[i], &ref[i], sizeof(float))) i++;
    CHECK(0, "%s: first mismatch at %zu of %zu: %.9g vs torch %.9g", name, i, n, got[i], ref[i]);
}

/* The fixture tensor `name` of exactly n floats, or NULL with a failed check. */
static const float *ref_of(const dg_safetensors *st, const char *name, size_t n) {
    int64_t got = -1;
    const float *p = fixture_f32(st, name, &got);
    CHECK(!p || got == (int64_t)n, "%s: %lld elements, expected %zu", name, (long long)got, n);
    return p && got == (int64_t)n ? p : NULL;
}

/* One fresh torch.randn(n) compared with the fixture `name`. */
static void check_single(const dg_safetensors *st, uint64_t seed, size_t n) {
    char name[64];
    snprintf(name, sizeof name, "randn_s%llu_n%zu", (unsigned long long)seed, n);
    const float *ref = ref_of(st, name, n);
    float *out = malloc(n * sizeof(float));
    if (!ref || !out) {
        CHECK(out != NULL, "out of memory");
        free(out);
        return;
    }
    dg_rng r;
    dg_rng_init(&r, seed);
    dg_randn(&r, out, n);
    check_bits(name, out, ref, n);
    free(out);
}

static void test_fixtures(const dg_safetensors *st) {
    for (int a = 0; a < COUNT(seeds); a++)
        for (int b = 0; b < COUNT(sizes); b++) check_single(st, seeds[a], sizes[b]);
    for (int a = 0; a < COUNT(singles); a++) check_single(st, singles[a].seed, singles[a].n);

    for (int a = 0; a < COUNT(continuations); a++) {
        char name[96];
        int len = snprintf(name, sizeof name, "cont_s%llu_n", (unsigned long long)continuations[a].seed);
        size_t total = 0;
        for (int c = 0; c < continuations[a].calls; c++) {
            len += snprintf(name + len, sizeof name - len, c ? "_%zu" : "%zu", continuations[a].n[c]);
            total += continuations[a].n[c];
        }
        const float *ref = ref_of(st, name, total);
        float out[128];
        CHECK(total <= COUNT(out), "%s: raise out[]", name);
        if (!ref || total > COUNT(out)) continue;
        dg_rng r;
        dg_rng_init(&r, continuations[a].seed);
        size_t at = 0;
        for (int c = 0; c < continuations[a].calls; c++) {
            dg_randn(&r, out + at, continuations[a].n[c]);
            at += continuations[a].n[c];
        }
        check_bits(name, out, ref, total);
    }

    for (int a = 0; a < COUNT(slices); a++) {
        char name[96];
        size_t n = slices[a].n, from = slices[a].from, step = slices[a].step;
        snprintf(name, sizeof name, "slice_s%llu_n%zu_from%zu_step%zu", (unsigned long long)slices[a].seed, n, from,
                 step);
        size_t count = (n - from + step - 1) / step;
        const float *ref = ref_of(st, name, count);
        float *out = malloc(n * sizeof(float)), *picked = malloc(count * sizeof(float));
        CHECK(out && picked, "out of memory");
        if (ref && out && picked) {
            dg_rng r;
            dg_rng_init(&r, slices[a].seed);
            dg_randn(&r, out, n);
            for (size_t i = 0; i < count; i++) picked[i] = out[from + i * step];
            check_bits(name, picked, ref, count);
        }
        free(out);
        free(picked);
    }
}

/* mt19937's published check value: the 10000th output for seed 5489. */
static void test_mt19937(void) {
    dg_rng r;
    dg_rng_init(&r, 5489);
    uint32_t v = 0;
    for (int i = 0; i < 10000; i++) v = dg_rng_u32(&r);
    CHECK(v == 4123659995u, "10000th mt19937 output %u, expected 4123659995", v);
}

/* Seeds: only the low 32 bits count (as in torch); re-init restarts the
 * stream and drops the cached Box-Muller value; distinct seeds differ. */
static void test_seeding(void) {
    float a[40], b[40];
    dg_rng r;
    dg_rng_init(&r, 7);
    dg_randn(&r, a, 40);
    dg_rng_init(&r, (1ull << 32) + 7);
    dg_randn(&r, b, 40);
    CHECK(!memcmp(a, b, sizeof a), "seed 2^32+7 differs from seed 7");

    dg_rng_init(&r, 11);
    dg_randn(&r, a, 3); /* leaves a cached value */
    dg_rng_init(&r, 11);
    dg_randn(&r, b, 3);
    CHECK(!memcmp(a, b, 3 * sizeof(float)), "re-init does not restart the stream");

    dg_rng_init(&r, 12);
    dg_randn(&r, b, 3);
    CHECK(memcmp(a, b, 3 * sizeof(float)) != 0, "seeds 11 and 12 give the same noise");
}

static void test_random_seed(void) {
    uint64_t s[4];
    int all_same = 1;
    for (int i = 0; i < 4; i++) {
        s[i] = dg_rng_random_seed();
        CHECK(s[i] < (1ull << 31), "random seed %llu out of [0, 2^31)", (unsigned long long)s[i]);
        if (s[i] != s[0]) all_same = 0;
    }
    CHECK(!all_same, "four random seeds all %llu", (unsigned long long)s[0]);
}

int main(void) {
    dg_safetensors st;
    if (dg_safetensors_open(&st, DG_TEST_DIR "/fixtures/randn.safetensors") != DG_OK) {
        fprintf(stderr, "%s\n", dg_last_error());
        return 1;
    }
    test_fixtures(&st);
    dg_safetensors_close(&st);
    test_mt19937();
    test_seeding();
    test_random_seed();
    return TEST_END();
}
