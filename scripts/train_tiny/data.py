"""Procedural captioned shapes dataset (images and short clips), generated on the fly.

Everything is drawn with numpy; nothing is read from disk. Samples are uint8 arrays of shape
(frames, H, W, 3) plus a caption. A fixed set of (shape, colour, background) combinations is
held out of training (HELDOUT, also written to heldout.json) so the checker can test
generalisation to unseen combinations.
"""
import json
import os

import numpy as np

SHAPES = ["circle", "square", "triangle"]
COLORS = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 60, 220),
    "yellow": (240, 220, 30),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
COLOR_NAMES = list(COLORS)
POSITIONS = ["left", "right", "top", "bottom", "center"]
MOTIONS = ["left", "right", "up", "down", "grow", "shrink"]
SIZES = ["small", "large"]

# (shape, colour, background) combinations never shown in training (single or paired shapes).
HELDOUT = [
    ("circle", "red", "blue"),
    ("square", "green", "white"),
    ("triangle", "yellow", "black"),
    ("circle", "white", "green"),
    ("square", "blue", "yellow"),
    ("triangle", "black", "red"),
    ("circle", "yellow", "white"),
    ("square", "red", "black"),
    ("triangle", "green", "blue"),
    ("circle", "black", "yellow"),
]
HELDOUT_SET = set(HELDOUT)

SIZE_R = {"small": 5.0, "large": 8.5}  # "radius" in pixels at 32x32 (scaled with image size)


def pos_center(pos, size):
    """Centre (x, y) in [0,1] image coordinates for a named position."""
    off = 0.25 if size > 0.2 else 0.22
    return {
        "left": (off + 0.02, 0.5),
        "right": (1 - off - 0.02, 0.5),
        "top": (0.5, off + 0.02),
        "bottom": (0.5, 1 - off - 0.02),
        "center": (0.5, 0.5),
    }[pos]


def shape_mask(shape, cx, cy, r, H, W, ss=3):
    """Anti-aliased coverage mask in [0,1] (supersampled ss x ss). cx, cy, r in pixels."""
    ys = (np.arange(H * ss) + 0.5) / ss
    xs = (np.arange(W * ss) + 0.5) / ss
    X, Y = np.meshgrid(xs, ys)
    if shape == "circle":
        m = (X - cx) ** 2 + (Y - cy) ** 2 <= r * r
    elif shape == "square":
        h = r * 0.886  # same area as the circle of radius r
        m = (np.abs(X - cx) <= h) & (np.abs(Y - cy) <= h)
    elif shape == "triangle":
        # upright isoceles triangle with base 2a and height 2a inscribed around (cx, cy)
        a = r * 1.25
        top, bot = cy - a, cy + a
        t = (Y - top) / (2 * a)  # 0 at apex, 1 at base
        m = (Y >= top) & (Y <= bot) & (np.abs(X - cx) <= t * a)
    else:
        raise ValueError(shape)
    m = m.astype(np.float32).reshape(H, ss, W, ss).mean(axis=(1, 3))
    return m


def render(objs, bg, H, W):
    """objs: list of (shape, colour, cx, cy, r) in pixels. Returns uint8 (H, W, 3)."""
    img = np.empty((H, W, 3), np.float32)
    img[:] = COLORS[bg]
    for shape, col, cx, cy, r in objs:
        m = shape_mask(shape, cx, cy, r, H, W)[..., None]
        img = img * (1 - m) + np.asarray(COLORS[col], np.float32) * m
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _bg_for(rng, colours, shape_col_pairs, allow_heldout):
    for _ in range(100):
        bg = COLOR_NAMES[rng.integers(len(COLOR_NAMES))]
        if bg in colours:
            continue
        if not allow_heldout and any((s, c, bg) in HELDOUT_SET for s, c in shape_col_pairs):
            continue
        return bg
    return None


def _article(word):
    return "an" if word[0] in "aeiou" else "a"


