"""Fixtures for the end-to-end denoising parity test (tests/test_pipeline.c).

Runs diffusers' WanPipeline on the tiny transformer from make_wan.py (run that
first) with precomputed prompt embeddings, a CPU generator and fixed seeds, and
saves the final latents (output_type="latent") for UniPC and flow-match Euler.
Also writes the embeddings file the README's demo command and the CLI tests use.
Run from the repo root:  python tests/reference/make_pipeline.py
"""
import os

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
from safetensors.torch import save_file

FIX = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def main():
    transformer = WanTransformer3DModel.from_pretrained(os.path.join(FIX, "wan_tiny", "transformer")).eval()
    g = torch.Generator().manual_seed(3)
    prompt = torch.randn(1, 7, 32, generator=g)
    prompt[:, 5:] = 0  # Wan zero-fills past the prompt's tokens
    negative = torch.randn(1, 7, 32, generator=g)
    negative[:, 2:] = 0
    save_file({"prompt_embeds": prompt, "negative_prompt_embeds": negative},
              os.path.join(FIX, "wan_tiny_context.safetensors"))
    save_file({"prompt_embeds": prompt}, os.path.join(FIX, "wan_tiny_context_noneg.safetensors"))

    out = {}
    cases = [
        ("unipc", UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                          num_train_timesteps=1000, flow_shift=3.0), 42, 5.0),
        ("euler", FlowMatchEulerDiscreteScheduler(shift=3.0), 7, 5.0),
        ("unipc_nocfg", UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                                num_train_timesteps=1000, flow_shift=5.0), 1234, 1.0),
    ]
    for name, scheduler, seed, cfg in cases:
        pipe = WanPipeline(tokenizer=None, text_encoder=None, transformer=transformer, vae=None, scheduler=scheduler)
        with torch.no_grad():
            lat = pipe(prompt_embeds=prompt, negative_prompt_embeds=negative if cfg > 1 else None,
                       height=48, width=64, num_frames=9, num_inference_steps=4, guidance_scale=cfg,
                       generator=torch.Generator().manual_seed(seed), output_type="latent").frames
        out[f"{name}.latents"] = lat[0].contiguous()
        out[f"{name}.seed"] = torch.tensor([float(seed)])
        out[f"{name}.cfg"] = torch.tensor([cfg])
        print(name, tuple(lat.shape), float(lat.abs().max()))
    save_file(out, os.path.join(FIX, "wan_tiny_pipeline.safetensors"))


if __name__ == "__main__":
    main()
