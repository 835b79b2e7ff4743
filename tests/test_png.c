/* PNG writer/reader and float->u8 frame conversion. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#define STB_IMAGE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb_image.h>
#pragma GCC diagnostic pop

#include "core/error.h"
#include "io/frames.h"
#include "io/png.h"
#include "test.h"
#include "tests/scratch_dir.h"


static uint8_t *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n);
    if (b && fread(b, 1, *n, f) != *n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static void spit(const char *p, const uint8_t *b, size_t n) {
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

/* CRC-32 bit by bit (the reflected 0xEDB88320 polynomial), independent of io/png.c's table. */
static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int b = 0; b < 8; b++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

/* Returns a malloc'd PNG = signature + IHDR from `base`, then one chunk, then the rest. */
static uint8_t *with_chunk(const uint8_t *base, size_t n, const char *type, const uint8_t *data, uint32_t len,
                           int bad_crc, size_t *out_n) {
    uint8_t *b = malloc(n + len + 12);
    memcpy(b, base, 33);
    uint8_t *c = b + 33;
    c[0] = (uint8_t)(len >> 24), c[1] = (uint8_t)(len >> 16), c[2] = (uint8_t)(len >> 8), c[3] = (uint8_t)len;
    memcpy(c + 4, type, 4);
    memcpy(c + 8, data, len);
    uint32_t crc = crc32_png(c + 4, len + 4) ^ (bad_crc ? 1u : 0u);
    c[8 + len] = (uint8_t)(crc >> 24), c[9 + len] = (uint8_t)(crc >> 16), c[10 + len] = (uint8_t)(crc >> 8);
    c[11 + len] = (uint8_t)crc;
    memcpy(c + 12 + len, base + 33, n - 33);
    *out_n = n + len + 12;
    return b;
}

static void test_frames(void) {
    /* [C=3, F=2, H=1, W=2]: checks the mapping and channel-major -> interleaved layout */
    float x[12] = {-1, 0, 1, 2, /* R */ -3, 0.5f, -0.5f, NAN, /* G */ 1.0f / 255, -1, 1, 0 /* B */};
    uint8_t rgb[12];
    CHECK_OK(dg_frames_from_float(rgb, x, 3, 2, 1, 2));
    const uint8_t want[12] = {0, 0, 128, 128, 191, 0, 255, 64, 255, 255, 0, 128};
    CHECK(!memcmp(rgb, want, 12), "frames: got %u %u %u  %u %u %u  %u %u %u  %u %u %u", rgb[0], rgb[1], rgb[2],
          rgb[3], rgb[4], rgb[5], rgb[6], rgb[7], rgb[8], rgb[9], rgb[10], rgb[11]);
    float g[2] = {-1, 0.2f};
    uint8_t grey[6];
    CHECK_OK(dg_frames_from_float(grey, g, 1, 1, 1, 2));
    CHECK(grey[0] == 0 && grey[1] == 0 && grey[2] == 0 && grey[3] == 153 && grey[4] == 153 && grey[5] == 153,
          "grey: %u %u %u %u", grey[0], grey[1], grey[3], grey[5]);
    CHECK(dg_frames_from_float(grey, g, 4, 1, 1, 1) == DG_ERR && strstr(dg_last_error(), "4 channels"), "C=4: %s",
          dg_last_error());
    CHECK(dg_frames_from_float(grey, g, 3, 0, 1, 1) == DG_ERR, "F=0 accepted");
}