def sample_spec(rng, frames, allow_heldout=False):
    """Random scene spec (dict) for a clip with `frames` frames (1 = still image)."""
    while True:
        if frames == 1 and rng.random() < 0.2:
            # two shapes, one left and one right (or top/bottom)
            s1, s2 = rng.choice(SHAPES, 2)
            c1, c2 = rng.choice(COLOR_NAMES, 2, replace=False)
            bg = _bg_for(rng, {c1, c2}, [(s1, c1), (s2, c2)], allow_heldout)
            if bg is None:
                continue
            axis = "h" if rng.random() < 0.7 else "v"
            return dict(kind="pair", shapes=[s1, s2], colors=[c1, c2], bg=bg, axis=axis)
        shape = SHAPES[rng.integers(3)]
        col = COLOR_NAMES[rng.integers(len(COLOR_NAMES))]
        bg = _bg_for(rng, {col}, [(shape, col)], allow_heldout)
        if bg is None:
            continue
        size = SIZES[rng.integers(2)]
        if frames > 1:
            motion = MOTIONS[rng.integers(len(MOTIONS))]
            return dict(kind="motion", shape=shape, color=col, bg=bg, size=size, motion=motion)
        pos = POSITIONS[rng.integers(len(POSITIONS))]
        return dict(kind="still", shape=shape, color=col, bg=bg, size=size, pos=pos)


def render_spec(spec, rng, H, W, frames, jitter=True):
    """Render a spec to uint8 (frames, H, W, 3)."""
    S = min(H, W) / 32.0
    j = (lambda: rng.uniform(-1.5, 1.5) * S) if jitter else (lambda: 0.0)
    out = []
    if spec["kind"] == "pair":
        r = 6.0 * S + (rng.uniform(-0.7, 0.7) if jitter else 0)
        if spec["axis"] == "h":
            p = [(0.27 * W + j(), 0.5 * H + j()), (0.73 * W + j(), 0.5 * H + j())]
        else:
            p = [(0.5 * W + j(), 0.27 * H + j()), (0.5 * W + j(), 0.73 * H + j())]
        objs = [(spec["shapes"][i], spec["colors"][i], p[i][0], p[i][1], r) for i in range(2)]
        return render(objs, spec["bg"], H, W)[None].repeat(frames, 0)
    r0 = SIZE_R[spec["size"]] * S + (rng.uniform(-0.7, 0.7) if jitter else 0)
    if spec["kind"] == "still":
        fx, fy = pos_center(spec["pos"], r0 / (32 * S))
        cx, cy = fx * W + j(), fy * H + j()
        img = render([(spec["shape"], spec["color"], cx, cy, r0)], spec["bg"], H, W)
        return img[None].repeat(frames, 0)
    # motion clip
    m = spec["motion"]
    step = 3.0 * S * (4.0 / max(frames - 1, 1))  # total travel 12 px at 32x32
    cx0, cy0 = 0.5 * W + j(), 0.5 * H + j()
    for f in range(frames):
        u = f - (frames - 1) / 2.0
        cx, cy, r = cx0, cy0, r0
        if m == "left":
            cx = cx0 - u * step
        elif m == "right":
            cx = cx0 + u * step
        elif m == "up":
            cy = cy0 - u * step
        elif m == "down":
            cy = cy0 + u * step
        else:
            lo, hi = 3.5 * S, 9.5 * S
            t = f / max(frames - 1, 1)
            r = lo + (hi - lo) * (t if m == "grow" else 1 - t)
        if m in ("left", "right", "up", "down"):
            r = 5.5 * S + (r0 - SIZE_R[spec["size"]] * S)
        out.append(render([(spec["shape"], spec["color"], cx, cy, r)], spec["bg"], H, W))
    return np.stack(out)


POS_PHRASE = {
    "left": ["on the left", "in the left", "at the left side"],
    "right": ["on the right", "in the right", "at the right side"],
    "top": ["at the top", "in the top", "near the top"],
    "bottom": ["at the bottom", "in the bottom", "near the bottom"],
    "center": ["in the center", "in the middle", "at the center"],
}
MOTION_PHRASE = {
    "left": ["moving left", "moving to the left", "sliding left"],
    "right": ["moving right", "moving to the right", "sliding right"],
    "up": ["moving up", "moving upward", "sliding up"],
    "down": ["moving down", "moving downward", "sliding down"],
    "grow": ["growing", "getting bigger", "growing larger"],
    "shrink": ["shrinking", "getting smaller", "shrinking away"],
}


