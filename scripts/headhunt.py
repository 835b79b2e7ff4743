"""HeadHunter head search (guidance-and-clip-parallel.md A5) for ditgen's PAG / SoftPAG guidance.

Greedy rounds: every candidate head is tried together with the heads chosen so far (ditgen
--pag-heads), each prompt x seed is generated through `ditgen batch` (one model load per candidate;
the prompts are encoded once beforehand with `ditgen encode`, so the text encoder is not reloaded),
the images are scored, and the best --per-round heads join the selection. Prints each candidate's
objective and, at the end, the --pag-heads value to use.

Objective, one of:
  --score-cmd CMD   CMD MANIFEST is run; MANIFEST is a TSV of "png path<TAB>prompt" lines and CMD
                    prints one number per line (e.g. a PickScore script); higher is better.
  (default)         the shipped shapes model's checker (scripts/train_tiny/check.py): the share of
                    colour, background, shape, position and motion checks passed, on prompts over
                    (shape, colour, background) combinations that training showed (never the
                    held-out evaluation prompts).

  python scripts/headhunt.py --model assets/shapes-tiny --rounds 1
  python scripts/headhunt.py --model Wan2.1-T2V-1.3B-Diffusers --prompts prompts.txt \
      --score-cmd "python pickscore.py" --rounds 5 --per-round 3 --pag-scale 3 -- --steps 20 -W 480 -H 320 --frames 1
Arguments after -- are `ditgen generate` flags for every generation (as batch "defaults").
Needs numpy and Pillow (no PyTorch).
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def shapes_prompts(n_combos, seed):
    """Eval-style prompts over training combinations of the shapes model: 3 stills and 3 clips each."""
    sys.path.insert(0, os.path.join(HERE, "train_tiny"))
    import itertools
    from data import COLOR_NAMES, HELDOUT_SET, MOTION_PHRASE, POS_PHRASE, SHAPES
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


def checker_objective(items, files):
    from check import analyze_clip, analyze_frame, fmt, score
    res = []
    for it, fr in zip(items, files):
        frames = [np.asarray(Image.open(f).convert("RGB")) for f in fr]
        res.append(analyze_frame(frames[0]) if len(frames) == 1 else analyze_clip(frames))
    sc = score(items, res)
    checked = [v for v in sc.values() if v[0] is not None]
    return sum(v[0] * v[1] for v in checked) / sum(v[1] for v in checked), fmt(sc)


def command_objective(cmd, items, files, work):
    manifest = os.path.join(work, "manifest.tsv")
    with open(manifest, "w") as f:
        for it, fr in zip(items, files):
            f.write(f"{fr[0]}\t{it['prompt']}\n")
    r = subprocess.run(shlex.split(cmd) + [manifest], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"--score-cmd failed ({r.returncode}): {r.stderr.strip()[-300:]}")
    scores = [float(x) for x in r.stdout.split()]
    if len(scores) != len(items):
        sys.exit(f"--score-cmd printed {len(scores)} numbers for {len(items)} images")
    return float(np.mean(scores)), f"{len(scores)} images"


class Search:
    def __init__(self, a, items, gen_flags, work):
        self.a, self.items, self.gen_flags = a, items, dict(gen_flags)
        negative = self.gen_flags.pop("negative-prompt", None)
        self.context = {}
        for p in sorted({it["prompt"] for it in items}):
            out = os.path.join(work, f"ctx{len(self.context)}.safetensors")
            cmd = [a.ditgen, "encode", "-m", a.model, "-p", p, "-o", out] + (["-n", negative] if negative else [])
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                sys.exit(f"ditgen encode failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
            self.context[p] = out

    def objective(self, heads, work):
        """Generate every prompt x seed with these PAG heads (none: plain) and score the images."""
        a, jobs, files, items = self.a, [], [], []
        for s in range(a.seeds):
            for i, it in enumerate(self.items):
                frames = it.get("frames", 1)
                out = os.path.join(work, f"s{s}_{i}_%d.png")
                job = {"context": self.context[it["prompt"]], "seed": a.seed + 1000 * s + i, "frames": frames,
                       "output": out}
                if heads:
                    job.update({"pag-scale": a.pag_scale, "pag-heads": ",".join(heads), "pag-u": a.pag_u})
                jobs.append(job)
                files.append([out % f for f in range(frames)])
                items.append(it)
        path = os.path.join(work, "jobs.json")
        with open(path, "w") as f:
            json.dump({"model": a.model, "defaults": self.gen_flags, "jobs": jobs}, f)
        r = subprocess.run([a.ditgen, "batch", path], capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"ditgen batch failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
        if a.score_cmd:
            return command_objective(a.score_cmd, items, files, work)
        return checker_objective(items, files)


def gen_defaults(flags):
    """`ditgen generate` flags after -- as batch defaults ({"steps": "20", ...})."""
    out, i = {}, 0
    short = {"-W": "width", "-H": "height", "-s": "seed", "-n": "negative-prompt"}
    while i < len(flags):
        key = short.get(flags[i], flags[i][2:] if flags[i].startswith("--") else None)
        if key is None or i + 1 >= len(flags):
            sys.exit(f"after --, give generate flags with values (got '{flags[i]}')")
        out[key] = flags[i + 1]
        i += 2
    return out


def main():
    argv = sys.argv[1:]
    gen = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ditgen", default=os.path.join(ROOT, "build", "ditgen"))
    ap.add_argument("--model", default=os.path.join(ROOT, "assets", "shapes-tiny"))
    ap.add_argument("--prompts", help="one prompt per line (needed with --score-cmd)")
    ap.add_argument("--score-cmd", help="scorer: CMD MANIFEST prints one number per image")
    ap.add_argument("--candidates", help="LAYER:HEAD list to search (default: every head of the model)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--per-round", type=int, default=1, help="heads added per round (HeadHunter's k)")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0, help="first seed")
    ap.add_argument("--pag-scale", type=float, default=2.0)
    ap.add_argument("--pag-u", type=float, default=1.0)
    ap.add_argument("--combos", type=int, default=10, help="shapes objective: training combinations to score")
    a = ap.parse_args(argv)
    if a.score_cmd:
        if not a.prompts:
            sys.exit("--score-cmd needs --prompts")
        items = [dict(prompt=line.strip()) for line in open(a.prompts) if line.strip()]
    else:
        sys.path.insert(0, os.path.join(HERE, "train_tiny"))
        items = shapes_prompts(a.combos, seed=5)
    if a.candidates:
        pool = a.candidates.split(",")
    else:
        with open(os.path.join(a.model, "transformer", "config.json")) as f:
            cfg = json.load(f)
        pool = [f"{l}:{h}" for l in range(cfg["num_layers"]) for h in range(cfg["num_attention_heads"])]
    chosen = []
    with tempfile.TemporaryDirectory() as work:
        search = Search(a, items, gen_defaults(gen), work)
        obj, note = search.objective([], work)
        print(f"no PAG: objective {obj:.4f}  {note}", flush=True)
        for r in range(a.rounds):
            scores = {}
            for h in pool:
                scores[h], note = search.objective(chosen + [h], work)
                print(f"round {r + 1} {','.join(chosen + [h])}: objective {scores[h]:.4f}  {note}", flush=True)
            top = sorted(pool, key=lambda h: -scores[h])[:a.per_round]
            chosen += top
            pool = [h for h in pool if h not in top]
            print(f"round {r + 1}: adds {','.join(top)} ({scores[top[0]]:.4f})", flush=True)
    print(f"--pag-heads {','.join(chosen)} --pag-scale {a.pag_scale:g} --pag-u {a.pag_u:g}")


if __name__ == "__main__":
    main()
