"""Golden outputs of the shipped model (assets/shapes-tiny) for tests/test_shipped_model.c.

Runs diffusers' own WanPipeline on the folder (pixel space: vae=None, noise passed as
`latents` = torch.randn(..., generator=manual_seed(seed)), output_type="latent") with the
folder's defaults, and stores the 8-bit frames. Rerun after retraining:
    python tests/reference/make_shapes_golden.py
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts", "train_tiny"))
from sample import wanpipeline_generate  # noqa: E402

MODEL = os.path.join(ROOT, "assets", "shapes-tiny")
CASES = [("image", "a red circle on a blue background", 1, 1),
         ("clip", "a green triangle moving right on a black background", 2, 5)]


def main():
    d = json.load(open(os.path.join(MODEL, "model_index.json")))["_ditgen_defaults"]
    shift = json.load(open(os.path.join(MODEL, "scheduler", "scheduler_config.json")))["flow_shift"]
    out = {}
    for name, prompt, seed, frames in CASES:
        x = wanpipeline_generate(MODEL, prompt, seed, height=d["height"], width=d["width"], frames=frames,
                                 steps=d["num_inference_steps"], cfg=d["guidance_scale"], shift=shift)
        out[f"{name}.frames"] = torch.from_numpy(x[0]).float().contiguous()  # [F, H, W, 3], 0..255
        out[f"{name}.seed"] = torch.tensor([float(seed)])
    save_file(out, os.path.join(ROOT, "tests", "fixtures", "shapes_golden.safetensors"))


if __name__ == "__main__":
    main()
