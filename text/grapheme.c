#include "text/grapheme.h"

#include "text/utf8.h"

enum { EXT_PICT = 16, INCB_SHIFT = 5, INCB_CONSONANT = 1, INCB_EXTEND = 2, INCB_LINKER = 3 };

static unsigned props_of(uint32_t cp) {
    if (cp >= 0xAC00 && cp <= 0xD7A3) return (cp - 0xAC00) % 28 == 0 ? DG_GCB_LV : DG_GCB_LVT;
    int lo = 0, hi = dg_grapheme_n_ranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < dg_grapheme_ranges[mid].lo) hi = mid - 1;
        else if (cp > dg_grapheme_ranges[mid].hi) lo = mid + 1;
        else return dg_grapheme_ranges[mid].props;
    }
    return DG_GCB_OTHER;
}

static int is_control(unsigned g) { return g == DG_GCB_CONTROL || g == DG_GCB_CR || g == DG_GCB_LF; }

/* Context carried along the cluster for the rules that look further back. */
typedef struct {
    int ri_count;     /* consecutive Regional_Indicator so far (GB12/13) */
    int pict, pict_zwj; /* in "ExtPict Extend*", or that followed by ZWJ (GB11) */
    int cons, linker; /* in "Consonant [Extend|Linker]*", and a Linker was seen (GB9c) */
} ctx;

static void advance(ctx *c, unsigned p) {
    unsigned g = p & 15, incb = (p >> INCB_SHIFT) & 3;
    c->ri_count = g == DG_GCB_RI ? c->ri_count + 1 : 0;
    if (p & EXT_PICT) c->pict = 1, c->pict_zwj = 0;
    else if (g == DG_GCB_EXTEND && c->pict) c->pict_zwj = 0;
    else if (g == DG_GCB_ZWJ && c->pict) c->pict = 0, c->pict_zwj = 1;
    else c->pict = c->pict_zwj = 0;
    if (incb == INCB_CONSONANT) c->cons = 1, c->linker = 0;
    else if (c->cons && incb == INCB_LINKER) c->linker = 1;
    else if (!(c->cons && incb == INCB_EXTEND)) c->cons = c->linker = 0;
}

static int no_break(const ctx *c, unsigned pp, unsigned cp) {
    unsigned p = pp & 15, g = cp & 15;
    if (p == DG_GCB_CR && g == DG_GCB_LF) return 1;                          /* GB3 */
    if (is_control(p) || is_control(g)) return 0;                            /* GB4, GB5 */
    if (p == DG_GCB_L && (g == DG_GCB_L || g == DG_GCB_V || g == DG_GCB_LV || g == DG_GCB_LVT)) return 1; /* GB6 */
    if ((p == DG_GCB_LV || p == DG_GCB_V) && (g == DG_GCB_V || g == DG_GCB_T)) return 1;  /* GB7 */
    if ((p == DG_GCB_LVT || p == DG_GCB_T) && g == DG_GCB_T) return 1;      /* GB8 */
    if (g == DG_GCB_EXTEND || g == DG_GCB_ZWJ || g == DG_GCB_SPACING_MARK) return 1; /* GB9, GB9a */
    if (p == DG_GCB_PREPEND) return 1;                                       /* GB9b */
    if (c->linker && ((cp >> INCB_SHIFT) & 3) == INCB_CONSONANT) return 1;  /* GB9c */
    if (p == DG_GCB_ZWJ && c->pict_zwj && (cp & EXT_PICT)) return 1;        /* GB11 */
    if (p == DG_GCB_RI && g == DG_GCB_RI && c->ri_count % 2 == 1) return 1;  /* GB12, GB13 */
    return 0;                                                                /* GB999 */
}

size_t dg_grapheme_next(const char *s, size_t n, size_t i) {
    if (i >= n) return n;
    ctx c = {0};
    unsigned prev = props_of((uint32_t)dg_utf8_next_lossy(s, n, &i));
    advance(&c, prev);
    while (i < n) {
        size_t j = i;
        unsigned cur = props_of((uint32_t)dg_utf8_next_lossy(s, n, &j));
        if (!no_break(&c, prev, cur)) break;
        advance(&c, cur);
        prev = cur;
        i = j;
    }
    return i;
}
