/* Generation parameters as A1111 infotext (io/gen_metadata) and the SHA-256 behind the model
 * hash (io/sha256): quoting that round-trips, A1111's own parse rules, exact floats, digests
 * against the FIPS 180-4 examples. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/gen_metadata.h"
#include "io/sha256.h"
#include "test.h"

static void hex(const uint8_t d[32], char out[65]) {
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_sha256_with(void (*init)(dg_sha256 *), const char *which) {
    struct { const char *in; const char *want; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"}};
    for (int k = 0; k < 3; k++) {
        dg_sha256 s;
        uint8_t d[32];
        char h[65];
        init(&s);
        /* fed one byte at a time, then whole: the block buffering must not matter */
        for (const char *c = v[k].in; *c; c++) dg_sha256_update(&s, c, 1);
        dg_sha256_final(&s, d);
        hex(d, h);
        CHECK(!strcmp(h, v[k].want), "%s sha256('%s') = %s", which, v[k].in, h);
    }
    /* a million 'a's, in uneven pieces */
    char *a = malloc(1000000);
    CHECK(a, "out of memory");
    if (!a) return;
    memset(a, 'a', 1000000);
    dg_sha256 s;
    uint8_t d[32];
    char h[65];
    init(&s);
    dg_sha256_update(&s, a, 63);
    dg_sha256_update(&s, a, 1000000 - 63);
    dg_sha256_final(&s, d);
    hex(d, h);
    CHECK(!strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "%s sha256(1M a) = %s", which, h);
    free(a);
}

static void test_sha256(void) {
    test_sha256_with(dg_sha256_init, "default");
    test_sha256_with(dg_sha256_init_portable, "portable");
    dg_sha256 s;
    dg_sha256_init(&s);
    printf("sha256: %s\n", s.hw ? "SHA extensions (checked against the portable code)" : "portable code only");
}

/* format then parse gives back every field */
static void roundtrip(const char *prompt, const char *negative, const char *key, const char *value) {
    dg_infotext t, back;
    char *text = NULL;
    CHECK_OK(dg_infotext_init(&t));
    CHECK_OK(dg_infotext_set_prompt(&t, prompt, negative));
    CHECK_OK(dg_infotext_add(&t, "Steps", "20"));
    CHECK_OK(dg_infotext_add(&t, key, value));
    CHECK_OK(dg_infotext_add(&t, "Seed", "42"));
    CHECK_OK(dg_infotext_format(&t, &text));
    CHECK_OK(dg_infotext_parse("test", text, &back));
    CHECK(!strcmp(back.prompt, prompt) && !strcmp(back.negative, negative), "prompt '%s' / '%s' came back as '%s' / '%s'",
          prompt, negative, back.prompt, back.negative);
    const char *v = dg_infotext_get(&back, key);
    CHECK(back.n == 3 && v && !strcmp(v, value), "'%s: %s' came back as '%s' (%d pairs) from:\n%s", key, value,
          v ? v : "(none)", back.n, text);
    free(text);
    dg_infotext_free(&t);
    dg_infotext_free(&back);
}

static void test_roundtrip(void) {
    roundtrip("a red circle", "", "PAG heads", "1:1,3:*");
    roundtrip("a cat, sitting", "blurry, dark", "Attention", "configs/attention/my plan.json");
    roundtrip("line one\nline two", "neg one\nneg two", "Note", "has \"quotes\" and \\ and \t tab");
    roundtrip("caf\xc3\xa9 \xe2\x9c\x93", "", "Model", "na\xc3\xafve: \xf0\x9f\x98\x80");
    roundtrip("", "", "Context", "emb");
    roundtrip("p", "", "Padded", " spaces at both ends\r ");
    /* only values that would split the line are quoted */
    dg_infotext t;
    char *text;
    CHECK_OK(dg_infotext_init(&t));
    CHECK_OK(dg_infotext_add(&t, "Sampler", "unipc"));
    CHECK_OK(dg_infotext_add(&t, "PAG heads", "1:1,3:*"));
    CHECK_OK(dg_infotext_format(&t, &text));
    CHECK(!strcmp(text, "\nSampler: unipc, PAG heads: \"1:1,3:*\""), "formatted as '%s'", text);
    free(text);
    CHECK(dg_infotext_add(&t, "Bad: key", "x") == DG_ERR, "a key with ':' accepted");
    CHECK(dg_infotext_add(&t, "x", "x") == DG_ERR, "a one-letter key accepted (A1111's parser needs two)");
    dg_infotext_free(&t);
}

