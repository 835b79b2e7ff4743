"""Fixtures for tests/test_rng.c: torch.randn on a CPU generator, float32.

Every case starts from torch.Generator().manual_seed(seed). Names:
- randn_s<seed>_n<n>: one torch.randn(n).
- cont_s<seed>_n<n1>_<n2>_...: consecutive torch.randn calls on one generator,
  concatenated (checks the stream continues, including the scalar path's
  cached Box-Muller value across calls).
- slice_s<seed>_n<n>_from<a>_step<k>: torch.randn(n)[a::k], for sizes too big
  to store whole.

torch picks its kernel by CPU: these fixtures come from the AVX2 kernel (also
what AVX512 machines run); a DEFAULT (no AVX2) build gives different bits.
Run from the repo root:
    python tests/reference/make_randn.py
Needs torch and safetensors (not needed by CI: the output is committed).
"""
import os

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "randn.safetensors")

# Keep these lists in step with tests/test_rng.c.
SEEDS = [0, 42, 2**32 + 7, 123456789]
SIZES = [1, 5, 15, 16, 17, 31, 100, 1000]
# 52372: the uniform behind element 656 is exactly 0, so the radius is -0 and
# torch's "+ mean" turns the products into +0.
SINGLES = [(0, 4608), (52372, 1024)]
CONTINUATIONS = [(42, [5, 37, 3, 16, 1]), (7, [1, 1, 1, 16, 1, 3])]
SLICES = [(42, 16 * 21 * 60 * 104, 0, 1021), (3, 1000003, 1000003 - 40, 1)]


def randn(seed, sizes):
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.randn(n, generator=g, dtype=torch.float32) for n in sizes])


def main():
    assert torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"), \
        "run on a CPU where torch uses its AVX2 kernel"
    out = {}
    for seed in SEEDS:
        for n in SIZES:
            out[f"randn_s{seed}_n{n}"] = randn(seed, [n])
    for seed, n in SINGLES:
        out[f"randn_s{seed}_n{n}"] = randn(seed, [n])
    for seed, sizes in CONTINUATIONS:
        out[f"cont_s{seed}_n" + "_".join(map(str, sizes))] = randn(seed, sizes)
    for seed, n, start, step in SLICES:
        out[f"slice_s{seed}_n{n}_from{start}_step{step}"] = randn(seed, [n])[start::step].clone()
    z = out["randn_s52372_n1024"]
    assert z[656].item() == 0.0 and not torch.signbit(z[656]).item()
    save_file({k: v.contiguous() for k, v in out.items()}, OUT)
    print(f"wrote {OUT}: {len(out)} tensors, {sum(v.numel() for v in out.values())} floats")


if __name__ == "__main__":
    main()
