#include "text/strbuf.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int dg_strbuf_add(dg_strbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        DG_CHECK_ALLOC(p);
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return DG_OK;
}

void dg_strbuf_free(dg_strbuf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}
