"""Dense attention on one GPU: PyTorch SDPA (flash and cuDNN backends, bf16
inputs) vs ditgen's CUDA flash kernel (f32 inputs converted to bf16 inside
the kernel), at Wan2.1 1.3B self-attention sizes: 32,760 tokens (21 x 30 x
52, 480p 81 frames) and 75,600 tokens (21 x 45 x 80, 720p), 12 heads x 128.

ditgen is measured through bench/cuda_attention_bench.c, built through CMake in
a build that found nvcc (bench/driver.py: cmake --build BUILD --target cuda_attention_bench):

  cmake -B build -DCMAKE_BUILD_TYPE=Release
  python bench/bench_cuda_attention.py --seq 32760 75600 --heads 12 --head-dim 128 --reps 10

Times are CUDA-event milliseconds around one call (median of --reps after a
warm-up); TFLOP/s counts 4 * N^2 * D * H. With --check (default on) the same
inputs go through both, and the max |ditgen - SDPA| relative to max |SDPA| is
reported (bf16 rounding: expect ~1e-2).
"""
import argparse
import os
import subprocess
import sys
import tempfile

from driver import build_driver

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def torch_time(q, k, v, backend, reps):
    """q, k, v: [1, H, N, D] bf16 on the GPU. Returns (median ms, output)."""
    import torch
    from torch.nn.attention import sdpa_kernel
    from torch.nn.functional import scaled_dot_product_attention as sdpa

    times = []
    with sdpa_kernel([backend]):
        out = sdpa(q, k, v)  # warm-up
        for _ in range(reps):
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            out = sdpa(q, k, v)
            e1.record()
            torch.cuda.synchronize()
            times.append(e0.elapsed_time(e1))
    times.sort()
    return times[len(times) // 2], out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq", type=int, nargs="+", default=[32760, 75600])
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--no-check", action="store_true", help="skip the output comparison")
    a = ap.parse_args()
    a.exe = build_driver("cuda_attention_bench", a.build_dir)

    import numpy as np
    import torch
    from torch.nn.attention import SDPBackend

    H, D = a.heads, a.head_dim
    print(f"GPU: {torch.cuda.get_device_name()}  torch {torch.__version__}")
    print(f"{'tokens':>8} {'impl':<16} {'ms':>9} {'TFLOP/s':>8}  max_rel_err")
    for n in a.seq:
        flop = 4.0 * n * n * D * H
        g = torch.Generator(device="cuda").manual_seed(0)
        qkv = torch.rand(3, n, H * D, device="cuda", generator=g) * 2 - 1  # tokens-major, f32
        heads = [t.view(n, H, D).permute(1, 0, 2).unsqueeze(0).to(torch.bfloat16) for t in qkv]
        ref = None
        for name, be in [("sdpa-flash", SDPBackend.FLASH_ATTENTION), ("sdpa-cudnn", SDPBackend.CUDNN_ATTENTION)]:
            try:
                ms, out = torch_time(*heads, be, a.reps)
            except RuntimeError as e:
                print(f"{n:>8} {name:<16} unavailable: {str(e).splitlines()[0]}")
                continue
            if ref is None:
                ref = out[0].permute(1, 0, 2).reshape(n, H * D).float()
            print(f"{n:>8} {name:<16} {ms:>9.3f} {flop / ms / 1e9:>8.1f}")
        with tempfile.TemporaryDirectory() as tmp:
            inp, outp = os.path.join(tmp, "qkv.f32"), os.path.join(tmp, "out.f32")
            check = not a.no_check and ref is not None
            if check:
                qkv.cpu().numpy().astype(np.float32).tofile(inp)
            del qkv, heads
            torch.cuda.empty_cache()
            cmd = [a.exe, str(n), str(n), str(H), str(D), str(a.reps)] + ([inp, outp] if check else [])
            line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
            kv = dict(f.split("=") for f in line.split())
            err = ""
            if check:
                got = torch.from_numpy(np.fromfile(outp, dtype=np.float32)).cuda().view(n, H * D)
                err = f"{((got - ref).abs().max() / ref.abs().max()).item():.3e}"
            print(f"{n:>8} {'ditgen-cuda':<16} {float(kv['median_ms']):>9.3f} {float(kv['tflops']):>8.1f}  {err}")


if __name__ == "__main__":
    main()
