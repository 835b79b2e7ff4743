"""Fixture for tests/test_wan22_ti2v.c: a Wan2.2 TI2V-5B-style folder in text-to-video mode.

Builds a tiny random folder with the TI2V-5B structure: a 48-channel WanTransformer3DModel, the
Wan2.2 VAE (AutoencoderKLWan with is_residual, patch_size 2, decoder_base_dim, 48 latent channels
with their own latents_mean/latents_std, 16x spatial / 4x temporal compression), a UniPC scheduler
with flow_shift 5 and model_index.json with "expand_timesteps": true, all at small widths. Writes
tests/fixtures/wan22_ti2v_tiny/ and tests/fixtures/wan22_ti2v_tiny.safetensors:

- vae.z / vae.out: AutoencoderKLWan.decode of a 3-latent-frame latent (the VAE alone);
- denorm.in / denorm.out: the pipeline's z / (1 / std) + mean with the 48 channels' statistics;
- unipc.latents: diffusers' WanPipeline(expand_timesteps=True) final latents (output_type="latent"),
  with the prompt embeddings of wan_tiny_context.safetensors;
- unipc.frames: the same generation decoded by the pipeline (output_type="pt", mapped back from
  [0, 1] to the VAE's [-1, 1]), [3, frames, H, W].

Run make_wan.py and make_pipeline.py first.  python tests/reference/make_wan22_ti2v.py
Needs torch, diffusers, safetensors (not needed by CI: the outputs are committed).
"""
import json
import os
import sys

import torch
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_wan import CONFIG as WAN_CONFIG, save_folder  # noqa: E402

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
ROOT = os.path.join(FIX, "wan22_ti2v_tiny")
Z = 48  # the TI2V-5B latent width
SEED, STEPS, CFG, SHIFT = 11, 4, 5.0, 5.0
HEIGHT, WIDTH, FRAMES = 32, 64, 5  # multiples of 32 pixels (16x VAE x patch 2); 2 latent frames


def perturb(module, scale):
    """Randomise every parameter so every path (gammas, biases, shortcuts) matters."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("gamma"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
            else:
                p.mul_(1.0 + scale * torch.randn_like(p))


def make_vae():
    torch.manual_seed(3)
    g = torch.Generator().manual_seed(4)
    mean = (0.3 * torch.randn(Z, generator=g)).tolist()
    std = (0.5 + torch.rand(Z, generator=g)).tolist()
    # decoder widths 8, 8, 16, 8, 4: DupUp3D shortcuts repeating 8, 16 and 2 times;
    # in/out_channels 12: RGB patchified 2x2, as the Wan2.2 folders and released diffusers have them
    vae = AutoencoderKLWan(base_dim=4, decoder_base_dim=4, z_dim=Z, dim_mult=[1, 2, 4, 2], num_res_blocks=1,
                           temperal_downsample=[False, True, True], is_residual=True, patch_size=2, in_channels=12,
                           out_channels=12, latents_mean=mean, latents_std=std, scale_factor_temporal=4,
                           scale_factor_spatial=16).eval()
    perturb(vae, 0.3)
    with torch.no_grad():
        vae.decoder.conv_out.weight.mul_(1.5)
    return vae


def make_transformer():
    torch.manual_seed(5)
    model = WanTransformer3DModel(**dict(WAN_CONFIG, in_channels=Z, out_channels=Z)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * (0.3 if p.ndim > 1 else 0.5))
    return model


def main():
    vae, model = make_vae(), make_transformer()
    os.makedirs(ROOT, exist_ok=True)
    save_folder(model, ROOT, torch.float32)
    vae.save_pretrained(os.path.join(ROOT, "vae"), safe_serialization=True)
    # ditgen only decodes: drop the encoder side to keep the fixture small
    sd = {k: v.contiguous() for k, v in vae.state_dict().items() if not k.startswith(("encoder.", "quant_conv."))}
    save_file(sd, os.path.join(ROOT, "vae", "diffusion_pytorch_model.safetensors"), metadata={"format": "pt"})
    unipc = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000,
                                    flow_shift=SHIFT)
    unipc.save_config(os.path.join(ROOT, "scheduler"))
    with open(os.path.join(ROOT, "model_index.json"), "w") as f:
        json.dump({"_class_name": "WanPipeline", "boundary_ratio": None, "expand_timesteps": True,
                   "scheduler": ["diffusers", "UniPCMultistepScheduler"], "text_encoder": [None, None],
                   "tokenizer": [None, None], "transformer": ["diffusers", "WanTransformer3DModel"],
                   "transformer_2": [None, None], "vae": ["diffusers", "AutoencoderKLWan"]}, f, indent=2)

    out = {}
    g = torch.Generator().manual_seed(1)
    z = torch.randn(1, Z, 3, 2, 2, generator=g)
    with torch.no_grad():
        out["vae.z"] = z[0]
        out["vae.out"] = vae.decode(z).sample[0]
    print("vae", tuple(out["vae.out"].shape), "clamped fraction", float((out["vae.out"].abs() >= 1).float().mean()))
    zn = torch.randn(1, Z, 2, 2, 3, generator=g)
    mean = torch.tensor(vae.config.latents_mean).view(1, Z, 1, 1, 1)
    inv_std = 1.0 / torch.tensor(vae.config.latents_std).view(1, Z, 1, 1, 1)
    out["denorm.in"] = zn[0]
    out["denorm.out"] = (zn / inv_std + mean)[0]

    ctx = load_file(os.path.join(FIX, "wan_tiny_context.safetensors"))
    pipe = WanPipeline(tokenizer=None, text_encoder=None, transformer=model, vae=vae, scheduler=unipc,
                       expand_timesteps=True)
    args = dict(prompt_embeds=ctx["prompt_embeds"], negative_prompt_embeds=ctx["negative_prompt_embeds"],
                height=HEIGHT, width=WIDTH, num_frames=FRAMES, num_inference_steps=STEPS, guidance_scale=CFG)
    with torch.no_grad():
        lat = pipe(**args, generator=torch.Generator().manual_seed(SEED), output_type="latent").frames
        video = pipe(**args, generator=torch.Generator().manual_seed(SEED), output_type="pt").frames
    out["unipc.latents"] = lat[0]
    out["unipc.frames"] = (video[0].permute(1, 0, 2, 3) * 2 - 1)
    out["unipc.seed"] = torch.tensor([float(SEED)])
    out["unipc.cfg"] = torch.tensor([CFG])
    print("latents", tuple(lat.shape), float(lat.abs().max()), "frames", tuple(out["unipc.frames"].shape))
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(FIX, "wan22_ti2v_tiny.safetensors"))


if __name__ == "__main__":
    main()