def caption(spec, rng):
    pick = lambda xs: xs[rng.integers(len(xs))]
    bgp = pick(["on a {b} background", "on {b}", "{b} background", "against a {b} background"]).format(b=spec["bg"])
    if spec["kind"] == "pair":
        s1, s2 = spec["shapes"]
        c1, c2 = spec["colors"]
        w1, w2 = ("on the left", "on the right") if spec["axis"] == "h" else ("at the top", "at the bottom")
        t = pick([
            "a {c1} {s1} {w1} and a {c2} {s2} {w2}, {bgp}",
            "a {c1} {s1} {w1} and a {c2} {s2} {w2} {bgp}",
        ])
        return t.format(c1=c1, s1=s1, w1=w1, c2=c2, s2=s2, w2=w2, bgp=bgp)
    sh, col = spec["shape"], spec["color"]
    size = spec["size"] + " " if spec["kind"] == "still" and rng.random() < 0.6 else ""
    noun = f"{size}{col} {sh}"
    noun = f"{_article(noun)} {noun}"
    if spec["kind"] == "still":
        if rng.random() < 0.8:
            where = pick(POS_PHRASE[spec["pos"]])
            t = pick(["{n} {w} {bgp}", "{n} {w}, {bgp}", "{n} {bgp}, {w}"])
            return t.format(n=noun, w=where, bgp=bgp)
        return pick(["{n} {bgp}", "{n}, {bgp}"]).format(n=noun, bgp=bgp)
    mv = pick(MOTION_PHRASE[spec["motion"]])
    t = pick(["{n} {m} {bgp}", "{n} {m}, {bgp}"])
    return t.format(n=noun, m=mv, bgp=bgp)


def make_batch(rng, batch, frames, H=32, W=32, allow_heldout=False):
    """Returns (float32 array (B, 3, F, H, W) in [-1, 1], list of captions)."""
    xs, caps = [], []
    for _ in range(batch):
        spec = sample_spec(rng, frames, allow_heldout)
        vid = render_spec(spec, rng, H, W, frames)
        xs.append(vid)
        caps.append(caption(spec, rng))
    x = np.stack(xs).astype(np.float32) / 127.5 - 1.0  # B F H W C
    return x.transpose(0, 4, 1, 2, 3).copy(), caps


def all_caption_corpus(n, seed=0):
    rng = np.random.default_rng(seed)
    caps = []
    for i in range(n):
        frames = 1 if i % 2 == 0 else 5
        spec = sample_spec(rng, frames, allow_heldout=True)
        caps.append(caption(spec, rng))
    return caps


def heldout_prompts():
    """Evaluation prompts over held-out combos: list of dicts (prompt + expected attributes)."""
    out = []
    for sh, col, bg in HELDOUT:
        for pos in ["left", "right", "center"]:
            out.append(dict(prompt=f"a large {col} {sh} {POS_PHRASE[pos][0]} on a {bg} background",
                            shape=sh, color=col, bg=bg, pos=pos, frames=1))
        for mv in ["left", "down", "grow"]:
            out.append(dict(prompt=f"a {col} {sh} {MOTION_PHRASE[mv][0]} on a {bg} background",
                            shape=sh, color=col, bg=bg, motion=mv, frames=5))
    return out


def write_heldout(path):
    with open(path, "w") as f:
        json.dump({"heldout_combos": [dict(shape=s, color=c, background=b) for s, c, b in HELDOUT],
                   "eval_prompts": heldout_prompts()}, f, indent=1)


if __name__ == "__main__":
    from PIL import Image
    here = os.path.dirname(os.path.abspath(__file__))
    write_heldout(os.path.join(here, "heldout.json"))
    rng = np.random.default_rng(0)
    tiles = []
    for fr in (1, 5):
        x, caps = make_batch(rng, 8, fr, 32, 32)
        for i in range(8):
            print(fr, caps[i])
        v = ((x + 1) * 127.5).round().clip(0, 255).astype(np.uint8).transpose(0, 2, 3, 4, 1)
        for i in range(8):
            tiles.append(np.concatenate(list(v[i]) + [np.zeros((32, 32 * (5 - fr), 3), np.uint8)] if fr == 1 else list(v[i]), axis=1))
    Image.fromarray(np.concatenate(tiles, 0)).resize((160 * 4, 32 * 16 * 4), Image.NEAREST).save("/tmp/shapes_preview.png")
