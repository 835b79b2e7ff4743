/* The shapes checker of scripts/train_tiny/check.py, ported to C so CI can
 * judge the shipped model's pictures without Python: background colour (median
 * border pixel), the dominant non-background colour, its largest 4-connected
 * region, position of that region's centroid, shape from the fill ratio of its
 * bounding box, motion from first-to-last centroid shift or area ratio.
 * Labels are indices into the tables below (-1 = none); they must stay in the
 * order of data.py's COLORS / SHAPES / POSITIONS / MOTIONS. */
#ifndef DG_TESTS_SHAPES_CHECKER_H
#define DG_TESTS_SHAPES_CHECKER_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const SC_COLORS[] = {"red", "green", "blue", "yellow", "white", "black"};
static const float SC_PALETTE[6][3] = {{220, 30, 30},  {30, 170, 50},   {30, 60, 220},
                                       {240, 220, 30}, {245, 245, 245}, {15, 15, 15}};
static const char *const SC_SHAPES[] = {"circle", "square", "triangle"};
static const char *const SC_POSITIONS[] = {"left", "right", "top", "bottom", "center"};
static const char *const SC_MOTIONS[] = {"left", "right", "up", "down", "grow", "shrink", "static"};
enum { SC_N_COLORS = 6, SC_N_SHAPES = 3, SC_N_POSITIONS = 5, SC_N_MOTIONS = 7 };

typedef struct sc_frame {
    int bg, color, pos, shape; /* -1 when no object was found */
    double area, cx, cy, fill;
} sc_frame;

/* Index of `name` in a label table, -1 if absent. */
static inline int sc_label(const char *const *table, int n, const char *name) {
    for (int i = 0; name && i < n; i++)
        if (strcmp(table[i], name) == 0) return i;
    return -1;
}

static inline int sc_nearest(const float rgb[3]) {
    int best = 0;
    float bd = INFINITY;
    for (int c = 0; c < SC_N_COLORS; c++) {
        float d = 0;
        for (int k = 0; k < 3; k++) d += (rgb[k] - SC_PALETTE[c][k]) * (rgb[k] - SC_PALETTE[c][k]);
        if (d < bd) bd = d, best = c;
    }
    return best;
}

