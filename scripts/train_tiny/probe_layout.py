"""Where does the model put things before anything is visible?

At pure noise (s = 1) the transformer's x0 prediction, x_t - v, is its mean picture for the prompt.
Wan has no absolute position embedding (RoPE is relative), so whether it has learned where "on the
left" is, or which frame of a clip comes first, shows here: this prints the mean foreground centroid
(in pixels, 32x32 frames) for each position word and, per frame, for each motion.

  python probe_layout.py assets/shapes-tiny [--seeds 8]
"""
import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import MAX_LEN, encode_text  # noqa: E402
from sample import load  # noqa: E402

SCENES = ["a large green circle {} on a red background", "a large red square {} on a green background",
          "a large white triangle {} on a black background"]
POSITIONS = ["on the left", "on the right", "in the center", "at the top", "at the bottom"]
MOTIONS = ["moving left", "moving right", "moving down", "growing"]


@torch.no_grad()
def mean_centroids(tr, te, tok, prompts, frames, seeds):
    """Foreground centroid (cx, cy), averaged over prompts x seeds: tensors of shape [frames]."""
    t = tok(prompts, padding="max_length", max_length=MAX_LEN, truncation=True, return_tensors="pt")
    ctx = encode_text(te, t.input_ids, t.attention_mask).repeat(seeds, 1, 1)
    B = ctx.shape[0]
    noise = torch.randn((B, 3, frames, 32, 32), generator=torch.Generator().manual_seed(0))
    x0 = noise - tr(noise, torch.full((B,), 1000.0), ctx, return_dict=False)[0]
    border = x0[:, :, :, 0, :].mean(-1)[..., None, None]  # top row = background estimate
    w = ((x0 - border) ** 2).sum(1)  # B F H W: distance from the background
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    cx = (w * (xs + 0.5)).sum((2, 3)) / w.sum((2, 3))
    cy = (w * (ys + 0.5)).sum((2, 3)) / w.sum((2, 3))
    return cx.mean(0), cy.mean(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--seeds", type=int, default=8)
    a = ap.parse_args()
    torch.set_num_threads(2)
    tr, te, tok = load(a.model_dir)
    print("stills (training data: left/right at x 8.6 / 23.4, top/bottom at y 8.6 / 23.4, center 16):")
    for w in POSITIONS:
        cx, cy = mean_centroids(tr, te, tok, [s.format(w) for s in SCENES], 1, a.seeds)
        print(f"  {w:14s} x {cx[0]:5.1f}  y {cy[0]:5.1f}")
    print("clips, per frame (training data: moves of 3 px a frame around the centre, e.g. x 22 19 16 13 10):")
    for m in MOTIONS:
        cx, cy = mean_centroids(tr, te, tok, [s.format(m) for s in SCENES], 5, a.seeds)
        print(f"  {m:14s} x {' '.join(f'{v:5.1f}' for v in cx)}   y {' '.join(f'{v:5.1f}' for v in cy)}")


if __name__ == "__main__":
    main()
