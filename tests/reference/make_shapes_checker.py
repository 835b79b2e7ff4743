"""Fixture for tests/test_shipped_quality.c: frames with the labels the Python checker
(scripts/train_tiny/check.py) gives them and the true labels of the scene, so the C port of
the checker can be held to the Python one. Half the frames are clean renders of held-out
scenes, half are degraded (noise, blur, a stray blob) so the fill ratios, ties and components
are not all trivial. Pixel values 0..255 are stored as F16 (exact).
    python tests/reference/make_shapes_checker.py
"""
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts", "train_tiny"))
from check import analyze_clip, analyze_frame  # noqa: E402
from data import COLOR_NAMES, HELDOUT, MOTIONS, POSITIONS, SHAPES, render_spec  # noqa: E402

MOTION_LABELS = MOTIONS + ["static"]


def degrade(frames, rng):
    """Gaussian noise, a 3-tap blur and a small blob of another palette colour."""
    x = frames.astype(np.float32)
    x = (x + np.roll(x, 1, axis=-2) + np.roll(x, -1, axis=-2)) / 3.0
    x += rng.normal(0, 20, x.shape)
    y, xx = rng.integers(2, 28, 2)
    x[..., y:y + 3, xx:xx + 2, :] = np.array([245, 245, 245]) if rng.random() < 0.5 else np.array([15, 15, 15])
    return np.clip(x.round(), 0, 255).astype(np.uint8)


def idx(table, v):
    return float(table.index(v)) if v is not None else -1.0


def main():
    rng = np.random.default_rng(7)
    stills, s_lab, clips, c_lab = [], [], [], []
    for i in range(24):
        sh, col, bg = HELDOUT[i % len(HELDOUT)]
        pos, size = POSITIONS[i % 5], ["small", "large"][(i // 5) % 2]
        img = render_spec(dict(kind="still", shape=sh, color=col, bg=bg, size=size, pos=pos), rng, 32, 32, 1)
        if i % 2:
            img = degrade(img, rng)
        r = analyze_frame(img[0])
        stills.append(img[0])
        s_lab.append([idx(COLOR_NAMES, col), idx(COLOR_NAMES, bg), idx(SHAPES, sh), idx(POSITIONS, pos),
                      idx(COLOR_NAMES, r["color"]), idx(COLOR_NAMES, r["bg"]), idx(SHAPES, r["shape"]),
                      idx(POSITIONS, r["pos"])])
    for i in range(12):
        sh, col, bg = HELDOUT[(3 * i + 1) % len(HELDOUT)]
        mv = MOTIONS[i % 6]
        vid = render_spec(dict(kind="motion", shape=sh, color=col, bg=bg, size="small", motion=mv), rng, 32, 32, 5)
        if i >= 6:
            vid = degrade(vid, rng)
        r = analyze_clip(vid)
        shape = max(r["frames"], key=lambda f: f["area"])["shape"] if mv in ("grow", "shrink") else r["shape"]
        clips.append(vid)
        c_lab.append([idx(COLOR_NAMES, col), idx(COLOR_NAMES, bg), idx(SHAPES, sh), idx(MOTION_LABELS, mv),
                      idx(COLOR_NAMES, r["color"]), idx(COLOR_NAMES, r["bg"]), idx(SHAPES, shape),
                      idx(MOTION_LABELS, r["motion"])])
    out = {"stills": torch.from_numpy(np.stack(stills)).half(), "stills.labels": torch.tensor(s_lab),
           "clips": torch.from_numpy(np.stack(clips)).half(), "clips.labels": torch.tensor(c_lab)}
    save_file(out, os.path.join(ROOT, "tests", "fixtures", "shapes_checker.safetensors"))
    agree = [np.mean([l[k] == l[k + 4] for l in labs]) for labs in (s_lab, c_lab) for k in range(4)]
    print("python checker vs truth (stills c/bg/shape/pos, clips c/bg/shape/motion):", np.round(agree, 2))


if __name__ == "__main__":
    main()
