"""Wan2.1 VAE decode: time and peak resident memory, diffusers (PyTorch CPU)
vs ditgen, each with and without spatial tiling, at the real VAE widths
(base_dim 96, dim_mult [1,2,4,4], num_res_blocks 2) with random weights.

Each measurement runs in its own process so its peak RSS (VmHWM) is its own.
ditgen is measured through bench/wan_vae_bench.c, built against the library:

  cmake -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target ditgen_core
  cmake --build build --target wan_vae_bench   (the script does this itself, see bench/driver.py)

  python bench/bench_wan_vae.py --frames 21 --height 60 --width 104 --threads 2

--frames 21 x 60 x 104 latents = 81 frames at 480x832. On a small CPU that
takes very long; use fewer latent frames (e.g. --frames 2) and say so.
Tiling: diffusers' defaults (256/192 pixels) = ditgen tile 32 latent cells.
Also reports max |ditgen - diffusers| of the untiled and tiled outputs.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from driver import build_driver


def peak_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    return -1.0


def make_model(folder):
    """Random real-width VAE saved (decoder side only) in the diffusers layout."""
    import torch
    from diffusers import AutoencoderKLWan
    from safetensors.torch import save_file

    torch.manual_seed(0)
    vae = AutoencoderKLWan().eval()  # class defaults = the Wan2.1 VAE
    vae.save_config(folder)
    sd = {k: v.contiguous() for k, v in vae.state_dict().items() if not k.startswith("encoder.")}
    save_file(sd, os.path.join(folder, "diffusion_pytorch_model.safetensors"), metadata={"format": "pt"})


def torch_run(folder, latents, threads, tiled, out_path):
    """Child process: decode with diffusers, print a JSON line."""
    import torch
    from diffusers import AutoencoderKLWan
    from safetensors.torch import load_file, save_file

    torch.set_num_threads(threads)
    vae = AutoencoderKLWan.from_pretrained(folder, low_cpu_mem_usage=False).eval()
    if tiled:
        vae.enable_tiling()
    z = load_file(latents)["z"][None]
    t0 = time.time()
    with torch.no_grad():
        out = vae.decode(z).sample[0]
    dt = time.time() - t0
    save_file({"out": out.contiguous()}, out_path)
    print(json.dumps({"seconds": round(dt, 2), "peak_mib": round(peak_mib())}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=21)
    ap.add_argument("--height", type=int, default=60)
    ap.add_argument("--width", type=int, default=104)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "ditgen_wan_vae_bench"))
    ap.add_argument("--only", default="torch,torch_tiled,ditgen,ditgen_tiled")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        folder, latents, tiled, out = a.child
        torch_run(folder, latents, a.threads, tiled == "1", out)
        return

    import numpy as np
    import torch
    from safetensors.torch import load_file, save_file

    os.makedirs(a.work, exist_ok=True)
    folder = os.path.join(a.work, "vae")
    if not os.path.exists(os.path.join(folder, "config.json")):
        os.makedirs(folder, exist_ok=True)
        make_model(folder)
    latents = os.path.join(a.work, f"z_{a.frames}x{a.height}x{a.width}.safetensors")
    g = torch.Generator().manual_seed(1)
    save_file({"z": torch.randn(16, a.frames, a.height, a.width, generator=g)}, latents)

    exe = build_driver("wan_vae_bench", a.build_dir)

    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
    print(f"latent 16x{a.frames}x{a.height}x{a.width} -> {1 + 4 * (a.frames - 1)} frames of "
          f"{8 * a.height}x{8 * a.width}, {a.threads} threads")
    outs = {}
    for name in a.only.split(","):
        tiled = name.endswith("tiled")
        out = os.path.join(a.work, name + ".out")
        if name.startswith("torch"):
            cmd = [sys.executable, __file__, "--threads", str(a.threads), "--child", folder, latents,
                   "1" if tiled else "0", out]
        else:
            cmd = [exe, folder, latents, str(a.threads), "32" if tiled else "0", out]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode:
            print(f"{name:14s} FAILED: {r.stderr.strip()[-400:]}")
            continue
        line = r.stdout.strip().splitlines()[-1]
        vals = json.loads(line) if line.startswith("{") else dict(kv.split("=") for kv in line.split())
        print(f"{name:14s} {float(vals['seconds']):9.1f} s   peak RSS {float(vals['peak_mib']):8.0f} MiB")
        outs[name] = out

    def load(name):
        if name.startswith("torch"):
            return load_file(outs[name])["out"].numpy().ravel()
        return np.fromfile(outs[name], dtype=np.float32)

    for t, d in (("torch", "ditgen"), ("torch_tiled", "ditgen_tiled")):
        if t in outs and d in outs:
            x, y = load(t), load(d)
            print(f"max |{d} - {t}| = {float(np.abs(x - y).max()):.3g} (max |ref| {float(np.abs(x).max()):.3g})")


if __name__ == "__main__":
    main()