static int sc_cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* numpy.median of n values (sorts v in place). */
static inline float sc_median(float *v, int n) {
    qsort(v, (size_t)n, sizeof *v, sc_cmp_float);
    return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

/* Keep in m (H*W bytes) only its largest 4-connected component; on ties the
 * first found in row-major order wins, as in check.py. Returns its size. */
static inline int sc_largest_component(uint8_t *m, int H, int W) {
    int n = H * W, best_seed = -1, best_n = 0;
    int *stack = malloc((size_t)n * sizeof *stack);
    uint8_t *seen = calloc((size_t)n, 1);
    if (!stack || !seen) {
        free(stack), free(seen);
        return -1;
    }
    for (int pass = 0; pass < 2; pass++) {
        memset(seen, 0, (size_t)n);
        for (int s = 0; s < n; s++) {
            if (!m[s] || seen[s] || (pass == 1 && s != best_seed)) continue;
            int top = 0, count = 0;
            stack[top++] = s, seen[s] = 1;
            while (top) {
                int i = stack[--top], y = i / W, x = i % W;
                count++;
                if (pass == 1) m[i] = 2;
                int nb[4] = {y + 1 < H ? i + W : -1, y > 0 ? i - W : -1, x + 1 < W ? i + 1 : -1, x > 0 ? i - 1 : -1};
                for (int k = 0; k < 4; k++)
                    if (nb[k] >= 0 && m[nb[k]] && !seen[nb[k]]) seen[nb[k]] = 1, stack[top++] = nb[k];
            }
            if (pass == 0 && count > best_n) best_n = count, best_seed = s;
        }
        if (best_seed < 0) break;
    }
    for (int i = 0; i < n; i++) m[i] = m[i] == 2;
    free(stack), free(seen);
    return best_n;
}

/* Analyse one 8-bit RGB frame (H x W x 3). Returns 0, or -1 when out of memory. */
static inline int sc_analyze_frame(const uint8_t *img, int H, int W, sc_frame *r) {
    int nb = 2 * W + 2 * H, n = H * W;
    float *border = malloc((size_t)nb * sizeof *border);
    int *lab = malloc((size_t)n * sizeof *lab);
    uint8_t *fg = malloc((size_t)n);
    if (!border || !lab || !fg) {
        free(border), free(lab), free(fg);
        return -1;
    }
    float bg_rgb[3];
    for (int k = 0; k < 3; k++) {
        int j = 0;
        for (int x = 0; x < W; x++) border[j++] = img[(0 * W + x) * 3 + k];
        for (int x = 0; x < W; x++) border[j++] = img[((H - 1) * W + x) * 3 + k];
        for (int y = 0; y < H; y++) border[j++] = img[(y * W + 0) * 3 + k];
        for (int y = 0; y < H; y++) border[j++] = img[(y * W + W - 1) * 3 + k];
        bg_rgb[k] = sc_median(border, nb);
    }
    *r = (sc_frame){.bg = sc_nearest(bg_rgb), .color = -1, .pos = -1, .shape = -1};
    int counts[SC_N_COLORS] = {0}, n_fg = 0;
    for (int i = 0; i < n; i++) {
        float px[3] = {img[i * 3], img[i * 3 + 1], img[i * 3 + 2]}, d = 0;
        for (int k = 0; k < 3; k++) d += (px[k] - bg_rgb[k]) * (px[k] - bg_rgb[k]);
        lab[i] = sc_nearest(px);
        fg[i] = lab[i] != r->bg && sqrtf(d) > 60.0f;
        if (fg[i]) counts[lab[i]]++, n_fg++;
    }
    if (n_fg >= 3) {
        int col = 0;
        for (int c = 1; c < SC_N_COLORS; c++)
            if (counts[c] > counts[col]) col = c;
        for (int i = 0; i < n; i++) fg[i] = fg[i] && lab[i] == col;
        int area = sc_largest_component(fg, H, W);
        if (area < 0) {
            free(border), free(lab), free(fg);
            return -1;
        }
        double sx = 0, sy = 0;
        int x0 = W, x1 = -1, y0 = H, y1 = -1;
        for (int i = 0; i < n; i++) {
            if (!fg[i]) continue;
            int y = i / W, x = i % W;
            sx += x, sy += y;
            x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1, y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
        }
        r->color = col, r->area = area;
        r->cx = sx / area + 0.5, r->cy = sy / area + 0.5;
        double dx = r->cx / W - 0.5, dy = r->cy / H - 0.5;
        if (fmax(fabs(dx), fabs(dy)) < 0.12)
            r->pos = 4;
        else if (fabs(dx) >= fabs(dy))
            r->pos = dx < 0 ? 0 : 1;
        else
            r->pos = dy < 0 ? 2 : 3;
        r->fill = area / (double)((x1 - x0 + 1) * (y1 - y0 + 1));
        r->shape = r->fill > 0.89 ? 1 : r->fill > 0.64 ? 0 : 2;
    }
    free(border), free(lab), free(fg);
    return 0;
}

/* Motion label of a clip from its first and last frame analyses (-1: no object). */
static inline int sc_motion(const sc_frame *a, const sc_frame *b, int H, int W) {
    if (a->color < 0 || b->color < 0) return -1;
    double ratio = b->area / fmax(a->area, 1.0);
    double dx = (b->cx - a->cx) / W, dy = (b->cy - a->cy) / H;
    if (ratio > 1.6) return 4;
    if (ratio < 1 / 1.6) return 5;
    if (fmax(fabs(dx), fabs(dy)) < 0.1) return 6;
    if (fabs(dx) >= fabs(dy)) return dx < 0 ? 0 : 1;
    return dy < 0 ? 2 : 3;
}

/* Most frequent non-negative value of a field over frames (first one on ties). */
static inline int sc_majority(const sc_frame *f, int frames, size_t field_offset) {
    int best = -1, best_n = 0;
    for (int i = 0; i < frames; i++) {
        int v = *(const int *)((const char *)&f[i] + field_offset), c = 0;
        if (v < 0) continue;
        for (int j = 0; j < frames; j++) c += *(const int *)((const char *)&f[j] + field_offset) == v;
        if (c > best_n) best_n = c, best = v;
    }
    return best;
}

/* The frame with the largest object (where a growing/shrinking shape is judged). */
static inline const sc_frame *sc_largest_frame(const sc_frame *f, int frames) {
    const sc_frame *best = &f[0];
    for (int i = 1; i < frames; i++)
        if (f[i].area > best->area) best = &f[i];
    return best;
}

#endif
