#define _GNU_SOURCE
#include "io/png.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/atomic_file.h"

/* The one stb_image_write implementation in the project; static so it cannot
 * clash with another copy. (STBI_WRITE_NO_STDIO would leave a static
 * declaration without a definition in stb v1.16.) */
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb_image_write.h>
#pragma GCC diagnostic pop

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
#define PNG_IHDR_END 33 /* signature (8) + IHDR chunk (4 + 4 + 13 + 4) */
#define PNG_MAX_CHUNK 0x7fffffffu /* the PNG spec's limit on a chunk length */
#define PNG_TEXT_KEY "parameters"

/* CRC-32 (ISO 3309, as PNG uses) with a 16-entry table: no init, no globals. */
static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n) {
    static const uint32_t tab[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
        0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
    };
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ tab[crc & 15];
        crc = (crc >> 4) ^ tab[crc & 15];
    }
    return crc;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Strict UTF-8: no overlongs, surrogates or code points above U+10FFFF. */
static int utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i - 1 < k) return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += k + 1;
    }
    return 1;
}

/* Builds the complete "parameters" chunk: tEXt for ASCII text, since tEXt is
 * Latin-1 and UTF-8 bytes would be misread there, else uncompressed iTXt. */
static int text_chunk(const char *text, const char *path, uint8_t **chunk, size_t *chunk_len) {
    size_t n = strlen(text), klen = strlen(PNG_TEXT_KEY);
    int ascii = 1;
    for (size_t i = 0; i < n && ascii; i++) ascii = (uint8_t)text[i] < 0x80;
    DG_CHECK(ascii || utf8_valid((const uint8_t *)text, n), "PNG '%s': parameters text is not valid UTF-8", path);
    /* iTXt adds compression flag, method, empty language tag and translated keyword */
    size_t head = klen + 1 + (ascii ? 0 : 4);
    DG_CHECK(n <= PNG_MAX_CHUNK - head, "PNG '%s': parameters text too long (%zu bytes)", path, n);
    size_t dlen = head + n;
    uint8_t *c = malloc(dlen + 12);
    DG_CHECK_ALLOC(c);
    put_be32(c, (uint32_t)dlen);
    memcpy(c + 4, ascii ? "tEXt" : "iTXt", 4);
    memcpy(c + 8, PNG_TEXT_KEY, klen + 1);
    if (!ascii) memset(c + 8 + klen + 1, 0, 4);
    memcpy(c + 8 + head, text, n);
    put_be32(c + 8 + dlen, crc_update(0xffffffffu, c + 4, dlen + 4) ^ 0xffffffffu);
    *chunk = c;
    *chunk_len = dlen + 12;
    return DG_OK;
}

int dg_png_write(const char *path, const uint8_t *rgb, int width, int height, const char *parameters) {
    DG_CHECK(path && rgb, "PNG write: NULL path or pixels");
    DG_CHECK(width > 0 && height > 0 && width <= DG_PNG_MAX_SIDE && height <= DG_PNG_MAX_SIDE &&
                 ((int64_t)width * 3 + 1) * height <= DG_PNG_MAX_BYTES,
             "PNG '%s': size %dx%d out of range (1..%d per side, at most %lld MiB of pixels)", path, width,
             height, DG_PNG_MAX_SIDE, (long long)(DG_PNG_MAX_BYTES >> 20));
    uint8_t *chunk = NULL;
    size_t chunk_len = 0;
    if (parameters) DG_TRY(text_chunk(parameters, path, &chunk, &chunk_len));
    int len = 0;
    unsigned char *png = stbi_write_png_to_mem(rgb, width * 3, width, height, 3, &len);
    if (!png) {
        free(chunk);
        return dg_error("PNG '%s': encoding failed (out of memory)", path);
    }
    /* stb emits signature then IHDR; the text chunk goes right after IHDR so
     * readers that stop early still see it. */
    if (len < PNG_IHDR_END || memcmp(png, png_sig, 8) != 0 || memcmp(png + 12, "IHDR", 4) != 0) {
        free(png);
        free(chunk);
        return dg_error("PNG '%s': unexpected encoder output", path);
    }
    dg_atomic_file f;
    if (dg_atomic_open(&f, path) != DG_OK) {
        free(png);
        free(chunk);
        return DG_ERR;
    }
    size_t rest = (size_t)len - PNG_IHDR_END;
    int ok = fwrite(png, 1, PNG_IHDR_END, f.fp) == PNG_IHDR_END &&
             (!chunk || fwrite(chunk, 1, chunk_len, f.fp) == chunk_len) &&
             fwrite(png + PNG_IHDR_END, 1, rest, f.fp) == rest;
    int e = errno;
    free(png);
    free(chunk);
    if (!ok) {
        dg_atomic_abort(&f);
        return dg_error("writing '%s' failed: %s", path, strerror(e));
    }
    return dg_atomic_commit(&f);
}

/* Latin-1 (tEXt) to a NUL-terminated UTF-8 string. */
static char *latin1_to_utf8(const uint8_t *s, size_t n) {
    char *o = malloc(2 * n + 1), *p = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x80) {
            *p++ = (char)s[i];
        } else {
            *p++ = (char)(0xc0 | s[i] >> 6);
            *p++ = (char)(0x80 | (s[i] & 0x3f));
        }
    }
    *p = 0;
    return o;
}

