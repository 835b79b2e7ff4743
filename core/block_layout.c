/* Block layouts for the sparse engine: a CSR list of key blocks per query
 * block, with bit masks only where a block is partly allowed. Methods supply
 * a cheap per-block classifier so large geometries never need n^2 work. */
#include <stdlib.h>
#include <string.h>

#include "core/attention.h"
#include "core/backend.h"
#include "core/error.h"

void dg_block_layout_free(dg_block_layout *l) {
    if (!l) return;
    if (l->device_copy) l->device_backend->ops->layout_release(l->device_backend, l->device_copy);
    free(l->perm);
    free(l->row_start);
    free(l->kblock);
    free(l->mask_offset);
    free(l->masks);
    memset(l, 0, sizeof *l);
}

double dg_block_layout_density(const dg_block_layout *l) {
    return l->n > 0 ? (double)l->allowed_pairs / ((double)l->n * (double)l->n) : 0.0;
}

static int check_args(int64_t n, int block_q, int block_k, const int32_t *perm) {
    DG_CHECK(n >= 1 && n <= INT32_MAX, "block layout: token count %lld out of range", (long long)n);
    DG_CHECK(block_q >= 64 && block_q <= 256 && block_q % 64 == 0,
             "block layout: block_q must be 64, 128, 192 or 256 (got %d)", block_q);
    DG_CHECK(block_k >= 1 && block_k <= 128, "block layout: block_k must be in 1..128 (got %d)", block_k);
    if (!perm) return DG_OK;
    unsigned char *seen = calloc((size_t)n, 1);
    DG_CHECK_ALLOC(seen);
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        ok = perm[i] >= 0 && perm[i] < n && !seen[perm[i]];
        if (ok) seen[perm[i]] = 1;
    }
    free(seen);
    DG_CHECK(ok, "block layout: perm is not a permutation of 0..%lld", (long long)n - 1);
    return DG_OK;
}

/* One query block's list, built independently so rows can be built in parallel. */
typedef struct {
    int32_t *kblock;
    int64_t *mask_offset; /* into this row's words */
    uint64_t *words;
    int64_t entries, nwords, pairs;
    int failed;
} row_list;

static int build_row(row_list *r, const dg_block_layout *l, int64_t qb, const int32_t *perm,
                     int (*allow)(const void *ctx, int64_t i, int64_t j),
                     int (*classify)(const void *ctx, int64_t q0, int64_t q1, int64_t k0, int64_t k1), const void *ctx) {
    const int64_t n = l->n, wq = l->block_q / 64, block_words = (int64_t)l->block_k * wq;
    const int64_t q0 = qb * l->block_q, q1 = q0 + l->block_q < n ? q0 + l->block_q : n;
    uint64_t *bits = malloc((size_t)block_words * sizeof(uint64_t));
    r->kblock = malloc((size_t)l->n_kblocks * sizeof(int32_t));
    r->mask_offset = malloc((size_t)l->n_kblocks * sizeof(int64_t));
    if (!bits || !r->kblock || !r->mask_offset) {
        free(bits);
        return DG_ERR;
    }
    int64_t words_cap = 0;
    for (int64_t kb = 0; kb < l->n_kblocks; kb++) {
        const int64_t k0 = kb * l->block_k, k1 = k0 + l->block_k < n ? k0 + l->block_k : n;
        int cls = classify ? classify(ctx, q0, q1, k0, k1) : DG_BLOCK_PARTIAL;
        int64_t pairs = (q1 - q0) * (k1 - k0);
        if (cls == DG_BLOCK_PARTIAL) {
            memset(bits, 0, (size_t)block_words * sizeof(uint64_t));
            pairs = 0;
            for (int64_t j = k0; j < k1; j++) {
                const int64_t oj = perm ? perm[j] : j;
                uint64_t *wj = bits + (j - k0) * wq;
                for (int64_t i = q0; i < q1; i++)
                    if (allow(ctx, perm ? perm[i] : i, oj)) wj[(i - q0) >> 6] |= 1ull << ((i - q0) & 63), pairs++;
            }
            cls = pairs == 0 ? DG_BLOCK_NONE : pairs == (q1 - q0) * (k1 - k0) ? DG_BLOCK_FULL : DG_BLOCK_PARTIAL;
        }
        if (cls == DG_BLOCK_NONE) continue;
        r->kblock[r->entries] = (int32_t)kb;
        r->mask_offset[r->entries] = -1;
        if (cls == DG_BLOCK_PARTIAL) {
            if (r->nwords + block_words > words_cap) {
                words_cap = words_cap ? 2 * words_cap : 8 * block_words;
                uint64_t *nw = realloc(r->words, (size_t)words_cap * sizeof(uint64_t));
                if (!nw) {
                    free(bits);
                    return DG_ERR;
                }
                r->words = nw;
            }
            memcpy(r->words + r->nwords, bits, (size_t)block_words * sizeof(uint64_t));
            r->mask_offset[r->entries] = r->nwords;
            r->nwords += block_words;
        }
        r->entries++;
        r->pairs += pairs;
    }
    free(bits);
    return DG_OK;
}

