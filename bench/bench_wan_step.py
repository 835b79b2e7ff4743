"""One Wan2.1 denoising step (one transformer forward, no CFG): ditgen vs diffusers on PyTorch CPU.

Builds a random WanTransformer3DModel with the 1.3B widths (dim 1536, 12 heads, ffn 8960,
text_dim 4096) and fewer layers, saves it in the diffusers layout, times diffusers' forward
(warm-up + median), then `ditgen bench wan` on the same shapes and thread count.

    python bench/bench_wan_step.py --layers 2 --width 832 --height 480 --frames 9 --threads 2

Needs torch + diffusers (pip); ditgen built in build/.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import torch
from diffusers import WanTransformer3DModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--frames", type=int, default=9)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--ditgen", default=os.path.join(os.path.dirname(__file__), "..", "build", "ditgen"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128,
                                  in_channels=16, out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960,
                                  num_layers=args.layers, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                  eps=1e-6).eval()
    F, h, w = (args.frames - 1) // 4 + 1, args.height // 8, args.width // 8
    x = torch.randn(1, 16, F, h, w)
    ctx = torch.randn(1, 512, 4096)
    t = torch.tensor([500])
    times = []
    with torch.no_grad():
        for i in range(1 + args.reps):
            t0 = time.perf_counter()
            model(x, t, ctx, return_dict=False)
            if i:
                times.append(time.perf_counter() - t0)
    torch_s = statistics.median(times)

    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(os.path.join(tmp, "transformer"))
        out = subprocess.run([args.ditgen, "bench", "wan", "-m", os.path.join(tmp, "transformer"),
                              "-W", str(args.width), "-H", str(args.height), "--frames", str(args.frames),
                              "--reps", str(args.reps), "--threads", str(args.threads), "--format", "json"],
                             check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)
    tokens = ours["tokens"]
    print(f"wan step {args.width}x{args.height}x{args.frames} ({tokens} tokens, {args.layers} layers, "
          f"{args.threads} threads): ditgen {ours['median_s']:.3f} s, diffusers/PyTorch {torch_s:.3f} s, "
          f"ratio ditgen/pytorch {ours['median_s'] / torch_s:.2f}")


if __name__ == "__main__":
    main()