/* Parses one tEXt/iTXt body. Sets *out only when the keyword matches. */
static int parse_text(const char *path, int itxt, const uint8_t *d, size_t n, const char *keyword, char **out) {
    const uint8_t *nul = memchr(d, 0, n);
    DG_CHECK(nul, "PNG '%s': %s chunk without a keyword terminator", path, itxt ? "iTXt" : "tEXt");
    size_t klen = (size_t)(nul - d);
    if (klen != strlen(keyword) || memcmp(d, keyword, klen) != 0) return DG_OK;
    const uint8_t *t = nul + 1, *end = d + n;
    if (itxt) {
        DG_CHECK(end - t >= 2 && t[0] <= 1 && t[1] == 0, "PNG '%s': malformed iTXt chunk '%s'", path, keyword);
        DG_CHECK(t[0] == 0, "PNG '%s': iTXt chunk '%s' is compressed (not supported)", path, keyword);
        t += 2;
        for (int field = 0; field < 2; field++) { /* language tag, translated keyword */
            const uint8_t *z = memchr(t, 0, (size_t)(end - t));
            DG_CHECK(z, "PNG '%s': malformed iTXt chunk '%s'", path, keyword);
            t = z + 1;
        }
    }
    size_t tlen = (size_t)(end - t);
    DG_CHECK(!memchr(t, 0, tlen), "PNG '%s': text chunk '%s' contains a NUL byte", path, keyword);
    if (itxt) {
        DG_CHECK(utf8_valid(t, tlen), "PNG '%s': iTXt chunk '%s' is not valid UTF-8", path, keyword);
        *out = malloc(tlen + 1);
        DG_CHECK_ALLOC(*out);
        memcpy(*out, t, tlen);
        (*out)[tlen] = 0;
    } else {
        *out = latin1_to_utf8(t, tlen);
        DG_CHECK_ALLOC(*out);
    }
    return DG_OK;
}

/* Walks the chunks of an open PNG until IEND or the keyword is found. */
static int scan_chunks(FILE *fp, const char *path, const char *keyword, char **out) {
    struct stat st;
    DG_CHECK(fstat(fileno(fp), &st) == 0, "cannot stat '%s': %s", path, strerror(errno));
    DG_CHECK(S_ISREG(st.st_mode), "'%s' is not a regular file", path);
    uint64_t size = (uint64_t)st.st_size, off = 8;
    uint8_t hdr[8];
    DG_CHECK(fread(hdr, 1, 8, fp) == 8 && memcmp(hdr, png_sig, 8) == 0, "'%s' is not a PNG file", path);
    for (;;) {
        DG_CHECK(size - off >= 12 && fread(hdr, 1, 8, fp) == 8, "PNG '%s': truncated at offset %llu (no IEND)",
                 path, (unsigned long long)off);
        uint32_t n = get_be32(hdr);
        const uint8_t *type = hdr + 4;
        for (int i = 0; i < 4; i++) {
            uint8_t c = type[i] & 0xdf; /* chunk type letters, either case */
            DG_CHECK(c >= 'A' && c <= 'Z', "PNG '%s': bad chunk type at offset %llu", path,
                     (unsigned long long)off);
        }
        DG_CHECK(n <= PNG_MAX_CHUNK && n <= size - off - 12,
                 "PNG '%s': chunk '%.4s' at offset %llu claims %u bytes, past the end of the file", path,
                 (const char *)type, (unsigned long long)off, n);
        if (!memcmp(type, "IEND", 4)) return DG_OK;
        int itxt = !memcmp(type, "iTXt", 4);
        if (itxt || !memcmp(type, "tEXt", 4)) {
            uint8_t *d = malloc((size_t)n + 4);
            DG_CHECK_ALLOC(d);
            if (fread(d, 1, (size_t)n + 4, fp) != (size_t)n + 4) {
                free(d);
                return dg_error("PNG '%s': read error at offset %llu", path, (unsigned long long)off);
            }
            uint32_t crc = crc_update(crc_update(0xffffffffu, type, 4), d, n) ^ 0xffffffffu;
            int rc = crc == get_be32(d + n)
                         ? parse_text(path, itxt, d, n, keyword, out)
                         : dg_error("PNG '%s': CRC mismatch in %.4s chunk at offset %llu", path,
                                    (const char *)type, (unsigned long long)off);
            free(d);
            if (rc != DG_OK || *out) return rc;
        } else {
            DG_CHECK(fseeko(fp, (off_t)n + 4, SEEK_CUR) == 0, "PNG '%s': seek failed: %s", path, strerror(errno));
        }
        off += 12 + (uint64_t)n;
    }
}

int dg_png_read_text(const char *path, const char *keyword, char **out) {
    DG_CHECK(out, "PNG read: NULL output");
    *out = NULL;
    DG_CHECK(path && keyword, "PNG read: NULL path or keyword");
    size_t klen = strlen(keyword);
    DG_CHECK(klen >= 1 && klen <= 79, "PNG text keyword '%s' must be 1..79 bytes", keyword);
    FILE *fp = fopen(path, "rb");
    DG_CHECK(fp, "cannot open '%s': %s", path, strerror(errno));
    int rc = scan_chunks(fp, path, keyword, out);
    fclose(fp);
    return rc;
}
