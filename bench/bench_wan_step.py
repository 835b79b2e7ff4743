"""One Wan2.1 denoising step (one transformer forward, no CFG): ditgen vs diffusers on PyTorch,
on the CPU or one GPU.

Builds a random WanTransformer3DModel with the 1.3B widths (dim 1536, 12 heads, ffn 8960,
text_dim 4096) and --layers layers (30 = the whole 1.3B), saves it in the diffusers layout
(weights in --dtype), times diffusers' forward (warm-up + median), then `ditgen bench wan` on
the same shapes, threads and device, which also reports its memory.

    python bench/bench_wan_step.py --layers 2 --width 832 --height 480 --frames 9 --threads 2
    python bench/bench_wan_step.py --device cuda --dtype bfloat16 --layers 30 --frames 81 --reps 5

On the GPU, PyTorch runs the checkpoint's dtype end to end (bf16 activations with --dtype
bfloat16, TF32 off with float32); ditgen keeps bf16 weights and f32 activations (bf16 tensor-core
attention), so the bf16 comparison is not bit-for-bit the same arithmetic. The PyTorch peak is
torch.cuda.max_memory_allocated. Needs torch + diffusers (pip); ditgen built in --build-dir.
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
from driver import build_driver
from safetensors.torch import save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--frames", type=int, default=9)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--build-dir", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    ap.add_argument("--check", action="store_true",
                    help="also compare ditgen's output with diffusers' in --dtype and, for bf16, in float32 on the "
                         "same weights (CPU)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    model = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128,
                                  in_channels=16, out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960,
                                  num_layers=args.layers, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                  eps=1e-6).eval().to(dtype)
    dev = torch.device(args.device)
    F, h, w = (args.frames - 1) // 4 + 1, args.height // 8, args.width // 8
    x = torch.randn(1, 16, F, h, w, dtype=dtype)
    ctx = torch.randn(1, 512, 4096, dtype=dtype)
    t = torch.tensor([500])
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(os.path.join(tmp, "transformer"))
        model.to(dev)
        x, ctx, t = x.to(dev), ctx.to(dev), t.to(dev)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        with torch.no_grad():
            for i in range(1 + args.reps):
                sync()
                t0 = time.perf_counter()
                ref = model(x, t, ctx, return_dict=False)[0]
                sync()
                if i:
                    times.append(time.perf_counter() - t0)
        torch_s = statistics.median(times)
        check = None
        if args.check:
            check = {"x": x[0].float().cpu(), "context": ctx[0].float().cpu(), "t": t.float().cpu(),
                     "out": ref[0].float().cpu()}
            if args.dtype != "float32":
                with torch.no_grad():
                    model.float()
                    check["out_f32"] = model(x.float(), t, ctx.float(), return_dict=False)[0][0].cpu()
                    model.to(dtype)
        torch_mem = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None
        model.to("cpu")
        del x, ctx
        if dev.type == "cuda":
            torch.cuda.empty_cache()

        out = subprocess.run([os.path.join(args.build_dir, "ditgen"), "bench", "wan", "-m",
                              os.path.join(tmp, "transformer"), "-W", str(args.width), "-H", str(args.height),
                              "--frames", str(args.frames), "--reps", str(args.reps), "--threads", str(args.threads),
                              "--device", args.device, "--format", "json"],
                             check=True, capture_output=True, text=True).stdout
        if check is not None:
            io = os.path.join(tmp, "io.safetensors")
            save_file({k: v.contiguous() for k, v in check.items()}, io)
            exe = build_driver("wan_forward_check", args.build_dir)
            parity = json.loads(subprocess.run([exe, os.path.join(tmp, "transformer"), io, str(args.threads)],
                                               check=True, capture_output=True, text=True).stdout)
    ours = json.loads(out)
    tokens = ours["tokens"]
    mem = ""
    if torch_mem is not None:
        mem = f"; memory ditgen {ours['device_mib']:.0f} MiB in use, PyTorch peak {torch_mem:.0f} MiB allocated"
    print(f"wan step {args.width}x{args.height}x{args.frames} ({tokens} tokens, {args.layers} layers, {args.dtype}, "
          f"{args.device}, {args.threads} threads): ditgen {ours['median_s']:.3f} s, diffusers/PyTorch {torch_s:.3f} s, "
          f"ratio ditgen/pytorch {ours['median_s'] / torch_s:.2f}{mem}")
    if check is not None:
        p = parity
        line = (f"  parity (ditgen weights {p['weights']}, attention {p['attention']}): against diffusers in "
                f"{args.dtype} max abs err {p['max_abs_err']:.3g} of {p['max_abs_ref']:.3g}, rel RMS {p['rel_rms_err']:.3g}")
        if "max_abs_err_f32" in p:
            f32_err = (check["out"] - check["out_f32"]).abs().max().item()
            f32_rms = ((check["out"] - check["out_f32"]).pow(2).mean() / check["out_f32"].pow(2).mean()).sqrt().item()
            line += (f"; against diffusers in float32 max abs err {p['max_abs_err_f32']:.3g}, rel RMS "
                     f"{p['rel_rms_err_f32']:.3g} (diffusers {args.dtype} against float32: {f32_err:.3g}, "
                     f"rel RMS {f32_rms:.3g})")
        print(line)


if __name__ == "__main__":
    main()
