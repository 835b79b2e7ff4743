"""HeadHunter-style search (guidance-and-clip-parallel.md A5) for the shipped model, with the
automatic checker as the objective: which self-attention heads, perturbed toward identity in a
third pass (ditgen --pag-heads), make the shapes and motions come out right more often?

The search never sees the evaluation prompts: it scores prompts built the same way as
heldout.json's, but over (shape, colour, background) combinations that training did show.
Generation goes through `ditgen batch` (one model load per candidate); check.py scores the PNGs.

  python scripts/train_tiny/headhunt.py --ditgen build/ditgen --rounds 2 --k 1 --scale 2 --u 1
"""
import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check import analyze_clip, analyze_frame, fmt, score  # noqa: E402
from data import COLOR_NAMES, HELDOUT_SET, MOTION_PHRASE, POS_PHRASE, SHAPES  # noqa: E402


def search_prompts(n_combos, seed):
    """Eval-style prompts over training combinations: 3 stills and 3 clips each."""
    rng = np.random.default_rng(seed)
    combos = [(s, c, b) for s, c, b in itertools.product(SHAPES, COLOR_NAMES, COLOR_NAMES)
              if c != b and (s, c, b) not in HELDOUT_SET]
    out = []
    for i in rng.choice(len(combos), n_combos, replace=False):
        sh, col, bg = combos[i]
        for pos in rng.choice(["left", "right", "top", "bottom", "center"], 3, replace=False):
            out.append(dict(prompt=f"a large {col} {sh} {POS_PHRASE[pos][0]} on a {bg} background",
                            shape=sh, color=col, bg=bg, pos=str(pos), frames=1))
        for mv in rng.choice(list(MOTION_PHRASE), 3, replace=False):
            out.append(dict(prompt=f"a {col} {sh} {MOTION_PHRASE[mv][0]} on a {bg} background",
                            shape=sh, color=col, bg=bg, motion=str(mv), frames=5))
    return out


def run(ditgen, model, prompts, seeds, heads, scale, u, work):
    """Generate every prompt x seed with the given PAG heads (none: plain CFG) and score them."""
    jobs = []
    for s in range(seeds):
        for i, p in enumerate(prompts):
            job = {"prompt": p["prompt"], "seed": 1000 * s + i, "frames": p["frames"],
                   "output": os.path.join(work, f"s{s}_{i}_%d.png")}
            if heads:
                job.update({"pag-scale": scale, "pag-heads": ",".join(heads), "pag-u": u})
            jobs.append(job)
    path = os.path.join(work, "jobs.json")
    with open(path, "w") as f:
        json.dump({"model": model, "jobs": jobs}, f)
    r = subprocess.run([ditgen, "batch", path], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"ditgen batch failed: {r.stderr.strip().splitlines()[-1]}")
    items, res = [], []
    for s in range(seeds):
        for i, p in enumerate(prompts):
            frames = [np.asarray(Image.open(os.path.join(work, f"s{s}_{i}_{f}.png")).convert("RGB"))
                      for f in range(p["frames"])]
            items.append(p)
            res.append(analyze_frame(frames[0]) if p["frames"] == 1 else analyze_clip(frames))
    sc = score(items, res)
    checked = [v for v in sc.values() if v[0] is not None]
    return sum(v[0] * v[1] for v in checked) / sum(v[1] for v in checked), sc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ditgen", default=os.path.join(HERE, "..", "..", "build", "ditgen"))
    ap.add_argument("--model", default=os.path.join(HERE, "..", "..", "assets", "shapes-tiny"))
    ap.add_argument("--combos", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--k", type=int, default=1, help="heads added per round")
    ap.add_argument("--scale", type=float, default=2.0)
    ap.add_argument("--u", type=float, default=1.0)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=2)
    a = ap.parse_args()
    prompts = search_prompts(a.combos, seed=5)
    pool = [f"{l}:{h}" for l in range(a.layers) for h in range(a.heads)]
    chosen = []
    with tempfile.TemporaryDirectory() as work:
        best, sc = run(a.ditgen, a.model, prompts, a.seeds, [], a.scale, a.u, work)
        print(f"no PAG: objective {best:.3f}  {fmt(sc)}", flush=True)
        for r in range(a.rounds):
            scores = {}
            for h in pool:
                obj, sc = run(a.ditgen, a.model, prompts, a.seeds, chosen + [h], a.scale, a.u, work)
                scores[h] = obj
                print(f"round {r + 1} {','.join(chosen + [h])}: objective {obj:.3f}  {fmt(sc)}", flush=True)
            top = sorted(pool, key=lambda h: -scores[h])[:a.k]
            chosen += top
            pool = [h for h in pool if h not in top]
            print(f"round {r + 1}: chose {top}, heads now {','.join(chosen)} ({scores[top[0]]:.3f})", flush=True)


if __name__ == "__main__":
    main()