int main(void) {
    if (scratch_dir_make("test_png")) return 1;
    test_frames();

    /* gradient at an odd size (PNG has no parity constraint) */
    const int W = 37, H = 23;
    uint8_t img[37 * 23 * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = img + 3 * (y * W + x);
            p[0] = (uint8_t)(x * 7), p[1] = (uint8_t)(y * 11), p[2] = (uint8_t)(x * y);
        }
    const char *ascii = "a cat, studio light\nNegative prompt: blurry\nSteps: 20, Sampler: Euler, Seed: 42, Size: 37x23";
    const char *utf8 = "猫 — café \xf0\x9f\x98\xba\nSteps: 20, Seed: 7";

    /* ASCII -> tEXt right after IHDR, pixels round-trip exactly */
    char *p_ascii = strdup(path_in("ascii.png"));
    CHECK_OK(dg_png_write(p_ascii, img, W, H, ascii));
    size_t n = 0;
    uint8_t *file = slurp(p_ascii, &n);
    CHECK(file && n > 45 && !memcmp(file + 37, "tEXt", 4) && !memcmp(file + 41, "parameters\0", 11),
          "tEXt not right after IHDR");
    char *txt = NULL;
    CHECK_OK(dg_png_read_text(p_ascii, "parameters", &txt));
    CHECK(txt && !strcmp(txt, ascii), "ascii text: '%s'", txt ? txt : "(null)");
    free(txt);
    CHECK_OK(dg_png_read_text(p_ascii, "prompt", &txt));
    CHECK(txt == NULL, "missing key returned text");
    int w = 0, h = 0, c = 0;
    uint8_t *dec = stbi_load(p_ascii, &w, &h, &c, 3);
    CHECK(dec && w == W && h == H && c == 3 && !memcmp(dec, img, sizeof img), "pixels differ after decode");
    stbi_image_free(dec);

    /* UTF-8 -> iTXt */
    char *p_utf8 = strdup(path_in("utf8.png"));
    CHECK_OK(dg_png_write(p_utf8, img, W, H, utf8));
    size_t n8 = 0;
    uint8_t *f8 = slurp(p_utf8, &n8);
    CHECK(f8 && n8 > 45 && !memcmp(f8 + 37, "iTXt", 4), "iTXt not right after IHDR");
    free(f8);
    CHECK_OK(dg_png_read_text(p_utf8, "parameters", &txt));
    CHECK(txt && !strcmp(txt, utf8), "utf8 text: '%s'", txt ? txt : "(null)");
    free(txt);
    dec = stbi_load(p_utf8, &w, &h, &c, 3);
    CHECK(dec && !memcmp(dec, img, sizeof img), "pixels differ after decode (iTXt)");
    stbi_image_free(dec);

    /* no text chunk */
    CHECK_OK(dg_png_write(path_in("plain.png"), img, W, H, NULL));
    CHECK_OK(dg_png_read_text(path_in("plain.png"), "parameters", &txt));
    CHECK(txt == NULL, "text found in a PNG without one");
    size_t plain_n = 0;
    uint8_t *plain = slurp(path_in("plain.png"), &plain_n);
    CHECK(plain && plain_n > 33, "cannot read back plain.png");
    int before = n_entries();

    /* refusals leave nothing behind */
    CHECK(dg_png_write(path_in("bad.png"), img, W, H, "caf\xe9") == DG_ERR && strstr(dg_last_error(), "UTF-8"),
          "invalid UTF-8 accepted: %s", dg_last_error());
    CHECK(dg_png_write(path_in("bad.png"), img, 0, H, NULL) == DG_ERR && strstr(dg_last_error(), "0x23"),
          "zero width: %s", dg_last_error());
    CHECK(dg_png_write(path_in("bad.png"), img, W, -1, NULL) == DG_ERR, "negative height accepted");
    CHECK(dg_png_write(path_in("bad.png"), img, 40000, 2, NULL) == DG_ERR, "huge width accepted");
    CHECK(dg_png_write(path_in("bad.png"), img, 20000, 20000, NULL) == DG_ERR, "huge image accepted");
    CHECK(dg_png_write(path_in("nodir/x.png"), img, W, H, ascii) == DG_ERR && strstr(dg_last_error(), "nodir"),
          "nonexistent directory: %s", dg_last_error());
    CHECK(n_entries() == before, "a refused write left a file");

    /* hostile files: every case must fail cleanly (ASan catches overreads) */
    struct {
        const char *name;
        size_t cut;         /* truncate to this many bytes (0 = keep) */
        size_t len_at;      /* offset of a length field to overwrite (0 = none) */
        uint32_t len;
        size_t flip;        /* offset of a byte to corrupt (0 = none) */
    } bad[] = {
        {"truncated in text chunk", 60, 0, 0, 0},
        {"truncated after text chunk", 37 + 4 + 11 + 50, 0, 0, 0},
        {"truncated signature", 5, 0, 0, 0},
        {"bad CRC", 0, 0, 0, 50},
        {"huge length", 0, 33, 0x7ffffff0u, 0},
        {"length over 2^31", 0, 33, 0xffffffffu, 0},
        {"length one past the end", 0, 33, 0, 0}, /* set below */
        {"bad signature", 0, 0, 0, 1},
    };
    bad[6].len = (uint32_t)(n - 33 - 12 + 1);
    for (size_t i = 0; file && i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *b = malloc(n);
        memcpy(b, file, n);
        size_t m = bad[i].cut ? bad[i].cut : n;
        if (bad[i].len_at) {
            uint8_t *l = b + bad[i].len_at;
            l[0] = (uint8_t)(bad[i].len >> 24), l[1] = (uint8_t)(bad[i].len >> 16);
            l[2] = (uint8_t)(bad[i].len >> 8), l[3] = (uint8_t)bad[i].len;
        }
        if (bad[i].flip) b[bad[i].flip] ^= 0x20;
        spit(path_in("hostile.png"), b, m);
        free(b);
        txt = NULL;
        CHECK(dg_png_read_text(path_in("hostile.png"), "parameters", &txt) == DG_ERR && txt == NULL,
              "hostile '%s' accepted", bad[i].name);
    }

    /* hand-built chunks: Latin-1 tEXt is returned as UTF-8; malformed bodies fail */
    struct {
        const char *type;
        const char *data;
        uint32_t len;
        int ok;
        const char *want;
    } chunks[] = {
        {"tEXt", "parameters\0caf\xe9", 15, 1, "caf\xc3\xa9"},
        {"tEXt", "parameters", 10, 0, NULL},                      /* no keyword terminator */
        {"tEXt", "parameters\0a\0b", 14, 0, NULL},                /* NUL in text */
        {"iTXt", "parameters\0\0\0en", 15, 0, NULL},              /* no language terminator */
        {"iTXt", "parameters\0", 11, 0, NULL},                    /* no compression bytes */
        {"iTXt", "parameters\0\1\0\0\0x", 16, 0, NULL},           /* compressed */
        {"iTXt", "parameters\0\0\0\0\0caf\xe9", 19, 0, NULL},     /* not UTF-8 */
        {"iTXt", "parameters\0\0\0en\0Parameter\0ok", 28, 1, "ok"},
        {"tEXt", "other\0x", 7, 1, NULL},                         /* other key: not found */
    };
    for (size_t i = 0; plain && i < sizeof chunks / sizeof chunks[0]; i++) {
        size_t m = 0;
        uint8_t *b = with_chunk(plain, plain_n, chunks[i].type, (const uint8_t *)chunks[i].data, chunks[i].len, 0, &m);
        spit(path_in("built.png"), b, m);
        free(b);
        txt = NULL;
        int rc = dg_png_read_text(path_in("built.png"), "parameters", &txt);
        if (chunks[i].ok && chunks[i].want)
            CHECK(rc == DG_OK && txt && !strcmp(txt, chunks[i].want), "chunk %zu: rc %d '%s' (%s)", i, rc,
                  txt ? txt : "(null)", dg_last_error());
        else if (chunks[i].ok)
            CHECK(rc == DG_OK && txt == NULL, "chunk %zu: rc %d", i, rc);
        else
            CHECK(rc == DG_ERR && txt == NULL, "chunk %zu: malformed body accepted", i);
        free(txt);
    }
    /* a valid chunk with a corrupted CRC */
    size_t m = 0;
    uint8_t *b = plain ? with_chunk(plain, plain_n, "tEXt", (const uint8_t *)"parameters\0x", 12, 1, &m) : NULL;
    if (b) {
        spit(path_in("built.png"), b, m);
        CHECK(dg_png_read_text(path_in("built.png"), "parameters", &txt) == DG_ERR && strstr(dg_last_error(), "CRC"),
              "bad CRC accepted: %s", dg_last_error());
    }
    free(b);
    CHECK(dg_png_read_text(path_in("missing.png"), "parameters", &txt) == DG_ERR, "missing file accepted");
    CHECK(dg_png_read_text(dir, "parameters", &txt) == DG_ERR, "directory accepted");
    free(file);
    free(plain);

    /* clean up */
    const char *names[] = {"ascii.png", "utf8.png", "plain.png", "hostile.png", "built.png"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(path_in(names[i]));
    CHECK(n_entries() == 0, "stray files in %s", dir);
    rmdir(dir);
    free(p_ascii);
    free(p_utf8);
    return TEST_END();
}
