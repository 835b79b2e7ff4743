/* Extended grapheme clusters (UAX #29, rules GB3-GB13 including GB9c), as
 * Rust's unicode-segmentation yields them for `graphemes(true)`; the
 * SentencePiece charsmap normalizer works cluster by cluster. */
#ifndef DG_TEXT_GRAPHEME_H
#define DG_TEXT_GRAPHEME_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    DG_GCB_OTHER, DG_GCB_CR, DG_GCB_LF, DG_GCB_CONTROL, DG_GCB_EXTEND, DG_GCB_ZWJ, DG_GCB_RI,
    DG_GCB_PREPEND, DG_GCB_SPACING_MARK, DG_GCB_L, DG_GCB_V, DG_GCB_T, DG_GCB_LV, DG_GCB_LVT
} dg_gcb;

typedef struct dg_grapheme_range {
    uint32_t lo, hi;
    uint8_t props;
} dg_grapheme_range;

/* Generated table (grapheme_table.c). */
extern const dg_grapheme_range dg_grapheme_ranges[];
extern const int dg_grapheme_n_ranges;

/* End (byte offset) of the cluster starting at s[i], > i when i < n. Meant for
 * valid UTF-8; an invalid byte counts as U+FFFD, so that loops still advance. */
size_t dg_grapheme_next(const char *s, size_t n, size_t i);

#endif
