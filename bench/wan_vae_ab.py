"""A/B of two wan_vae_bench builds (e.g. a base commit and the working tree) on
the same decode, alternating runs: median wall seconds (as the driver prints
them) and median CPU seconds of the child (user + sys, less disturbed when
other jobs share the cores), and whether the frames are bit-identical.
Needs no PyTorch: a real-width Wan2.1 VAE decoder (base_dim 96, dim_mult
[1,2,4,4], 2 res blocks) with random weights and random latents are written
with the standard library. Example (base built from `git archive BASE`):

  python bench/wan_vae_ab.py /tmp/vae-base/build/wan_vae_bench build/wan_vae_bench \
      --work /tmp/vaebench --latent 2 16 26 --threads 2 --tile 0 --reps 5
"""
import argparse
import array
import json
import os
import random
import resource
import statistics
import struct
import subprocess


def write_safetensors(path, tensors):
    """tensors: (name, shape, values(n) -> array('f'))."""
    header, off = {}, 0
    for name, shape, _ in tensors:
        n = 1
        for s in shape:
            n *= s
        header[name] = dict(dtype="F32", shape=shape, data_offsets=[off, off + 4 * n])
        off += 4 * n
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _, shape, values in tensors:
            n = 1
            for s in shape:
                n *= s
            f.write(values(n).tobytes())


def make_model(folder, config_template):
    """The decoder tensors bind_all() expects, uniform weights scaled by 1/sqrt(fan-in), gammas 1."""
    os.makedirs(folder, exist_ok=True)
    with open(config_template) as f:
        cfg = json.load(f)
    cfg.update(base_dim=96, dim_mult=[1, 2, 4, 4], num_res_blocks=2, temperal_downsample=[False, True, True])
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    rng = random.Random(0)
    pool = array.array("f", [rng.uniform(-1, 1) for _ in range(1 << 20)])

    def scaled(scale):
        def values(n):
            out, block = array.array("f"), array.array("f", [v * scale for v in pool])
            while len(out) < n:
                out.extend(block[: n - len(out)])
            return out
        return values

    ones = lambda n: array.array("f", [1.0] * n)
    t = []

    def conv(p, cin, cout, kt, k):
        t.append((p + ".weight", [cout, cin, kt, k, k] if kt else [cout, cin, k, k], scaled((cin * max(kt, 1) * k * k) ** -0.5)))
        t.append((p + ".bias", [cout], scaled(0.01)))

    def gamma(p, c, nd):
        t.append((p + ".gamma", [c] + [1] * (nd - 1), ones))

    def res(p, cin, cout):
        gamma(p + ".norm1", cin, 4)
        conv(p + ".conv1", cin, cout, 3, 3)
        gamma(p + ".norm2", cout, 4)
        conv(p + ".conv2", cout, cout, 3, 3)
        if cin != cout:
            conv(p + ".conv_shortcut", cin, cout, 1, 1)

    d = [384, 384, 384, 192, 96]
    conv("post_quant_conv", 16, 16, 1, 1)
    conv("decoder.conv_in", 16, 384, 3, 3)
    res("decoder.mid_block.resnets.0", 384, 384)
    gamma("decoder.mid_block.attentions.0.norm", 384, 3)
    conv("decoder.mid_block.attentions.0.to_qkv", 384, 1152, 0, 1)
    conv("decoder.mid_block.attentions.0.proj", 384, 384, 0, 1)
    res("decoder.mid_block.resnets.1", 384, 384)
    for i, temporal in enumerate([True, True, False, None]):
        cur, out = (d[i] // 2 if i else d[i]), d[i + 1]
        for r in range(3):
            res(f"decoder.up_blocks.{i}.resnets.{r}", cur, out)
            cur = out
        if temporal is None:
            continue
        conv(f"decoder.up_blocks.{i}.upsamplers.0.resample.1", out, out // 2, 0, 3)
        if temporal:
            conv(f"decoder.up_blocks.{i}.upsamplers.0.time_conv", out, 2 * out, 3, 1)
    gamma("decoder.norm_out", 96, 4)
    conv("decoder.conv_out", 96, 3, 3, 3)
    write_safetensors(os.path.join(folder, "diffusion_pytorch_model.safetensors"), t)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base")
    ap.add_argument("new")
    ap.add_argument("--work", default="/tmp/vaebench")
    ap.add_argument("--latent", type=int, nargs=3, default=[2, 16, 26], metavar=("F", "H", "W"))
    ap.add_argument("--threads", default="2")
    ap.add_argument("--tile", default="0")
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    vae = os.path.join(a.work, "vae")
    if not os.path.exists(os.path.join(vae, "diffusion_pytorch_model.safetensors")):
        make_model(vae, os.path.join(here, "..", "tests", "fixtures", "wan_vae_tiny", "config.json"))
    F, h, w = a.latent
    z = os.path.join(a.work, f"z_{F}x{h}x{w}.safetensors")
    if not os.path.exists(z):
        rng = random.Random(1)
        write_safetensors(z, [("z", [16, F, h, w], lambda n: array.array("f", [rng.uniform(-1, 1) for _ in range(n)]))])
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    runs = {"base": a.base, "new": a.new}
    wall, cpu = {k: [] for k in runs}, {k: [] for k in runs}
    for r in range(a.reps):
        for k, exe in runs.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run([exe, vae, z, a.threads, a.tile, os.path.join(a.work, f"{k}.f32")],
                                 capture_output=True, text=True, env=env, check=True).stdout
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall[k].append(float(out.split()[0].split("=")[1]))
            cpu[k].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            print(f"{k} rep {r}: wall {wall[k][-1]:.2f} s, cpu {cpu[k][-1]:.2f} s, load {os.getloadavg()[0]:.1f}",
                  flush=True)
    for k in runs:
        print(f"{k}: median wall {statistics.median(wall[k]):.2f} s, median cpu {statistics.median(cpu[k]):.2f} s")
    print(f"new/base: wall {statistics.median(wall['new']) / statistics.median(wall['base']):.3f}, "
          f"cpu {statistics.median(cpu['new']) / statistics.median(cpu['base']):.3f}")
    with open(os.path.join(a.work, "base.f32"), "rb") as fb, open(os.path.join(a.work, "new.f32"), "rb") as fn:
        print("frames bit-identical" if fb.read() == fn.read() else "frames DIFFER")


if __name__ == "__main__":
    main()
