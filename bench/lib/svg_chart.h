/* Grouped bar charts as a standalone SVG file: one or more panels stacked
 * vertically over the same categories, each with its own scale. */
#ifndef DG_BENCH_SVG_CHART_H
#define DG_BENCH_SVG_CHART_H

typedef struct dg_bar_series {
    const char *name, *color; /* legend text; any SVG colour ("#4e79a7") */
    const double *values;     /* one per category; NaN or infinite: no bar, "n/a" */
} dg_bar_series;

typedef struct dg_bar_panel {
    const char *title;
    const char *unit;   /* appended to value labels ("x", "%") */
    int decimals;       /* of the value labels */
    double ref;         /* dashed reference line at this value (e.g. 1 for speedups); NaN: none */
    const dg_bar_series *series;
    int n_series;
} dg_bar_panel;

/* Writes the chart atomically to path. Bars start at zero; negative values
 * are drawn as zero-height bars with their label. Text is XML-escaped. */
int dg_svg_bar_chart(const char *path, const char *title, const char *const *categories, int n_categories,
                     const dg_bar_panel *panels, int n_panels);

#endif
