"""Fixture for tests/test_wan_experts.c: a Wan2.2 A14B-style two-expert folder (transformer/ for
the high-noise steps, transformer_2/ for the low-noise ones, boundary_ratio in model_index.json)
run by diffusers' WanPipeline: t >= boundary_ratio * num_train_timesteps -> transformer with
guidance_scale, else transformer_2 with guidance_scale_2.

Writes tests/fixtures/wan_tiny_experts/ (transformer = wan_tiny's, transformer_2 = another random
tiny model of the same config, scheduler/, model_index.json with "_ditgen_defaults":
{"guidance_scale_2": 2.5}) and tests/fixtures/wan_tiny_experts.safetensors: the final latents
(output_type="latent") of each case, with the prompt embeddings of wan_tiny_context.safetensors.
Run make_wan.py and make_pipeline.py first.  python tests/reference/make_wan_experts.py
"""
import json
import os
import shutil
import sys

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_wan import make_model, save_folder  # noqa: E402

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
ROOT = os.path.join(FIX, "wan_tiny_experts")
BOUNDARY = 0.9
GUIDANCE_2 = 2.5


def main():
    src = os.path.join(FIX, "wan_tiny", "transformer")
    high = WanTransformer3DModel.from_config(WanTransformer3DModel.load_config(src)).eval()
    high.load_state_dict(load_file(os.path.join(src, "diffusion_pytorch_model.safetensors")))
    low = make_model(77)
    shutil.rmtree(ROOT, ignore_errors=True)
    shutil.copytree(os.path.join(FIX, "wan_tiny", "transformer"), os.path.join(ROOT, "transformer"))
    tmp = os.path.join(ROOT, "tmp")
    save_folder(low, tmp, torch.float32)
    os.rename(os.path.join(tmp, "transformer"), os.path.join(ROOT, "transformer_2"))
    os.rmdir(tmp)
    unipc = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000,
                                    flow_shift=3.0)
    unipc.save_config(os.path.join(ROOT, "scheduler"))
    with open(os.path.join(ROOT, "model_index.json"), "w") as f:
        json.dump({"_class_name": "WanPipeline", "boundary_ratio": BOUNDARY, "expand_timesteps": False,
                   "scheduler": ["diffusers", "UniPCMultistepScheduler"], "text_encoder": [None, None],
                   "tokenizer": [None, None], "transformer": ["diffusers", "WanTransformer3DModel"],
                   "transformer_2": ["diffusers", "WanTransformer3DModel"], "vae": [None, None],
                   "_ditgen_defaults": {"guidance_scale_2": GUIDANCE_2}}, f, indent=2)

    ctx = load_file(os.path.join(FIX, "wan_tiny_context.safetensors"))
    out = {}
    # (name, scheduler, seed, guidance_scale, guidance_scale_2 passed to diffusers)
    cases = [("unipc", unipc, 42, 5.0, GUIDANCE_2),
             ("euler", FlowMatchEulerDiscreteScheduler(shift=3.0, num_train_timesteps=1000), 7, 4.0, GUIDANCE_2),
             ("unipc_same", unipc, 5, 3.0, 3.0)]
    for name, sched, seed, cfg, cfg2 in cases:
        pipe = WanPipeline(tokenizer=None, text_encoder=None, transformer=high, transformer_2=low, vae=None,
                           scheduler=sched, boundary_ratio=BOUNDARY)
        with torch.no_grad():
            lat = pipe(prompt_embeds=ctx["prompt_embeds"], negative_prompt_embeds=ctx["negative_prompt_embeds"],
                       height=48, width=64, num_frames=9, num_inference_steps=6, guidance_scale=cfg,
                       guidance_scale_2=cfg2, generator=torch.Generator().manual_seed(seed),
                       output_type="latent").frames
        ts = [float(t) for t in pipe.scheduler.timesteps]
        n_high = sum(t >= BOUNDARY * 1000 for t in ts)
        assert 0 < n_high < len(ts), ts  # both experts run
        out[f"{name}.latents"] = lat[0].contiguous()
        out[f"{name}.seed"] = torch.tensor([float(seed)])
        out[f"{name}.cfg"] = torch.tensor([cfg, cfg2])
        print(name, "timesteps", [round(t, 1) for t in ts], f"{n_high} high-noise steps", float(lat.abs().max()))
    save_file(out, os.path.join(FIX, "wan_tiny_experts.safetensors"))


if __name__ == "__main__":
    main()
