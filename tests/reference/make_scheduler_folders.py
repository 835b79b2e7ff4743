"""Fixtures for tests/test_scheduler_folders.c: WanPipeline on the tiny Wan model with scheduler
options from a folder's scheduler_config.json, loaded the way diffusers loads a folder's
scheduler (Class.from_config). Writes tests/fixtures/wan_tiny_scheduler_folders.json
({"cases": [{"name", "steps", "config"}]}) and wan_tiny_scheduler_folders.safetensors
(<name>.latents, .seed, .cfg). Inputs: wan_tiny/transformer and wan_tiny_context.safetensors
(make_wan.py, make_pipeline.py). Run from the repo root:
    python tests/reference/make_scheduler_folders.py
Needs torch, diffusers, safetensors (not needed by CI: the outputs are committed).
"""
import json
import os

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
from safetensors.torch import load_file, save_file

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
CASES = [
    ("unipc_order3_bh1", 6, 5.0, 21, {"_class_name": "UniPCMultistepScheduler", "prediction_type": "flow_prediction",
                                      "use_flow_sigmas": True, "flow_shift": 4.0, "solver_order": 3,
                                      "solver_type": "bh1", "disable_corrector": [2], "final_sigmas_type": "sigma_min",
                                      "shift_terminal": 0.05}),
    ("euler_karras", 5, 4.0, 22, {"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 3.0,
                                  "use_karras_sigmas": True, "num_train_timesteps": 900}),
]


def main():
    # from_config + the weights: from_pretrained would need accelerate for this diffusers' fp32-kept modules
    tdir = os.path.join(FIX, "wan_tiny", "transformer")
    transformer = WanTransformer3DModel.from_config(json.load(open(os.path.join(tdir, "config.json")))).eval()
    transformer.load_state_dict(load_file(os.path.join(tdir, "diffusion_pytorch_model.safetensors")))
    ctx = load_file(os.path.join(FIX, "wan_tiny_context.safetensors"))
    out, listed = {}, []
    for name, steps, cfg, seed, config in CASES:
        cls = UniPCMultistepScheduler if config["_class_name"] == "UniPCMultistepScheduler" else FlowMatchEulerDiscreteScheduler
        scheduler = cls.from_config({k: v for k, v in config.items() if k != "_class_name"})
        pipe = WanPipeline(tokenizer=None, text_encoder=None, transformer=transformer, vae=None, scheduler=scheduler)
        with torch.no_grad():
            lat = pipe(prompt_embeds=ctx["prompt_embeds"], negative_prompt_embeds=ctx["negative_prompt_embeds"],
                       height=48, width=64, num_frames=9, num_inference_steps=steps, guidance_scale=cfg,
                       generator=torch.Generator().manual_seed(seed), output_type="latent").frames
        out[f"{name}.latents"] = lat[0].contiguous()
        out[f"{name}.seed"] = torch.tensor([float(seed)])
        out[f"{name}.cfg"] = torch.tensor([cfg])
        listed.append({"name": name, "steps": steps, "config": config})
    save_file(out, os.path.join(FIX, "wan_tiny_scheduler_folders.safetensors"))
    with open(os.path.join(FIX, "wan_tiny_scheduler_folders.json"), "w") as f:
        json.dump({"cases": listed}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
