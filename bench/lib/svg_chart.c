#include "bench/lib/svg_chart.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic_file.h"

/* Geometry in SVG user units. */
#define LEFT 60
#define RIGHT 20
#define TOP 40
#define PANEL_H 220 /* plot area height per panel */
#define PANEL_GAP 80
#define BAR_W 40
#define GROUP_GAP 24
#define CHAR_W 7 /* rough width of one character of 11-12 px sans-serif */

static void put_escaped(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n') fputc(*s, f); /* XML forbids other controls */
        }
    }
}

/* Axis: ticks every 1, 2 or 5 x 10^k, about five of them, over the largest
 * finite value (or the reference line) plus headroom for the value labels. */
static void axis(const dg_bar_panel *p, int n, double *step, double *top) {
    double m = isfinite(p->ref) && p->ref > 0 ? p->ref : 0;
    for (int s = 0; s < p->n_series; s++)
        for (int i = 0; i < n; i++)
            if (isfinite(p->series[s].values[i]) && p->series[s].values[i] > m) m = p->series[s].values[i];
    m = m > 0 ? m * 1.12 : 1;
    double mag = pow(10, floor(log10(m / 5))), r = m / 5 / mag;
    *step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
    *top = *step * ceil(m / *step);
}

static void text(FILE *f, int x, int y, int size, const char *anchor, const char *s) {
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"%d\" text-anchor=\"%s\">", x, y, size, anchor);
    put_escaped(f, s);
    fputs("</text>\n", f);
}

static void panel(FILE *f, const dg_bar_panel *p, const char *const *cats, int n, int group_w, int y0, int width) {
    int base = y0 + PANEL_H;
    double step, top;
    axis(p, n, &step, &top);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"14\" font-weight=\"bold\">", LEFT, y0 - 12);
    put_escaped(f, p->title);
    fputs("</text>\n", f);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", LEFT, base, width - RIGHT, base);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", LEFT, y0, LEFT, base);
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    for (int t = 0; t * step <= top * (1 + 1e-9); t++) {
        char v[32];
        snprintf(v, sizeof v, "%.*f", decimals, t * step);
        text(f, LEFT - 4, base - (int)lround(PANEL_H * t * step / top) + 3, 10, "end", v);
    }
    if (isfinite(p->ref) && p->ref > 0) {
        int y = base - (int)lround(PANEL_H * p->ref / top);
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n",
                LEFT, y, width - RIGHT, y);
    }
    for (int i = 0; i < n; i++) {
        int gx = LEFT + i * group_w + (group_w - p->n_series * BAR_W) / 2;
        for (int s = 0; s < p->n_series; s++) {
            double v = p->series[s].values[i];
            int x = gx + s * BAR_W;
            if (!isfinite(v)) {
                text(f, x + BAR_W / 2, base - 4, 10, "middle", "n/a");
                continue;
            }
            int h = v > 0 ? (int)lround(PANEL_H * v / top) : 0;
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"", x + 3, base - h, BAR_W - 6, h);
            put_escaped(f, p->series[s].color);
            fputs("\"/>\n", f);
            char label[64];
            snprintf(label, sizeof label, "%.*f%s", p->decimals, v, p->unit ? p->unit : "");
            text(f, x + BAR_W / 2, base - h - 3, 10, "middle", label);
        }
        text(f, LEFT + i * group_w + group_w / 2, base + 15, 11, "middle", cats[i]);
    }
    for (int s = 0, x = LEFT; s < p->n_series; s++) { /* legend under the axis */
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"", x, base + 26);
        put_escaped(f, p->series[s].color);
        fputs("\"/>\n", f);
        text(f, x + 14, base + 35, 11, "start", p->series[s].name);
        x += 14 + CHAR_W * (int)strlen(p->series[s].name) + 20;
    }
}

int dg_svg_bar_chart(const char *path, const char *title, const char *const *categories, int n_categories,
                     const dg_bar_panel *panels, int n_panels) {
    DG_CHECK(n_categories > 0 && n_panels > 0, "%s: empty chart", path);
    int max_series = 1, legend = 0, longest = 0;
    for (int k = 0; k < n_panels; k++) {
        DG_CHECK(panels[k].n_series > 0, "%s: panel %d has no series", path, k);
        if (panels[k].n_series > max_series) max_series = panels[k].n_series;
        int w = 0;
        for (int s = 0; s < panels[k].n_series; s++) w += 34 + CHAR_W * (int)strlen(panels[k].series[s].name);
        if (w > legend) legend = w;
    }
    for (int i = 0; i < n_categories; i++)
        if ((int)strlen(categories[i]) > longest) longest = (int)strlen(categories[i]);
    /* groups wide enough for their bars and for their category label */
    int group_w = (max_series * BAR_W > CHAR_W * longest ? max_series * BAR_W : CHAR_W * longest) + GROUP_GAP;
    int width = LEFT + RIGHT + n_categories * group_w;
    int title_w = LEFT + RIGHT + CHAR_W * (int)strlen(title ? title : "");
    if (width < title_w) width = title_w;
    if (width < LEFT + RIGHT + legend) width = LEFT + RIGHT + legend;
    int height = TOP + n_panels * (PANEL_H + PANEL_GAP);
    dg_atomic_file af;
    DG_TRY(dg_atomic_open(&af, path));
    FILE *f = af.fp;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            width, height, width, height);
    text(f, LEFT, 20, 13, "start", title);
    for (int k = 0; k < n_panels; k++)
        panel(f, &panels[k], categories, n_categories, group_w, TOP + 30 + k * (PANEL_H + PANEL_GAP), width);
    fputs("</svg>\n", f);
    return dg_atomic_commit(&af);
}
