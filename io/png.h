/* 8-bit RGB PNG output with an optional A1111-style `parameters` text chunk,
 * and a bounded reader for such text chunks. */
#ifndef DG_IO_PNG_H
#define DG_IO_PNG_H

#include <stdint.h>

/* Largest side and largest pixel payload ((3*width+1)*height bytes) accepted. */
#define DG_PNG_MAX_SIDE 32768
#define DG_PNG_MAX_BYTES ((int64_t)1 << 28)

/* Writes rgb (height rows of width*3 bytes) atomically to path. When
 * parameters is non-NULL it goes into a chunk keyed "parameters" right after
 * IHDR: tEXt when the text is pure ASCII, otherwise iTXt (the text must then
 * be valid UTF-8). */
int dg_png_write(const char *path, const uint8_t *rgb, int width, int height, const char *parameters);

/* Reads the first tEXt or uncompressed iTXt chunk keyed `keyword` from the PNG
 * at path. On success *out is a malloc'd NUL-terminated UTF-8 string (tEXt's
 * Latin-1 is converted) or NULL when no such chunk exists; the caller frees
 * it. Chunk lengths and CRCs of the chunks it reads are checked, so a hostile
 * file fails with an error rather than being trusted. */
int dg_png_read_text(const char *path, const char *keyword, char **out);

#endif
