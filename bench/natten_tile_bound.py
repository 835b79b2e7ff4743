"""Lower bound on the work of stride-1 neighborhood attention in any tiled kernel.

A tile of queries must visit the union of its queries' windows. NATTEN windows are
shifted inward at the borders, and a window is a product of per-axis intervals, so the
union over a box of queries is the product of per-axis unions. This counts, for each
query-tile size, the best tile shape's computed pairs over the exact pairs (a kernel
that gathers exactly the union keys: no key-block rounding), and 1 / that ratio, the
best possible speedup x density.

  python bench/natten_tile_bound.py --grid 21 30 52 --kernel 7 15 25
"""
import argparse


def window(i, n, k):
    s = min(max(i - k // 2, 0), n - k)
    return s, s + k


def axis_union(lo, hi, n, k):
    iv = [window(i, n, k) for i in range(lo, hi)]
    return max(e for _, e in iv) - min(s for s, _ in iv)


def ratio(grid, kernel, tile):
    total = 0
    axes = []
    for g, k, t in zip(grid, kernel, tile):
        axes.append([(min(a + t, g) - a, axis_union(a, min(a + t, g), g, k)) for a in range(0, g, t)])
    for nt, ut in axes[0]:
        for nh, uh in axes[1]:
            for nw, uw in axes[2]:
                total += nt * nh * nw * ut * uh * uw
    n = grid[0] * grid[1] * grid[2]
    return total / (n * kernel[0] * kernel[1] * kernel[2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", type=int, nargs=3, default=[21, 30, 52])
    ap.add_argument("--kernel", type=int, nargs=3, default=[7, 15, 25])
    a = ap.parse_args()
    print("query tile | best shape | computed / exact pairs | best possible speedup x density")
    for size in (32, 64, 128, 256):
        shapes = [(x, y, size // (x * y)) for x in (1, 2, 4, 8) for y in (1, 2, 4, 8, 16, 32)
                  if size % (x * y) == 0]
        r, shape = min((ratio(a.grid, a.kernel, s), s) for s in shapes)
        print(f"{size} tokens | {'x'.join(map(str, shape))} | {r:.2f} | {1 / r:.2f}")


if __name__ == "__main__":
    main()