/* Texts as A1111 writes them; its rules: the last line holds >= 3 pairs, else it is prompt. */
static void test_a1111(void) {
    dg_infotext t;
    CHECK_OK(dg_infotext_parse("a1111",
                               "masterpiece, 1girl\nNegative prompt: lowres\nSteps: 20, Sampler: DPM++ 2M, CFG scale: 7, "
                               "Seed: 1, Size: 512x512, Model hash: abcdef1234, Lora hashes: \"a: 1, b: 2\", "
                               "Version: v1.6.0",
                               &t));
    CHECK(!strcmp(t.prompt, "masterpiece, 1girl") && !strcmp(t.negative, "lowres"), "prompt '%s' negative '%s'",
          t.prompt, t.negative);
    const char *lora = dg_infotext_get(&t, "Lora hashes"), *sampler = dg_infotext_get(&t, "Sampler");
    CHECK(t.n == 8 && lora && !strcmp(lora, "a: 1, b: 2") && sampler && !strcmp(sampler, "DPM++ 2M"),
          "%d pairs, Lora hashes '%s'", t.n, lora ? lora : "(none)");
    dg_infotext_free(&t);
    /* two pairs are not a parameters line: all prompt */
    CHECK_OK(dg_infotext_parse("short", "a photo\nstyle: oil, mood: calm", &t));
    CHECK(t.n == 0 && !strcmp(t.prompt, "a photo\nstyle: oil, mood: calm"), "prompt '%s', %d pairs", t.prompt, t.n);
    dg_infotext_free(&t);
    /* a broken quoted value: the line is not parameters either */
    CHECK_OK(dg_infotext_parse("broken", "p\nSteps: 2, Ab: \"x, Bc: 3, Cd: 4", &t));
    CHECK(t.n == 0, "a broken quote parsed into %d pairs", t.n);
    dg_infotext_free(&t);
    CHECK_OK(dg_infotext_parse("escape", "p\nSteps: 2, Ab: \"\\u00e9\\ud83d\\ude00\", Bc: 3", &t));
    const char *a = dg_infotext_get(&t, "Ab");
    CHECK(a && !strcmp(a, "\xc3\xa9\xf0\x9f\x98\x80"), "\\u escapes gave '%s'", a ? a : "(none)");
    dg_infotext_free(&t);
    CHECK_OK(dg_infotext_parse("nul", "p\nSteps: 2, Ab: \"\\u0000\", Bc: 3, Cd: 4", &t));
    CHECK(!dg_infotext_get(&t, "Ab"), "an escaped NUL accepted");
    dg_infotext_free(&t);
}

static void test_doubles(void) {
    double v[] = {4.0, 4.25, 0.1, 1.0 / 3.0, 5e-324, 1e300, 3.0000000000000004};
    for (int i = 0; i < 7; i++) {
        char s[40];
        dg_format_double(s, sizeof s, v[i]);
        CHECK(strtod(s, NULL) == v[i], "%.17g written as '%s'", v[i], s);
    }
    char s[40];
    dg_format_double(s, sizeof s, 4.0);
    CHECK(!strcmp(s, "4"), "4.0 written as '%s'", s);
    dg_format_double(s, sizeof s, 0.1);
    CHECK(!strcmp(s, "0.1"), "0.1 written as '%s'", s);
}

int main(void) {
    test_sha256();
    test_roundtrip();
    test_a1111();
    test_doubles();
    return TEST_END();
}
