/* Side-by-side comparison grids: equally sized RGB tiles, each upscaled by
 * an integer factor and captioned with a built-in 5x7 bitmap font, on a dark
 * canvas ready for the PNG or MP4 writers. */
#ifndef DG_BENCH_GRID_H
#define DG_BENCH_GRID_H

#include <stdint.h>

typedef struct dg_grid {
    int tile_w, tile_h, scale; /* source tile size; nearest-neighbour upscale */
    int n, cols, rows;
    int text_scale;            /* font pixel size: 1 (6x8 cells) or 2 for large tiles */
    int label_h, cell_w, cell_h;
    int width, height;         /* the whole canvas */
} dg_grid;

/* Lays out n tiles of tile_w x tile_h (scale >= 1) in cols columns and as
 * many rows as needed, each under its label (ASCII; '\n' starts a new line).
 * Cells widen to fit the longest label line. even rounds the canvas up to
 * even sides, as H.264 4:2:0 needs. Canvases over 32768 px a side are refused. */
int dg_grid_layout(dg_grid *g, int tile_w, int tile_h, int n, int cols, int scale, const char *const *labels,
                   int even);

/* Draws into rgb (g->width * g->height * 3 bytes) the tiles (tile_h rows of
 * tile_w*3 bytes each) and the labels given to dg_grid_layout. Characters
 * outside printable ASCII are drawn as '?'. */
void dg_grid_render(const dg_grid *g, uint8_t *rgb, const uint8_t *const *tiles, const char *const *labels);

#endif
