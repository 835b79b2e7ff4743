"""Fixture for the Wan transformer without cross_attn_norm (tests/test_wan.c).

The tiny random WanTransformer3DModel of make_wan.py with cross_attn_norm=False: diffusers
then feeds the hidden state to cross-attention as is (norm2 is an Identity). Saves the
transformer folder and the video case's output and per-block activations. Run from the
repo root:  python tests/reference/make_wan_no_cross_norm.py
Needs torch, diffusers, safetensors (not needed by CI: the outputs are committed).
"""
import os

import torch
from safetensors.torch import save_file

import make_wan


def main():
    make_wan.CONFIG["cross_attn_norm"] = False
    model = make_wan.make_model(2)
    g = torch.Generator().manual_seed(3)
    video = torch.randn(1, 16, 2, 4, 6, generator=g)
    ctx = torch.randn(1, 7, 32, generator=g)
    ctx[:, 5:] = 0
    out = {}
    make_wan.run_case(model, video, 601, ctx, "video", out)
    make_wan.save_folder(model, os.path.join(make_wan.OUT, "wan_tiny_no_cross_norm"), torch.float32)
    save_file({k: v for k, v in out.items() if "rope" not in k}, os.path.join(make_wan.OUT, "wan_tiny_no_cross_norm_io.safetensors"))


if __name__ == "__main__":
    main()
