/* How the parallel modes cut a sequence over ranks. */
#include "parallel/comm.h"

void dg_comm_split(const dg_comm *c, int64_t n, int64_t per, int64_t *begin, int64_t *count, int64_t *counts) {
    const int64_t base = n / c->size, extra = n % c->size;
    for (int r = 0; r < c->size; r++) {
        const int64_t b = r * base + (r < extra ? r : extra), k = base + (r < extra);
        if (r == c->rank) *begin = b, *count = k;
        if (counts) counts[r] = k * per;
    }
}
