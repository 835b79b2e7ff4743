/* SHA-256 (FIPS 180-4), streaming. */
#ifndef DG_IO_SHA256_H
#define DG_IO_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct dg_sha256 {
    int hw; /* the x86 SHA extensions compress the blocks (where the CPU has them) */
    uint32_t h[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t fill;
} dg_sha256;

/* Uses the CPU's SHA extensions when it has them (several times faster: a 1.3B checkpoint is
 * gigabytes); _portable never does (for tests comparing the two). */
void dg_sha256_init(dg_sha256 *s);
void dg_sha256_init_portable(dg_sha256 *s);
void dg_sha256_update(dg_sha256 *s, const void *data, size_t n);
void dg_sha256_final(dg_sha256 *s, uint8_t digest[32]);

#endif
