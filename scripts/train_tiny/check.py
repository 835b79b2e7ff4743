"""Automatic checker for generated shapes images / clips.

analyze_frame(img) -> dict(bg, color, pos, shape, area, cx, cy, fill)
analyze_clip(frames) -> per-frame analyses + motion in {left,right,up,down,grow,shrink,static}

Background: nearest named colour to the median border pixel. Object: pixels whose nearest
named colour is not the background (and that are far enough from it); the dominant such colour
is the object colour. Position from the centroid (center if within 12% of the middle, else the
dominant axis). Shape from the fill ratio of the bounding box (square ~1, circle ~0.785,
triangle ~0.5). Motion from the first-to-last centroid displacement, or area ratio for
grow/shrink.

  python check.py --selftest            # checker accuracy on ground-truth renders
  python check.py --eval assets/shapes-tiny [--seeds 3 --steps 20 --cfg 5 --shift 2 --sampler unipc]
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from data import COLOR_NAMES, COLORS  # noqa: E402

PAL = np.array([COLORS[c] for c in COLOR_NAMES], np.float32)


def nearest(rgb):
    d = ((np.asarray(rgb, np.float32)[..., None, :] - PAL) ** 2).sum(-1)
    return d.argmin(-1)


def analyze_frame(img):
    img = np.asarray(img, np.float32)
    H, W, _ = img.shape
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    bg_rgb = np.median(border, axis=0)
    bg = int(nearest(bg_rgb))
    lab = nearest(img)  # H W
    far = np.sqrt(((img - bg_rgb) ** 2).sum(-1)) > 60
    fg = (lab != bg) & far
    res = dict(bg=COLOR_NAMES[bg], color=None, pos=None, shape=None, area=0.0, cx=None, cy=None, fill=None)
    if fg.sum() < 3:
        return res
    counts = np.bincount(lab[fg], minlength=len(COLOR_NAMES))
    col = int(counts.argmax())
    m = fg & (lab == col)
    # keep the largest 4-connected component of the dominant colour
    m = largest_component(m)
    ys, xs = np.nonzero(m)
    area = float(m.sum())
    cx, cy = xs.mean() + 0.5, ys.mean() + 0.5
    dx, dy = cx / W - 0.5, cy / H - 0.5
    if max(abs(dx), abs(dy)) < 0.12:
        pos = "center"
    elif abs(dx) >= abs(dy):
        pos = "left" if dx < 0 else "right"
    else:
        pos = "top" if dy < 0 else "bottom"
    bw, bh = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    fill = area / float(bw * bh)
    shape = "square" if fill > 0.89 else ("circle" if fill > 0.64 else "triangle")
    res.update(color=COLOR_NAMES[col], pos=pos, shape=shape, area=area, cx=cx, cy=cy, fill=fill)
    return res


def largest_component(m):
    H, W = m.shape
    seen = np.zeros_like(m)
    best = None
    best_n = 0
    for y0, x0 in zip(*np.nonzero(m)):
        if seen[y0, x0]:
            continue
        stack = [(y0, x0)]
        seen[y0, x0] = True
        comp = []
        while stack:
            y, x = stack.pop()
            comp.append((y, x))
            for yy, xx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= yy < H and 0 <= xx < W and m[yy, xx] and not seen[yy, xx]:
                    seen[yy, xx] = True
                    stack.append((yy, xx))
        if len(comp) > best_n:
            best_n, best = len(comp), comp
    out = np.zeros_like(m)
    for y, x in best:
        out[y, x] = True
    return out


def analyze_clip(frames):
    fr = [analyze_frame(f) for f in frames]
    a, b = fr[0], fr[-1]
    motion = None
    if a["color"] is not None and b["color"] is not None:
        H, W = np.asarray(frames[0]).shape[:2]
        ratio = b["area"] / max(a["area"], 1.0)
        dx, dy = (b["cx"] - a["cx"]) / W, (b["cy"] - a["cy"]) / H
        if ratio > 1.6:
            motion = "grow"
        elif ratio < 1 / 1.6:
            motion = "shrink"
        elif max(abs(dx), abs(dy)) < 0.1:
            motion = "static"
        elif abs(dx) >= abs(dy):
            motion = "left" if dx < 0 else "right"
        else:
            motion = "up" if dy < 0 else "down"
    # clip-level colour/shape: majority over frames
    def maj(k):
        vals = [f[k] for f in fr if f[k] is not None]
        return max(set(vals), key=vals.count) if vals else None
    return dict(frames=fr, motion=motion, color=maj("color"), shape=maj("shape"), bg=maj("bg"))


def score(items, results):
    """items: eval prompt dicts; results: analyses (frame dict or clip dict)."""
    keys = ["color", "bg", "shape", "pos", "motion"]
    tot = {k: [0, 0] for k in keys}
    for it, r in zip(items, results):
        for k in keys:
            exp = it.get(k)
            if exp is None:
                continue
            got = r.get(k)
            if k == "shape" and it.get("motion") in ("grow", "shrink") and "frames" in r:
                # judge shape on the largest frame
                got = max(r["frames"], key=lambda f: f["area"])["shape"]
            tot[k][0] += int(got == exp)
            tot[k][1] += 1
    return {k: (v[0] / v[1] if v[1] else None, v[1]) for k, v in tot.items()}


def selftest():
    from data import HELDOUT, render_spec
    rng = np.random.default_rng(1)
    items, res = [], []
    for sh, col, bg in HELDOUT:
        for pos in ["left", "right", "top", "bottom", "center"]:
            for size in ["small", "large"]:
                spec = dict(kind="still", shape=sh, color=col, bg=bg, size=size, pos=pos)
                items.append(dict(shape=sh, color=col, bg=bg, pos=pos))
                res.append(analyze_frame(render_spec(spec, rng, 32, 32, 1)[0]))
        for mv in ["left", "right", "up", "down", "grow", "shrink"]:
            spec = dict(kind="motion", shape=sh, color=col, bg=bg, size="small", motion=mv)
            items.append(dict(shape=sh, color=col, bg=bg, motion=mv))
            res.append(analyze_clip(render_spec(spec, rng, 32, 32, 5)))
    print("checker self-test on ground-truth renders:", fmt(score(items, res)))


def fmt(s):
    return ", ".join(f"{k} {v[0]:.2f} (n={v[1]})" for k, v in s.items() if v[0] is not None)


def evaluate(model_dir, seeds, steps, cfg, shift, sampler, prompts=None, save_grid=None, kinds=("still", "clip")):
    import torch
    from sample import generate, load
    torch.set_num_threads(2)
    tr, te, tok = load(model_dir)
    if prompts is None:
        prompts = json.load(open(os.path.join(HERE, "heldout.json")))["eval_prompts"]
    out = {}
    grids = []
    for kind, F in (("still", 1), ("clip", 5)):
        if kind not in kinds:
            continue
        its = [p for p in prompts if p["frames"] == F]
        items, res = [], []
        for s in range(seeds):
            v = generate(tr, te, tok, [p["prompt"] for p in its], [1000 * s + i for i in range(len(its))],
                         32, 32, F, steps, cfg, shift, sampler, max_len=tok.model_max_length)
            for p, vid in zip(its, v):
                items.append(p)
                res.append(analyze_frame(vid[0]) if F == 1 else analyze_clip(vid))
            if s == 0:
                grids.append(v)
        out[kind] = score(items, res)
        print(f"[{kind}] steps={steps} cfg={cfg} shift={shift} sampler={sampler} seeds={seeds}: {fmt(out[kind])}", flush=True)
    if save_grid and grids:
        from PIL import Image
        rows = []
        for v in grids:
            for vid in v:
                row = np.concatenate(list(vid), axis=1)
                row = np.pad(row, ((0, 0), (0, 32 * 5 - row.shape[1]), (0, 0)))
                rows.append(row)
        g = np.concatenate(rows, 0)
        Image.fromarray(g).resize((g.shape[1] * 3, g.shape[0] * 3), Image.NEAREST).save(save_grid)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--eval", default=None)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cfg", type=float, default=5.0)
    ap.add_argument("--shift", type=float, default=2.0)
    ap.add_argument("--sampler", default="unipc")
    ap.add_argument("--grid", default=None)
    ap.add_argument("--kinds", default="still,clip")
    a = ap.parse_args()
    if a.selftest:
        selftest()
    if a.eval:
        evaluate(a.eval, a.seeds, a.steps, a.cfg, a.shift, a.sampler, save_grid=a.grid, kinds=a.kinds.split(","))