int dg_block_layout_build(dg_block_layout *l, int64_t n, int block_q, int block_k, const int32_t *perm,
                          int (*allow)(const void *ctx, int64_t i, int64_t j),
                          int (*classify)(const void *ctx, int64_t q0, int64_t q1, int64_t k0, int64_t k1),
                          const void *ctx) {
    memset(l, 0, sizeof *l);
    DG_TRY(check_args(n, block_q, block_k, perm));
    l->n = n;
    l->block_q = block_q;
    l->block_k = block_k;
    l->n_qblocks = (n + block_q - 1) / block_q;
    l->n_kblocks = (n + block_k - 1) / block_k;
    row_list *rows = calloc((size_t)l->n_qblocks, sizeof *rows);
    l->row_start = malloc((size_t)(l->n_qblocks + 1) * sizeof(int64_t));
    if (perm) l->perm = malloc((size_t)n * sizeof(int32_t));
    int rc = DG_OK;
    if (!rows || !l->row_start || (perm && !l->perm)) {
        rc = dg_error("%s:%d: out of memory", __FILE__, __LINE__);
        goto done;
    }
    if (perm) memcpy(l->perm, perm, (size_t)n * sizeof(int32_t));
    /* allow() and classify() must be thread-safe (they only read ctx). */
    #pragma omp parallel for schedule(dynamic, 1)
    for (int64_t qb = 0; qb < l->n_qblocks; qb++) rows[qb].failed = build_row(&rows[qb], l, qb, perm, allow, classify, ctx);
    int64_t entries = 0, words = 0;
    for (int64_t qb = 0; qb < l->n_qblocks; qb++) {
        if (rows[qb].failed) {
            rc = dg_error("%s:%d: out of memory", __FILE__, __LINE__);
            goto done;
        }
        entries += rows[qb].entries, words += rows[qb].nwords;
    }
    l->kblock = malloc((size_t)(entries ? entries : 1) * sizeof(int32_t));
    l->mask_offset = malloc((size_t)(entries ? entries : 1) * sizeof(int64_t));
    l->masks = malloc((size_t)(words ? words : 1) * sizeof(uint64_t));
    if (!l->kblock || !l->mask_offset || !l->masks) {
        rc = dg_error("%s:%d: out of memory", __FILE__, __LINE__);
        goto done;
    }
    entries = 0, words = 0;
    l->row_start[0] = 0;
    for (int64_t qb = 0; qb < l->n_qblocks; qb++) {
        const row_list *r = &rows[qb];
        memcpy(l->kblock + entries, r->kblock, (size_t)r->entries * sizeof(int32_t));
        for (int64_t e = 0; e < r->entries; e++)
            l->mask_offset[entries + e] = r->mask_offset[e] < 0 ? -1 : r->mask_offset[e] + words;
        if (r->nwords) memcpy(l->masks + words, r->words, (size_t)r->nwords * sizeof(uint64_t));
        entries += r->entries, words += r->nwords;
        l->allowed_pairs += r->pairs;
        l->row_start[qb + 1] = entries;
    }
done:
    if (rows)
        for (int64_t qb = 0; qb < l->n_qblocks; qb++) free(rows[qb].kblock), free(rows[qb].mask_offset), free(rows[qb].words);
    free(rows);
    if (rc != DG_OK) dg_block_layout_free(l);
    return rc;
}

int dg_block_layout_from_predicate(dg_block_layout *l, int64_t n, int block_q, int block_k, const int32_t *perm,
                                   int (*allow)(const void *ctx, int64_t i, int64_t j), const void *ctx) {
    return dg_block_layout_build(l, n, block_q, block_k, perm, allow, NULL, ctx);
}

int dg_block_layout_upload(dg_block_layout *l, dg_backend *be) {
    DG_CHECK(l->row_start != NULL, "block layout: upload before build");
    if (l->device_copy && l->device_backend == be) return DG_OK;
    if (l->device_copy) l->device_backend->ops->layout_release(l->device_backend, l->device_copy);
    l->device_copy = NULL, l->device_backend = NULL;
    if (!be->ops->layout_upload) return DG_OK; /* the backend's kernels read the host layout */
    DG_TRY(be->ops->layout_upload(be, l, &l->device_copy));
    l->device_backend = be;
    return DG_OK;
}
